// Package client executes streamed OpenAI-compatible requests (chat
// completions and completions) and records what happened in a
// request.Result: when the request was sent, when headers, the first token,
// every token-bearing event and the last byte arrived, how many tokens the
// server says it produced, how many bytes moved, and why it failed if it
// did.
//
//	c, err := client.New(client.Config{Epoch: start, MaxConns: concurrency,
//		Timeout: 5 * time.Minute, StallTimeout: 30 * time.Second})
//	...
//	c.Do(ctx, plan, &result) // from many goroutines at once
//	...
//	c.Close()
//
// HTTP is fasthttp (HTTP/1.1 keep-alive, one request per connection at a
// time). The pool never queues: MaxConns connections per host are allowed
// and a request that finds them all busy fails at once with class
// "connect" and a message saying to raise MaxConns, instead of silently
// waiting inside the client and hiding that wait from the measurements.
// fasthttp's pool and HTTP codec are used through a custom RoundTripper so
// that each request controls its own connection: dial is lazy and runs
// under the request's context, the stall timeout is a per-read deadline,
// and a cancelled context closes the connection at once.
//
// The response body is read with engine/load/sse and every event's JSON with a
// hand-written scanner that looks only at the fields below and does not
// allocate (see BenchmarkChunkDecode for the comparison with encoding/json):
//
//   - choices[].delta.content, .reasoning_content, .reasoning and
//     .tool_calls (chat), choices[].text (completions): an event is
//     token-bearing when any of these is non-empty. A role-only first chunk
//     is not.
//   - choices[].finish_reason: Result.FinishReason.
//   - usage.prompt_tokens and usage.completion_tokens, from a final chunk
//     with empty choices (stream_options.include_usage) or from every chunk
//     (continuous_usage_stats).
//   - a top-level "error" (or the older "object": "error" shape): the
//     request fails with class server_error.
//
// Timing: every Result instant is an offset from Config.Epoch on the
// monotonic clock. An event's time is the time of the network read that
// completed it, taken once per read. FirstToken is the first token-bearing
// event; TokenTimes holds every token-bearing event as an offset from Sent.
// With continuous usage, TokenCounts[i] is the growth of
// usage.completion_tokens since the previous chunk that carried usage (at
// least 1); tokens reported by chunks without content are not attributed.
// TokenCounts is nil when every event carried one token.
//
// Error classes: connect (dial, write, pool exhausted, connection closed
// before a response), http_status (non-2xx; ErrorMsg holds the first bytes
// of the body), timeout (Config.Timeout, send to last byte), stall (no
// byte for Config.StallTimeout, including the wait for the first byte, so
// it must exceed the longest expected queueing plus prefill), protocol
// (malformed chunk, broken stream, stream ending without "data: [DONE]"),
// server_error (error object in the stream), overrun (more token events
// than the request's cap, see Config.MaxEvents: the server ignores
// max_tokens; the connection is closed) and canceled (the context ended).
// The first failure wins; tokens received before it are kept.
//
// Connections are reused: after [DONE] the body is read to its end (for at
// most a second) and the connection goes back to the pool. A request that
// fails on a reused keep-alive connection before any response byte arrived
// (the server closed it while idle) is retried on another connection, at
// most twice; Sent keeps the first attempt's time.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/sse"
	"github.com/valyala/fasthttp"
)

