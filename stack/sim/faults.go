package sim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// A Fault makes the simulator misbehave on some of its requests, the way
// real servers and the proxies in front of them do, so that a load
// generator's error handling can be tested end to end (docs/faults.md).
// `llmload sim --fault MODE[:PARAM][@FRACTION]` adds one; see ParseFault.
type Fault struct {
	Mode FaultMode
	// Dur is the mode's duration: Retry-After, a stall, the gap of a
	// trickle; 0 for a stall means until the client leaves or the
	// simulator closes.
	Dur time.Duration
	// N is the mode's count: the batches before a reset or a stall
	// mid-stream, the length of an oversized line.
	N int
	// Fraction of the requests the fault applies to, spread evenly
	// (0.25: every fourth); 1 = all.
	Fraction float64
}

// FaultMode names a misbehaviour.
type FaultMode string

// The fault modes. Generation faults apply to POST /v1/chat/completions
// and /v1/completions (stream faults to streamed requests only); the stall
// modes of the other endpoints apply to theirs.
const (
	FaultHTTP500       FaultMode = "http500"        // 500 with an error body
	FaultHTTP429       FaultMode = "http429"        // 429 with Retry-After (:DUR, default 1s)
	FaultHTTP503       FaultMode = "http503"        // 503 with Retry-After (:DUR, default 1s)
	FaultContentType   FaultMode = "content-type"   // 200 with an HTML page instead of a stream
	FaultReset         FaultMode = "reset"          // stream :N batches (default 2), then a TCP reset
	FaultStallFirst    FaultMode = "stall-first"    // headers, then nothing for :DUR (default: for ever)
	FaultStallMid      FaultMode = "stall-mid"      // :N batches (default 2), then nothing for DUR
	FaultTrickle       FaultMode = "trickle"        // the stream one byte per :DUR (default 20ms)
	FaultMalformed     FaultMode = "malformed"      // after the first batch, an event that is not JSON
	FaultOversized     FaultMode = "oversized"      // after the first batch, one line of :N bytes (default 17 MiB)
	FaultEndless       FaultMode = "endless"        // token events without end, ignoring max_tokens
	FaultTokenizeStall FaultMode = "tokenize-stall" // POST /tokenize answers after :DUR (default: never)
	FaultModelsStall   FaultMode = "models-stall"   // GET /v1/models answers after :DUR (default: never)
)

// faultModes describes each mode's parameter: "dur", "n" or "" (none),
// and its default.
var faultModes = map[FaultMode]struct {
	param string
	dur   time.Duration
	n     int
}{
	FaultHTTP500: {}, FaultContentType: {}, FaultMalformed: {}, FaultEndless: {},
	FaultHTTP429:       {param: "dur", dur: time.Second},
	FaultHTTP503:       {param: "dur", dur: time.Second},
	FaultReset:         {param: "n", n: 2},
	FaultStallFirst:    {param: "dur"},
	FaultStallMid:      {param: "dur", n: 2},
	FaultTrickle:       {param: "dur", dur: 20 * time.Millisecond},
	FaultOversized:     {param: "n", n: 17 << 20},
	FaultTokenizeStall: {param: "dur"},
	FaultModelsStall:   {param: "dur"},
}

// maxOversized bounds an oversized line: the simulator writes it from a
// small buffer, but a typo should not make it stream gigabytes.
const maxOversized = 1 << 30

// ParseFault reads MODE[:PARAM][@FRACTION], e.g. "http503:2s@0.25",
// "reset:3", "stall-first", "oversized:20000000@0.5". PARAM is a Go
// duration or a whole number, as the mode takes; FRACTION is in (0, 1].
func ParseFault(s string) (Fault, error) {
	spec, frac, hasFrac := strings.Cut(s, "@")
	name, param, hasParam := strings.Cut(spec, ":")
	m, ok := faultModes[FaultMode(name)]
	if !ok {
		return Fault{}, fmt.Errorf("--fault %q: unknown mode %q; modes: %s", s, name, faultModeList())
	}
	f := Fault{Mode: FaultMode(name), Dur: m.dur, N: m.n, Fraction: 1}
	if hasFrac {
		v, err := strconv.ParseFloat(frac, 64)
		if err != nil || !(v > 0 && v <= 1) {
			return Fault{}, fmt.Errorf("--fault %q: the fraction after @ must be a number in (0, 1], got %q", s, frac)
		}
		f.Fraction = v
	}
	if !hasParam {
		return f, nil
	}
	switch m.param {
	case "dur":
		d, err := time.ParseDuration(param)
		if err != nil || d < 0 {
			return Fault{}, fmt.Errorf("--fault %q: %s takes a duration >= 0 such as 2s after the colon, got %q", s, name, param)
		}
		f.Dur = d
	case "n":
		n, err := strconv.Atoi(param)
		if err != nil || n < 1 || n > maxOversized {
			return Fault{}, fmt.Errorf("--fault %q: %s takes a whole number from 1 to %d after the colon, got %q", s, name, maxOversized, param)
		}
		f.N = n
	default:
		return Fault{}, fmt.Errorf("--fault %q: %s takes no parameter; write --fault %s", s, name, name)
	}
	return f, nil
}

