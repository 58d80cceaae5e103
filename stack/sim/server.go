package sim

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/llmload/llmload/engine/shared/wire"
	"github.com/llmload/llmload/stack/sim/batching"
)

// ReceiptHeader is the response header that carries when the simulator
// received a chat or completion request, in Unix nanoseconds on the
// simulator's monotonic schedule: token k of a fixed-profile stream is due
// at receipt + TTFT + k*ITL. Clients on the same host use it to tell their
// own latency from the server's.
const ReceiptHeader = wire.SimReceiptHeader

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("sim: server closed")

// shutdownGrace bounds how long Close waits for connections to wind down.
const shutdownGrace = 5 * time.Second

// Server is a simulated vLLM OpenAI-compatible server. Its methods are safe
// for concurrent use; Serve may be called for several listeners.
type Server struct {
	cfg     Config
	reg     *prometheus.Registry
	m       *metrics
	srv     *fasthttp.Server
	alarm   *alarm
	batcher *batcher // nil for the fixed profile

	t0          time.Time // origin of the monotonic clock
	done        chan struct{}
	closeOnce   sync.Once
	alarmExited chan struct{}

	mu        sync.Mutex
	closed    bool
	listeners []net.Listener

	modelJSON  []byte // the model name as a JSON string
	created    int64  // model card creation time
	idBase     uint64
	idSeq      atomic.Uint64
	fixedLive  atomic.Int64 // fixed profile: requests in flight
	modelsBody []byte
	metricsH   fasthttp.RequestHandler
	faults     *faults // nil without --fault
}

// options are test hooks.
type options struct {
	goTimers bool // use Go timers instead of a timerfd (for testing/synctest)
}

// New validates cfg and returns a server that registers its metrics in reg
// and serves them on /metrics (a nil reg gets a fresh registry; see
// Registry). New starts the simulator's clock and engine goroutines: call
// Close to stop them, whether or not Serve was called.
func New(cfg Config, reg *prometheus.Registry) (*Server, error) {
	return newServer(cfg, reg, options{})
}

func newServer(cfg Config, reg *prometheus.Registry, opt options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	modelJSON, _ := json.Marshal(cfg.Model)
	s := &Server{
		cfg:         cfg,
		reg:         reg,
		t0:          time.Now(),
		done:        make(chan struct{}),
		alarmExited: make(chan struct{}),
		modelJSON:   modelJSON,
		created:     time.Now().Unix(),
		idBase:      uint64(time.Now().UnixNano()) ^ uint64(cfg.Seed)<<1,
	}
	var err error
	if s.m, err = newMetrics(reg, &s.cfg, s.now); err != nil {
		return nil, fmt.Errorf("sim: registering metrics: %w", err)
	}
	if cfg.Profile == ProfileH100 {
		if s.batcher, err = newBatcher(s); err != nil {
			return nil, err
		}
	}
	s.modelsBody = s.renderModels()
	s.faults = newFaults(cfg.Faults)
	s.metricsH = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.srv = &fasthttp.Server{
		Handler:            s.handle,
		Name:               "llmload-sim",
		IdleTimeout:        90 * time.Second,
		MaxRequestBodySize: 64 << 20, // a 131k-token prompt is ~1 MB of JSON
		CloseOnShutdown:    true,
		Logger:             discardLogger{},
	}
	s.alarm = newAlarm(s.now, !opt.goTimers)
	go func() {
		defer close(s.alarmExited)
		s.alarm.run()
	}()
	if s.batcher != nil {
		go s.batcher.run()
	}
	return s, nil
}

type discardLogger struct{}

// Printf drops fasthttp's connection errors (clients hanging up mid-stream
// are normal under load generation).
func (discardLogger) Printf(string, ...any) {}

// Registry is the registry the server's metrics live in.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Config is the validated configuration.
func (s *Server) Config() Config { return s.cfg }

// now is the simulator's monotonic clock.
func (s *Server) now() time.Duration { return time.Since(s.t0) }

// Serve accepts connections on ln until Close. It returns nil after Close,
// ErrClosed if called after Close, or the listener's error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	return s.srv.Serve(ln)
}

// Handler is the server's request handler, for serving it with a
// fasthttp.Server of one's own. Close still stops its engine and streams.
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

// Close stops the engine and clock, ends in-flight streams (without their
// final [DONE], as a dying vLLM would), closes the listeners and waits up
// to a few seconds for connections to finish.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		lns := s.listeners
		s.mu.Unlock()
		close(s.done)
		s.alarm.close()
		<-s.alarmExited
		if s.batcher != nil {
			<-s.batcher.exited
		}
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		err = s.srv.ShutdownWithContext(ctx)
		for _, ln := range lns { // in case Serve had not registered it with fasthttp yet
			ln.Close()
		}
		if err != nil {
			err = fmt.Errorf("sim: closing connections: %w", err)
		}
	})
	return err
}

func (s *Server) closing() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