// Config sets up a Client.
type Config struct {
	// Epoch is the run's start; every Result instant is time since Epoch on
	// the monotonic clock. Required.
	Epoch time.Time
	// MaxConns is the connection limit per host. It must be at least the
	// run's concurrency: the client never queues requests, so a request
	// that finds every connection busy fails with class connect.
	MaxConns int
	// Timeout bounds the whole request, from send to last byte; 0 = none.
	Timeout time.Duration
	// StallTimeout bounds the gap between received bytes (and the wait for
	// the first one); 0 = none.
	StallTimeout time.Duration
	// APIKey, when set, is sent as "Authorization: Bearer <APIKey>".
	APIKey string

	// DialTimeout bounds TCP connect plus TLS handshake; 0 = 10s. The
	// request's Timeout also applies.
	DialTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle for longer; 0 = 4s,
	// below the 5s keep-alive of uvicorn (vLLM, SGLang) so that the client
	// rather than the server closes idle connections.
	IdleTimeout time.Duration
	// TLSConfig is used for https URLs; nil means the system defaults.
	TLSConfig *tls.Config

	// MaxEvents caps the token-bearing events (and so the TokenTimes and
	// TokenCounts samples) one request may record when its plan sets no
	// max_tokens; 0 = DefaultMaxEvents. A plan with max_tokens m is capped
	// at EventCap(m) instead. A request that reaches its cap ends with
	// class overrun: a server that ignores max_tokens and streams without
	// end must not grow the client's memory without bound.
	MaxEvents int
}

// DefaultMaxEvents is Config.MaxEvents when unset: about 12 MiB of samples
// per request at most.
const DefaultMaxEvents = 1 << 20

// EventCap is the most token-bearing events a request with max_tokens
// maxTokens > 0 may receive before it is ended as an overrun: four times
// what was asked for, and at least 1024 more, so that servers that count
// tokens differently, or send a few extra events, are not cut short.
func EventCap(maxTokens int) int {
	return max(4*maxTokens, maxTokens+1024)
}

const (
	defaultDialTimeout = 10 * time.Second
	defaultIdleTimeout = 4 * time.Second
	drainTimeout       = time.Second // reading past [DONE] to the end of the body
	maxAttempts        = 3           // 1 + retries on stale keep-alive connections
	errBodyKeep        = 512         // bytes of a non-2xx body kept in ErrorMsg
	errBodyDrain       = 64 << 10    // more than this and the connection is closed instead
	maxScratchTokens   = 1 << 16     // pooled per-request buffers larger than this are dropped
)

// Client executes requests. It is safe for concurrent use by any number of
// goroutines; Close must not run concurrently with Do.
type Client struct {
	epoch  time.Time
	cfg    Config
	fc     *fasthttp.Client
	auth   []byte
	calls  sync.Pool
	closed atomic.Bool
	// streamed counts output tokens as their events arrive, requests in
	// flight included: one atomic add per token-bearing event.
	streamed atomic.Int64
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.Epoch.IsZero():
		return nil, errors.New("client: Config.Epoch is zero: set it to the run's start time")
	case cfg.MaxConns < 1:
		return nil, fmt.Errorf("client: Config.MaxConns is %d: set it to at least the run's concurrency", cfg.MaxConns)
	case cfg.MaxEvents < 0:
		return nil, fmt.Errorf("client: Config.MaxEvents is %d: it must be >= 0 (0 means %d)", cfg.MaxEvents, DefaultMaxEvents)
	case cfg.Timeout < 0 || cfg.StallTimeout < 0 || cfg.DialTimeout < 0 || cfg.IdleTimeout < 0:
		return nil, errors.New("client: Config timeouts must not be negative (0 means none or the default)")
	case strings.ContainsAny(cfg.APIKey, "\r\n"):
		return nil, errors.New("client: Config.APIKey contains a line break: check the key's source (file or environment variable)")
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = defaultIdleTimeout
	}
	if cfg.MaxEvents == 0 {
		cfg.MaxEvents = DefaultMaxEvents
	}
	c := &Client{epoch: cfg.Epoch, cfg: cfg}
	if cfg.APIKey != "" {
		c.auth = []byte("Bearer " + cfg.APIKey)
	}
	c.fc = &fasthttp.Client{
		Name:                      "llmload",
		Transport:                 transport{},
		MaxConnsPerHost:           cfg.MaxConns,
		MaxConnWaitTimeout:        0, // never queue for a connection
		ConnPoolStrategy:          fasthttp.LIFO,
		MaxIdleConnDuration:       cfg.IdleTimeout,
		MaxIdemponentCallAttempts: maxAttempts,
		// The transport asks for a retry only for a stale keep-alive
		// connection, so every request it flags may go again.
		RetryIfErr:             func(*fasthttp.Request, int, error) (bool, bool) { return false, true },
		ReadBufferSize:         16 << 10, // also the response header limit
		WriteBufferSize:        16 << 10,
		StreamResponseBody:     true,
		DisablePathNormalizing: true,
		ConfigureClient:        c.configureHost,
	}
	return c, nil
}

