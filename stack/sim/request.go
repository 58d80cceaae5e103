package sim

import (
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/llmload/llmload/stack/sim/batching"
)

// Request lifecycle states.
const (
	stateLive     int32 = iota
	stateFinished       // all tokens produced and accounted
	stateAborted        // client went away or the server closed first
)

// request is one chat or completion request in flight. Its token sequence
// is a pure function of out; what changes is how many tokens exist.
//
// Concurrency: the producer (the engine loop, or the request's own goroutine
// in the fixed profile) publishes produced, then finished, then signals wake;
// the connection goroutine that owns the request reads them. Everything else
// is owned by the connection goroutine.
type request struct {
	s       *Server
	g       *genRequest
	out     output
	arrival time.Duration
	head    []byte // `data: {"id":...,"choices":[`, shared by all chunks

	produced atomic.Int64
	finished atomic.Bool
	wake     chan struct{}
	state    atomic.Int32

	firstAt time.Duration // fixed profile: deadline of token 0
	w       *waiter       // fixed profile: this request's alarm slot
	ereq    *batching.Request

	buf   []byte // rendered events not yet written
	pos   int    // Read offset in buf
	sent  int    // tokens rendered so far
	ended bool
}

// tokenAt is the fixed profile's deadline of token k.
func (r *request) tokenAt(k int) time.Duration {
	return r.firstAt + time.Duration(k)*r.s.cfg.ITL
}

// await blocks until the request has more than have tokens (or all of them
// when all is set) and returns how many exist and whether that is all. ok is
// false when the server is closing.
func (r *request) await(have int, all bool) (n int, fin, ok bool) {
	if r.ereq == nil {
		return r.awaitFixed(have, all)
	}
	for {
		fin := r.finished.Load() // before produced: finished implies the final count is visible
		n := int(r.produced.Load())
		if (n > have && !all) || fin {
			return n, fin, true
		}
		select {
		case <-r.wake:
		case <-r.s.done:
			return n, false, false
		}
	}
}

func (r *request) awaitFixed(have int, all bool) (int, bool, bool) {
	total := r.out.n
	if have >= total {
		return total, true, true
	}
	k := have
	if all {
		k = total - 1
	}
	due := r.tokenAt(k)
	now := r.s.now()
	if now < due {
		r.s.alarm.set(r.w, due)
		select {
		case <-r.w.c:
		case <-r.s.done:
			r.s.alarm.cancel(r.w)
			return have, false, false
		}
		now = r.s.now()
	}
	r.s.m.observeLag(due, now)
	if now < due {
		now = due // released within the alarm's coalescing window
	}
	n := total
	if itl := r.s.cfg.ITL; itl > 0 {
		if c := int((now-r.firstAt)/itl) + 1; c < n {
			n = c
		}
	}
	r.s.fixedTokens(r, have, n)
	return n, n == total, true
}

// next renders the next batch of events into buf and reports whether there
// is anything (more) to write.
func (r *request) next() bool {
	if r.ended {
		return false
	}
	r.buf, r.pos = r.buf[:0], 0
	n, fin, ok := r.await(r.sent, false)
	if !ok {
		r.ended = true // server closing: cut the stream without [DONE]
		return false
	}
	r.renderChunks(r.sent, n, fin)
	r.sent = n
	if fin {
		r.ended = true
	}
	return true
}

// SupportsBodyWriteTo lets fasthttp call WriteTo on the connection's own
// goroutine, each Write becoming one flushed HTTP chunk. SetBodyStreamWriter
// would run a second goroutine behind a pipe and copy every chunk.
func (r *request) SupportsBodyWriteTo() bool { return true }

// WriteTo streams the events as they become due.
func (r *request) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.next() {
		n, err := w.Write(r.buf)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Read is the same stream for readers that cannot use WriteTo.
func (r *request) Read(p []byte) (int, error) {
	for r.pos >= len(r.buf) {
		if !r.next() {
			return 0, io.EOF
		}
	}
	n := copy(p, r.buf[r.pos:])
	r.pos += n
	return n, nil
}

// Close is called by fasthttp when the response ends, normally or not; a
// request that has not finished by then is aborted.
func (r *request) Close() error {
	r.s.abort(r)
	return nil
}

func (r *request) appendUsage(b []byte, completion int, details bool) []byte {
	p := int64(r.g.promptTokens)
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, p, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, p+int64(completion), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(completion), 10)
	if details {
		b = append(b, `,"prompt_tokens_details":null`...)
	}
	return append(b, '}')
}

func (r *request) appendFinish(b []byte, last bool) []byte {
	if !last {
		return append(b, `null`...)
	}
	b = append(b, '"')
	b = append(b, r.out.apiFinishReason()...)
	return append(b, '"')
}