func faultModeList() string {
	return strings.Join([]string{string(FaultHTTP500), string(FaultHTTP429), string(FaultHTTP503), string(FaultContentType),
		string(FaultReset), string(FaultStallFirst), string(FaultStallMid), string(FaultTrickle), string(FaultMalformed),
		string(FaultOversized), string(FaultEndless), string(FaultTokenizeStall), string(FaultModelsStall)}, ", ")
}

// String is the fault as --fault takes it.
func (f Fault) String() string {
	s := string(f.Mode)
	switch faultModes[f.Mode].param {
	case "dur":
		s += ":" + f.Dur.String()
	case "n":
		s += ":" + strconv.Itoa(f.N)
	}
	if f.Fraction != 1 {
		s += "@" + strconv.FormatFloat(f.Fraction, 'g', -1, 64)
	}
	return s
}

// faultFlag is the repeatable --fault flag.
type faultFlag struct{ list *[]Fault }

func (v faultFlag) String() string {
	if v.list == nil {
		return ""
	}
	parts := make([]string, len(*v.list))
	for i, f := range *v.list {
		parts[i] = f.String()
	}
	return strings.Join(parts, ",")
}

func (v faultFlag) Set(s string) error {
	f, err := ParseFault(s)
	if err != nil {
		return err
	}
	*v.list = append(*v.list, f)
	return nil
}

// faults picks the fault of each request. Safe for concurrent use.
type faults struct {
	list []Fault
	seen []atomic.Int64 // per fault: requests of its kind so far
}

func newFaults(list []Fault) *faults {
	if len(list) == 0 {
		return nil
	}
	return &faults{list: list, seen: make([]atomic.Int64, len(list))}
}

// pick returns the fault for the next request of a kind (a generation
// request when stall is empty, else the endpoint's stall mode), or nil.
// Each fault takes its fraction of the requests it can apply to, spread
// evenly; when several are due, the first listed wins.
func (fs *faults) pick(generation bool, stall FaultMode) *Fault {
	if fs == nil {
		return nil
	}
	var out *Fault
	for i := range fs.list {
		f := &fs.list[i]
		isStall := f.Mode == FaultTokenizeStall || f.Mode == FaultModelsStall
		if (generation && isStall) || (!generation && f.Mode != stall) {
			continue
		}
		n := fs.seen[i].Add(1) - 1
		if out == nil && math.Floor(float64(n+1)*f.Fraction) > math.Floor(float64(n)*f.Fraction) {
			out = f
		}
	}
	return out
}

// isStream reports whether f acts on the event stream (the request is
// admitted and its events are written through a faultStream).
func (f *Fault) isStream() bool {
	switch f.Mode {
	case FaultHTTP500, FaultHTTP429, FaultHTTP503, FaultContentType:
		return false
	}
	return true
}

// respond writes the answer of a fault that replaces the response; it
// reports false for stream faults.
func (f *Fault) respond(ctx *fasthttp.RequestCtx) bool {
	switch f.Mode {
	case FaultHTTP500:
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		ctx.SetContentType(ctJSON)
		ctx.SetBody(appendError(nil, &apiError{500, "InternalServerError", "simulated fault (--fault http500)"}))
	case FaultHTTP429, FaultHTTP503:
		status, typ := fasthttp.StatusTooManyRequests, "RateLimitError"
		if f.Mode == FaultHTTP503 {
			status, typ = fasthttp.StatusServiceUnavailable, "ServiceUnavailableError"
		}
		ctx.Response.Header.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(f.Dur.Seconds())), 10))
		ctx.SetStatusCode(status)
		ctx.SetContentType(ctJSON)
		ctx.SetBody(appendError(nil, &apiError{status, typ, "simulated fault (--fault " + string(f.Mode) + ")"}))
	case FaultContentType:
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.SetBodyString("<html><body><h1>Welcome</h1><p>simulated fault (--fault content-type): a proxy's page, not an event stream</p></body></html>\n")
	default:
		return false
	}
	return true
}