// configureHost gives each per-host pool our lazily dialing connections.
func (c *Client) configureHost(hc *fasthttp.HostClient) error {
	var tcfg *tls.Config
	if hc.IsTLS {
		tcfg = &tls.Config{}
		if c.cfg.TLSConfig != nil {
			tcfg = c.cfg.TLSConfig.Clone()
		}
		if tcfg.ServerName == "" {
			host, _, err := net.SplitHostPort(hc.Addr)
			if err != nil {
				return fmt.Errorf("client: TLS server name from %q: %w", hc.Addr, err)
			}
			tcfg.ServerName = host
		}
	}
	dialTimeout := c.cfg.DialTimeout
	hc.DialTimeout = func(addr string, _ time.Duration) (net.Conn, error) {
		return &conn{addr: addr, tlsConfig: tcfg, dialTimeout: dialTimeout}, nil
	}
	return nil
}

// StreamedTokens returns the output tokens received so far by every
// request of this client, counted as each token-bearing event arrives (in
// flight requests included; an event with continuous usage counts the
// tokens it carried). It is what a live view shows as the throughput being
// received; the Results' CompletionTokens can differ at the end (usage
// reported without content). Safe for concurrent use with Do.
func (c *Client) StreamedTokens() int64 { return c.streamed.Load() }

// Close closes idle connections; connections in use close when their
// request ends. Do must not be called after Close.
func (c *Client) Close() {
	c.closed.Store(true)
	c.fc.CloseIdleConnections()
}

// Do sends p and streams the response into res. It sets res.Sent and every
// field after it, and copies the plan's identity (Result.CopyPlan); the
// caller sets Scheduled, Released and Dispatched. The capacity of
// res.TokenTimes and res.TokenCounts is reused. Do returns when the
// request has ended, promptly once ctx is done (class canceled).
func (c *Client) Do(ctx context.Context, p *request.Plan, res *request.Result) {
	res.CopyPlan(p)
	res.Headers, res.FirstToken, res.LastByte, res.ServerReceived = 0, 0, 0, 0
	res.TokenTimes, res.TokenCounts = res.TokenTimes[:0], res.TokenCounts[:0]
	res.Status, res.Error, res.ErrorMsg = 0, request.OK, ""
	res.BytesSent, res.BytesRecv, res.SSEEvents = 0, 0, 0
	res.PromptTokens, res.CompletionTokens, res.UsageFromServer = 0, 0, false
	res.FinishReason, res.Truncated, res.Answer = "", false, nil

	now := time.Now()
	res.Sent = now.Sub(c.epoch)
	switch {
	case c.closed.Load():
		res.Error, res.ErrorMsg = request.ErrConnect, "client: Do called after Close"
	case ctx.Err() != nil:
		res.Error, res.ErrorMsg = request.ErrCanceled, "canceled before sending"
	}
	if res.Error != request.OK {
		res.LastByte = res.Sent
		return
	}

	cl := c.getCall()
	cl.ctx, cl.p, cl.res = ctx, p, res
	cl.maxEvents = c.cfg.MaxEvents
	if p.MaxTokens > 0 {
		cl.maxEvents = EventCap(p.MaxTokens)
	}
	if c.cfg.Timeout > 0 {
		cl.deadline = now.Add(c.cfg.Timeout)
	}
	cl.buildRequest()
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, cl.abortFn)
	}
	if err := c.fc.Do(&cl.req, &cl.resp); err != nil && res.Error == request.OK {
		// Errors the transport did not classify come from fasthttp before
		// it reached the network, such as an unusable URL.
		cl.fail(request.ErrConnect, fmt.Sprintf("sending to %q: %v", p.URL, err))
	}
	reusable := stop == nil || stop()
	cl.finish()
	if reusable {
		c.putCall(cl)
	}
	// Otherwise abort may still be running against cl: leave it to the GC.
}