var (
	ctJSON = "application/json"
	ctSSE  = "text/event-stream; charset=utf-8"
)

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	switch string(path) {
	case "/v1/chat/completions":
		if s.method(ctx, fasthttp.MethodPost) {
			s.generate(ctx, true)
		}
	case "/v1/completions":
		if s.method(ctx, fasthttp.MethodPost) {
			s.generate(ctx, false)
		}
	case "/v1/models":
		if s.method(ctx, fasthttp.MethodGet) && s.stallEndpoint(FaultModelsStall) {
			ctx.SetContentType(ctJSON)
			ctx.SetBody(s.modelsBody)
		}
	case "/tokenize":
		if s.method(ctx, fasthttp.MethodPost) && s.stallEndpoint(FaultTokenizeStall) {
			s.tokenize(ctx)
		}
	case "/health":
		if s.method(ctx, fasthttp.MethodGet) {
			if s.closing() {
				ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			}
		}
	case "/version":
		if s.method(ctx, fasthttp.MethodGet) {
			ctx.SetContentType(ctJSON)
			ctx.SetBodyString(`{"version":"llmload-sim"}`)
		}
	case "/metrics":
		if s.method(ctx, fasthttp.MethodGet) {
			s.metricsH(ctx)
		}
	case "/debug/overruns":
		if s.method(ctx, fasthttp.MethodGet) {
			since, err := strconv.ParseInt(string(ctx.QueryArgs().Peek("since")), 10, 64)
			if err != nil && len(ctx.QueryArgs().Peek("since")) > 0 {
				s.writeError(ctx, &apiError{400, "BadRequestError", "since must be CLOCK_MONOTONIC nanoseconds, e.g. since=123456789"})
				return
			}
			ctx.SetContentType(ctJSON)
			ctx.SetBody(s.m.overrunLog.appendJSON(nil, since))
		}
	default:
		// FastAPI's answer for unknown routes.
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetContentType(ctJSON)
		ctx.SetBodyString(`{"detail":"Not Found"}`)
	}
}

func (s *Server) method(ctx *fasthttp.RequestCtx, want string) bool {
	m := string(ctx.Method())
	if m == want || (want == fasthttp.MethodGet && m == fasthttp.MethodHead) {
		return true
	}
	ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
	ctx.Response.Header.Set("Allow", want)
	ctx.SetContentType(ctJSON)
	ctx.SetBodyString(`{"detail":"Method Not Allowed"}`)
	return false
}

func (s *Server) writeError(ctx *fasthttp.RequestCtx, e *apiError) {
	ctx.SetStatusCode(e.status)
	ctx.SetContentType(ctJSON)
	ctx.SetBody(appendError(nil, e))
}

var errShuttingDown = &apiError{503, "ServiceUnavailableError", "The server is shutting down."}

func (s *Server) generate(ctx *fasthttp.RequestCtx, chat bool) {
	arrival := s.now()
	if s.closing() {
		s.writeError(ctx, errShuttingDown)
		return
	}
	body := ctx.PostBody()
	g, aerr := parseGenerate(body, chat, s.batcher != nil, &s.cfg)
	if aerr != nil {
		s.writeError(ctx, aerr)
		return
	}
	fault := s.faults.pick(true, "")
	if fault != nil && fault.respond(ctx) {
		return
	}
	id, created := s.newID(chat), time.Now().Unix()
	r := &request{
		s:       s,
		g:       g,
		out:     newAnswer(requestSeed(s.cfg.Seed, body), g, &s.cfg),
		arrival: arrival,
		wake:    make(chan struct{}, 1),
	}
	if g.stream {
		r.head = s.renderHead(r.head, id, created, chat)
	}
	s.admit(r)
	// When the request arrived on the simulator's clock, as Unix nanoseconds:
	// lets same-host tests separate their own latency from the server's.
	ctx.Response.Header.Set(ReceiptHeader, strconv.FormatInt(s.t0.Add(arrival).UnixNano(), 10))
	if g.stream {
		ctx.SetContentType(ctSSE)
		ctx.Response.ImmediateHeaderFlush = true
		if fault != nil {
			ctx.SetBodyStream(&faultStream{r: r, f: fault, chat: chat, conn: ctx.Conn(), done: s.done}, -1)
			return
		}
		ctx.SetBodyStream(r, -1)
		return
	}
	if _, _, ok := r.await(0, true); !ok {
		s.abort(r)
		s.writeError(ctx, errShuttingDown)
		return
	}
	ctx.SetContentType(ctJSON)
	ctx.SetBody(r.renderFull(id, created))
}

// admit starts producing r's tokens.
func (s *Server) admit(r *request) {
	if s.batcher == nil {
		r.firstAt = r.arrival + s.cfg.TTFT
		r.w = newWaiter()
		live := s.fixedLive.Add(1)
		s.m.running.Inc()
		s.m.power.set(busyUtilisation(int(live)))
		return
	}
	out := &r.out
	r.ereq = &batching.Request{
		Prompt:      r.g.promptIDs,
		OutputLen:   out.n,
		OutputToken: out.tokenID,
		Tag:         r,
	}
	s.batcher.submit(r)
}