// wait blocks for d (0: until done) or until done is closed, and reports
// whether the wait ran to its end.
func wait(d time.Duration, done <-chan struct{}) bool {
	if d == 0 {
		<-done
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

// stallEndpoint delays a /tokenize or /v1/models answer under its stall
// fault, and reports false when the simulator closed meanwhile (the
// caller then answers nothing more).
func (s *Server) stallEndpoint(mode FaultMode) bool {
	f := s.faults.pick(false, mode)
	return f == nil || wait(f.Dur, s.done)
}

// faultStream writes a request's events as its stream fault says. fasthttp
// calls WriteTo on the connection's goroutine and Close when the response
// ends.
type faultStream struct {
	r    *request
	f    *Fault
	chat bool
	conn net.Conn
	done <-chan struct{}
}

var errFaultReset = errors.New("sim: connection reset (--fault reset)")

func (fs *faultStream) SupportsBodyWriteTo() bool { return true }

// Read is not used: fasthttp writes bodies that support WriteTo with it.
func (fs *faultStream) Read([]byte) (int, error) {
	return 0, errors.New("sim: a fault stream is written with WriteTo")
}

func (fs *faultStream) Close() error { return fs.r.Close() }

func (fs *faultStream) WriteTo(w io.Writer) (int64, error) {
	var total int64
	write := func(b []byte) error {
		n, err := w.Write(b)
		total += int64(n)
		return err
	}
	f, r := fs.f, fs.r
	switch f.Mode {
	case FaultStallFirst:
		if !wait(f.Dur, fs.done) {
			return total, nil
		}
	case FaultEndless:
		return total, fs.endless(write)
	}
	for batch := 0; r.next(); batch++ {
		switch {
		case f.Mode == FaultReset && batch == f.N:
			if tc, ok := fs.conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // close with RST, as a crashed peer or a proxy does
			}
			_ = fs.conn.Close()
			return total, errFaultReset
		case f.Mode == FaultStallMid && batch == f.N:
			if !wait(f.Dur, fs.done) {
				return total, nil
			}
		case f.Mode == FaultMalformed && batch == 1:
			if err := write([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}\n\n")); err != nil {
				return total, err
			}
		case f.Mode == FaultOversized && batch == 1:
			if err := fs.oversized(write); err != nil {
				return total, err
			}
		}
		if f.Mode == FaultTrickle {
			for i := range r.buf {
				if err := write(r.buf[i : i+1]); err != nil {
					return total, err
				}
				if !wait(f.Dur, fs.done) {
					return total, nil
				}
			}
			continue
		}
		if err := write(r.buf); err != nil {
			return total, err
		}
	}
	return total, nil
}

// oversized writes "data: " and f.N bytes more without a line end.
func (fs *faultStream) oversized(write func([]byte) error) error {
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 'x'
	}
	copy(chunk, "data: ")
	for left := fs.f.N; left > 0; {
		n := min(left, len(chunk))
		if err := write(chunk[:n]); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

// endless writes token events, 64 to a write, until the client leaves or
// the simulator closes: a server that ignores max_tokens.
func (fs *faultStream) endless(write func([]byte) error) error {
	var ev []byte
	ev = append(ev, fs.r.head...)
	if fs.chat {
		ev = append(ev, `{"index":0,"delta":{"content":" tok"},"logprobs":null,"finish_reason":null}]}`+"\n\n"...)
	} else {
		ev = append(ev, `{"index":0,"text":" tok","logprobs":null,"finish_reason":null,"stop_reason":null}]}`+"\n\n"...)
	}
	batch := make([]byte, 0, 64*len(ev))
	for range 64 {
		batch = append(batch, ev...)
	}
	for {
		select {
		case <-fs.done:
			return nil
		default:
		}
		if err := write(batch); err != nil {
			return err
		}
	}
}