func (c *Client) getCall() *call {
	if v := c.calls.Get(); v != nil {
		return v.(*call)
	}
	cl := &call{c: c, sse: sse.NewReader(nil), ebuf: make([]byte, errBodyKeep)}
	cl.abortFn = cl.abort
	return cl
}

func (c *Client) putCall(cl *call) {
	cl.req.Reset() // drops the reference to the plan's body
	cl.resp.Reset()
	cl.sse.Reset(nil)
	cl.ctx, cl.p, cl.res = nil, nil, nil
	cl.deadline = time.Time{}
	cl.canceled, cl.conn = false, nil
	cl.sent, cl.recv = 0, 0
	cl.times, cl.counts = cl.times[:0], cl.counts[:0]
	if cap(cl.times) > maxScratchTokens {
		cl.times, cl.counts = nil, nil
	}
	cl.nonUnit, cl.hasPrompt, cl.hasCompletion = false, false, false
	cl.prompt, cl.completion = 0, 0
	c.calls.Put(cl)
}

// callKey is the fasthttp user value under which a request carries its
// call, so that the transport can find it.
type callKey struct{}

// call is the state of one Do. The goroutine running Do owns it, except
// for mu-guarded fields, which abort touches from the context's goroutine.
type call struct {
	c        *Client
	ctx      context.Context
	p        *request.Plan
	res      *request.Result
	deadline time.Time
	abortFn  func()

	req  fasthttp.Request
	resp fasthttp.Response
	sse  *sse.Reader
	ebuf []byte

	answer answerCapture // reused buffers for plans with Capture

	mu       sync.Mutex
	conn     *conn
	canceled bool

	sent, recv int64

	// Token accounting, turned into Result fields by finish.
	times                    []time.Duration
	counts                   []int32
	maxEvents                int  // token events allowed before overrun
	nonUnit                  bool // some event carried more than one token
	hasPrompt, hasCompletion bool
	prompt, completion       int64
}

func (cl *call) buildRequest() {
	req, p := &cl.req, cl.p
	req.Reset()
	req.SetRequestURI(p.URL)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	if len(cl.c.auth) > 0 {
		req.Header.SetBytesV(fasthttp.HeaderAuthorization, cl.c.auth)
	}
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	req.SetBodyRaw(p.Body) // no copy: a Plan is immutable
	req.SetUserValue(callKey{}, cl)
}

// abort runs on the context's goroutine when ctx ends.
func (cl *call) abort() {
	cl.mu.Lock()
	cl.canceled = true
	cn := cl.conn
	cl.mu.Unlock()
	if cn != nil {
		cn.interrupt()
	}
}

func (cl *call) bind(cn *conn) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.canceled {
		return false
	}
	cl.conn = cn
	return true
}

// unbind detaches the connection from the call, adds up its byte counts
// and reports whether the request was cancelled (the connection may then
// be closed already and must not be reused).
func (cl *call) unbind(cn *conn) (canceled bool) {
	cl.sent += cn.nWritten
	cl.recv += cn.nRead
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.conn = nil
	return cl.canceled
}

func (cl *call) isCanceled() bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.canceled
}

// fail records the first failure of the request.
func (cl *call) fail(class request.ErrorClass, msg string) {
	if cl.res.Error == request.OK {
		cl.res.Error, cl.res.ErrorMsg = class, msg
	}
}

type phase uint8

const (
	phaseSend phase = iota
	phaseHeaders
	phaseBody
)

func (ph phase) String() string {
	switch ph {
	case phaseSend:
		return "sending the request"
	case phaseHeaders:
		return "waiting for the response headers"
	default:
		return "reading the event stream"
	}
}