// fixedTokens accounts tokens [have, n) of a fixed-profile request, as
// vLLM's engine would when it produced them.
func (s *Server) fixedTokens(r *request, have, n int) {
	if n <= have {
		return
	}
	m := s.m
	m.genTokens.Add(float64(n - have))
	k := have
	if have == 0 {
		m.promptTokens.Add(float64(r.g.promptTokens))
		m.ttft.Observe(s.cfg.TTFT.Seconds())
		k = 1
	}
	itl := s.cfg.ITL.Seconds()
	for ; k < n; k++ {
		m.itl.Observe(itl)
	}
	if n < r.out.n || !r.state.CompareAndSwap(stateLive, stateFinished) {
		return
	}
	s.fixedDone()
	m.success[r.out.finishReason()].Inc()
	e2e := r.tokenAt(n-1) - r.arrival
	m.e2e.Observe(e2e.Seconds())
	m.queue.Observe(0)
	m.inference.Observe(e2e.Seconds())
	m.prefill.Observe(s.cfg.TTFT.Seconds())
	m.decode.Observe((time.Duration(n-1) * s.cfg.ITL).Seconds())
	if n > 1 {
		m.tpot.Observe(itl)
	}
	m.promptLen.Observe(float64(r.g.promptTokens))
	m.genLen.Observe(float64(n))
	m.maxTokens.Observe(float64(r.g.maxTokens))
}

func (s *Server) fixedDone() {
	live := s.fixedLive.Add(-1)
	s.m.running.Dec()
	if live > 0 {
		s.m.power.set(busyUtilisation(int(live)))
	} else {
		s.m.power.set(0)
	}
}

// abort ends a request that has not finished: the client hung up or the
// server is closing.
func (s *Server) abort(r *request) {
	if !r.state.CompareAndSwap(stateLive, stateAborted) {
		return
	}
	if r.ereq != nil {
		if !s.closing() {
			s.batcher.abort(r) // the engine loop frees it and accounts it
		}
		return
	}
	s.fixedDone()
	s.m.success["abort"].Inc()
}

// newID returns a vLLM-style request id: a prefix and 32 hex digits.
func (s *Server) newID(chat bool) string {
	n := s.idSeq.Add(1)
	if chat {
		return "chatcmpl-" + hex32(s.idBase+n)
	}
	return "cmpl-" + hex32(s.idBase+n)
}

// hex32 is 32 hex digits (a uuid4().hex's shape) mixed from x.
func hex32(x uint64) string {
	var raw [16]byte
	a, b := splitmix64(x), splitmix64(^x)
	for i := range 8 {
		raw[i], raw[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	return hex.EncodeToString(raw[:])
}

func (s *Server) renderHead(b []byte, id string, created int64, chat bool) []byte {
	b = append(b, `data: {"id":"`...)
	b = append(b, id...)
	if chat {
		b = append(b, `","object":"chat.completion.chunk","created":`...)
	} else {
		b = append(b, `","object":"text_completion","created":`...)
	}
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = append(b, s.modelJSON...)
	return append(b, `,"choices":[`...)
}

// renderModels is /v1/models as vLLM's ModelList.
func (s *Server) renderModels() []byte {
	c := strconv.FormatInt(s.created, 10)
	var b []byte
	b = append(b, `{"object":"list","data":[{"id":`...)
	b = append(b, s.modelJSON...)
	b = append(b, `,"object":"model","created":`+c+`,"owned_by":"vllm","root":`...)
	b = append(b, s.modelJSON...)
	b = append(b, `,"parent":null,"max_model_len":`...)
	b = strconv.AppendInt(b, int64(s.cfg.MaxModelLen), 10)
	b = append(b, `,"permission":[{"id":"modelperm-`...)
	b = append(b, s.newID(false)[len("cmpl-"):]...)
	b = append(b, `","object":"model_permission","created":`+c+`,"allow_create_engine":false,"allow_sampling":true,"allow_logprobs":true,"allow_search_indices":false,"allow_view":true,"allow_fine_tuning":false,"organization":"*","group":null,"is_blocking":false}]}]}`...)
	return b
}

func (s *Server) tokenize(ctx *fasthttp.RequestCtx) {
	ids, aerr := parseTokenize(ctx.PostBody(), &s.cfg)
	if aerr != nil {
		s.writeError(ctx, aerr)
		return
	}
	b := make([]byte, 0, 64+7*len(ids))
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(len(ids)), 10)
	b = append(b, `,"max_model_len":`...)
	b = strconv.AppendInt(b, int64(s.cfg.MaxModelLen), 10)
	b = append(b, `,"tokens":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(id), 10)
	}
	b = append(b, `],"token_strs":null}`...)
	ctx.SetContentType(ctJSON)
	ctx.SetBody(b)
}