// renderChunks appends the SSE events for tokens [from, to) to buf, and the
// closing events when fin, in the exact shape of vLLM's serving_chat.py and
// serving_completion.py (pydantic's compact JSON, same field order).
func (r *request) renderChunks(from, to int, fin bool) {
	b := r.buf
	g := r.g
	if r.out.tools != nil {
		r.renderToolChunks(from, to, fin)
		return
	}
	if g.chat && from == 0 {
		// vLLM sends the role on its own when the first output arrives.
		b = append(b, r.head...)
		b = append(b, `{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`...)
		if g.continuousUsage {
			b = append(b, `,"usage":`...)
			b = r.appendUsage(b, 0, false)
		}
		b = append(b, "}\n\n"...)
	}
	for k := from; k < to; k++ {
		last := fin && k == r.out.n-1
		b = append(b, r.head...)
		if g.chat {
			b = append(b, `{"index":0,"delta":{"content":"`...)
			b = append(b, r.out.text(k)...)
			b = append(b, `"},"logprobs":null,"finish_reason":`...)
			b = r.appendFinish(b, last)
			if last {
				b = append(b, `,"stop_reason":null`...)
			}
			b = append(b, "}]"...)
			if g.continuousUsage {
				b = append(b, `,"usage":`...)
				b = r.appendUsage(b, k+1, false)
			}
		} else {
			b = append(b, `{"index":0,"text":"`...)
			b = append(b, r.out.text(k)...)
			b = append(b, `","logprobs":null,"finish_reason":`...)
			b = r.appendFinish(b, last)
			b = append(b, `,"stop_reason":null}],"usage":`...)
			if g.continuousUsage {
				b = r.appendUsage(b, k+1, true)
			} else {
				b = append(b, `null`...)
			}
		}
		b = append(b, "}\n\n"...)
	}
	r.buf = r.appendEnd(b, fin)
}

// appendEnd appends, when fin, the usage chunk (if asked for) and [DONE].
func (r *request) appendEnd(b []byte, fin bool) []byte {
	if !fin {
		return b
	}
	if r.g.includeUsage {
		b = append(b, r.head...)
		b = append(b, `],"usage":`...)
		b = r.appendUsage(b, r.out.n, false)
		b = append(b, "}\n\n"...)
	}
	return append(b, "data: [DONE]\n\n"...)
}

// renderToolChunks is renderChunks for a tool-call answer: one chunk per
// token, the role in the first call's header (OpenAI's shape).
func (r *request) renderToolChunks(from, to int, fin bool) {
	b := r.buf
	for k := from; k < to; k++ {
		last := fin && k == r.out.n-1
		b = append(b, r.head...)
		b = append(b, `{"index":0,"delta":`...)
		b = r.appendToolDelta(b, k)
		b = append(b, `,"logprobs":null,"finish_reason":`...)
		b = r.appendFinish(b, last)
		if last {
			b = append(b, `,"stop_reason":null`...)
		}
		b = append(b, "}]"...)
		if r.g.continuousUsage {
			b = append(b, `,"usage":`...)
			b = r.appendUsage(b, k+1, false)
		}
		b = append(b, "}\n\n"...)
	}
	r.buf = r.appendEnd(b, fin)
}

// renderFull is the non-streaming response body.
func (r *request) renderFull(id string, created int64) []byte {
	n := r.out.n
	b := make([]byte, 0, 512+8*n)
	b = append(b, `{"id":"`...)
	b = append(b, id...)
	if r.g.chat {
		b = append(b, `","object":"chat.completion","created":`...)
	} else {
		b = append(b, `","object":"text_completion","created":`...)
	}
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = append(b, r.s.modelJSON...)
	switch {
	case r.out.tools != nil:
		b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,"annotations":null,"audio":null,"function_call":null,"tool_calls":`...)
		b = r.appendToolCalls(b, n)
		b = append(b, `,"reasoning_content":null},"logprobs":null,"finish_reason":`...)
	case r.g.chat:
		b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":"`...)
		b = r.appendText(b, n)
		b = append(b, `","refusal":null,"annotations":null,"audio":null,"function_call":null,"tool_calls":[],"reasoning_content":null},"logprobs":null,"finish_reason":`...)
	default:
		b = append(b, `,"choices":[{"index":0,"text":"`...)
		b = r.appendText(b, n)
		b = append(b, `","logprobs":null,"finish_reason":`...)
	}
	b = r.appendFinish(b, true)
	b = append(b, `,"stop_reason":null`...)
	if !r.g.chat {
		b = append(b, `,"prompt_logprobs":null`...)
	}
	b = append(b, `}],"service_tier":null,"system_fingerprint":null,"usage":`...)
	b = r.appendUsage(b, n, true)
	if r.g.chat {
		b = append(b, `,"prompt_logprobs":null`...)
	}
	return append(b, `,"kv_transfer_params":null}`...)
}

func (r *request) appendText(b []byte, n int) []byte {
	for k := range n {
		b = append(b, r.out.text(k)...)
	}
	return b
}