// failIO classifies an I/O error seen in phase ph on cn.
func (cl *call) failIO(err error, cn *conn, ph phase) {
	cfg := &cl.c.cfg
	var de *dialError
	switch {
	case cl.isCanceled():
		cl.fail(request.ErrCanceled, "canceled while "+ph.String())
	case cn.expired == request.ErrTimeout:
		cl.fail(request.ErrTimeout, fmt.Sprintf("no complete response within the %v request timeout (while %s)", cfg.Timeout, ph))
	case cn.expired == request.ErrStall:
		cl.fail(request.ErrStall, fmt.Sprintf("nothing received for %v, the stall timeout (while %s, after %d events)", cfg.StallTimeout, ph, cl.res.SSEEvents))
	case errors.As(err, &de):
		cl.fail(request.ErrConnect, fmt.Sprintf("connecting to %s: %v", cn.addr, de.err))
	case ph == phaseSend:
		cl.fail(request.ErrConnect, fmt.Sprintf("%s: %v", ph, err))
	case ph == phaseHeaders && isNetErr(err):
		cl.fail(request.ErrConnect, fmt.Sprintf("the server closed the connection before responding: %v", err))
	case ph == phaseHeaders:
		cl.fail(request.ErrProtocol, fmt.Sprintf("malformed response headers: %v", err))
	default:
		cl.fail(request.ErrProtocol, fmt.Sprintf("the event stream broke after %d events: %v", cl.res.SSEEvents, err))
	}
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.As(err, &ne)
}

// isStale reports whether err is what a keep-alive connection the server
// closed while idle produces.
func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// transport is the fasthttp RoundTripper: it runs the whole exchange,
// body included, for the call the request carries.
type transport struct{}

func (transport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	cl, ok := req.UserValue(callKey{}).(*call)
	if !ok {
		return false, errors.New("client: request was not built by Client.Do")
	}
	return cl.roundTrip(hc, req, resp)
}

func (cl *call) roundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (retry bool, err error) {
	cc, err := hc.AcquireConn(0, false)
	if err != nil {
		if errors.Is(err, fasthttp.ErrNoFreeConns) {
			cl.fail(request.ErrConnect, fmt.Sprintf("all %d connections to %s are busy: set MaxConns to at least the run's concurrency", cl.c.cfg.MaxConns, hc.Addr))
		} else {
			cl.fail(request.ErrConnect, fmt.Sprintf("connecting to %s: %v", hc.Addr, err))
		}
		return false, err
	}
	cn, ok := cc.Conn().(*conn)
	if !ok {
		hc.CloseConn(cc)
		return false, errors.New("client: pooled connection is not the client's")
	}
	reused := cn.uses > 0
	if !cl.bind(cn) {
		hc.CloseConn(cc)
		cl.fail(request.ErrCanceled, "canceled before sending")
		return false, context.Canceled
	}
	cn.begin(cl.ctx, cl.deadline, cl.c.cfg.StallTimeout)

	bw := hc.AcquireWriter(cn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	if err != nil {
		hc.CloseConn(cc)
		return cl.abandon(cn, reused, err, phaseSend)
	}

	br := hc.AcquireReader(cn)
	resp.StreamBody = true
	if err = resp.ReadLimitBody(br, 0); err != nil {
		hc.ReleaseReader(br)
		hc.CloseConn(cc)
		return cl.abandon(cn, reused, err, phaseHeaders)
	}
	reuse := cl.stream(cn, resp)
	_ = resp.CloseBodyStream()
	hc.ReleaseReader(br)
	canceled := cl.unbind(cn)
	if reuse && !canceled && !cl.c.closed.Load() && !resp.ConnectionClose() && resp.Header.ContentLength() != -2 {
		cn.idle()
		hc.ReleaseConn(cc)
	} else {
		hc.CloseConn(cc)
	}
	return false, nil
}

// abandon handles a request that failed before a response arrived: it
// asks for a retry when a reused keep-alive connection turned out to be
// closed by the server, and records the failure otherwise. The caller
// closes the connection.
func (cl *call) abandon(cn *conn, reused bool, err error, ph phase) (bool, error) {
	stale := reused && cn.nRead == 0 && cn.expired == request.OK && isStale(err)
	if canceled := cl.unbind(cn); stale && !canceled {
		return true, err
	}
	cl.failIO(err, cn, ph)
	return false, err
}
