package client

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/valyala/fasthttp"
)

var doneMarker = []byte("[DONE]")

// stream reads the response after its headers and reports whether the
// connection is fit for reuse (the body was read to its end).
func (cl *call) stream(cn *conn, resp *fasthttp.Response) (reuse bool) {
	epoch, res := cl.c.epoch, cl.res
	res.Headers = cn.lastRead.Sub(epoch)
	res.Status = resp.StatusCode()
	if ns, ok := parseUnixNano(resp.Header.Peek(request.SimReceiptHeader)); ok {
		res.ServerReceived = time.Unix(0, ns).Sub(epoch) // wall clocks: same host only
	}
	body := resp.BodyStream()
	if res.Status < 200 || res.Status > 299 {
		return cl.statusError(cn, body)
	}
	if body == nil {
		cl.fail(request.ErrProtocol, fmt.Sprintf("HTTP %d response has no body", res.Status))
		return true
	}

	rd := cl.sse
	rd.Reset(body)
	var capture *answerCapture
	if cl.p.Capture {
		capture = &cl.answer
		capture.reset()
		defer func() { res.Answer = capture.answer() }()
	}
	var (
		stamp time.Time     // time of the read the current event came from
		at    time.Duration // the same as an offset from the epoch
		ch    chunk
	)
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			res.LastByte = cn.lastRead.Sub(epoch)
			msg := fmt.Sprintf("the stream ended without data: [DONE] after %d events", res.SSEEvents)
			if ct := resp.Header.ContentType(); !bytes.HasPrefix(ct, []byte("text/event-stream")) {
				msg += fmt.Sprintf(` (Content-Type is %q: does the request body set "stream": true?)`, ct)
			}
			cl.fail(request.ErrProtocol, msg)
			return true
		}
		if err != nil {
			cl.failIO(err, cn, phaseBody)
			return false
		}
		if cn.lastRead != stamp {
			stamp = cn.lastRead
			at = stamp.Sub(epoch)
		}
		res.SSEEvents++
		if bytes.Equal(ev.Data, doneMarker) {
			break
		}
		if err := decodeAnswerChunk(ev.Data, &ch, capture); err != nil {
			cl.fail(request.ErrProtocol, fmt.Sprintf("event %d is not a valid chunk: %v: %s", res.SSEEvents, err, snippet(string(ev.Data), 200)))
			return false
		}
		if ch.isError {
			// Keep reading: servers follow the error with [DONE], and the
			// connection can then be reused.
			cl.fail(request.ErrServer, "error in the stream: "+errorMessage(ev.Data))
			continue
		}
		if !cl.account(&ch, at) {
			res.LastByte = at
			return false // the rest of the stream is not read: close the connection
		}
	}

	// The server ends the body right after [DONE]; read to that end so the
	// connection can go back to the pool, but not for long.
	res.LastByte = at
	cn.limitReads(time.Now().Add(drainTimeout))
	for {
		_, err := rd.Next()
		if err != nil {
			res.LastByte = cn.lastRead.Sub(epoch)
			return err == io.EOF
		}
	}
}

// account records one decoded chunk arriving at offset at. It reports
// false, having failed the request with class overrun, when the chunk
// carries one token event more than the request's cap allows.
func (cl *call) account(ch *chunk, at time.Duration) bool {
	res := cl.res
	if ch.hasPrompt {
		cl.prompt, cl.hasPrompt = ch.prompt, true
	}
	n := int32(1)
	if ch.hasCompletion {
		// Cumulative usage: the growth since the previous usage is what
		// this event carried. Usage can lag content, so never below one.
		if d := ch.completion - cl.completion; d > 1 {
			n = int32(min(d, 1<<30))
		}
		cl.completion, cl.hasCompletion = ch.completion, true
	}
	if ch.tokens {
		if len(cl.times) >= cl.maxEvents {
			msg := fmt.Sprintf("the server sent more than %d token events", cl.maxEvents)
			if cl.p.MaxTokens > 0 {
				msg += fmt.Sprintf(" for max_tokens %d: it ignores max_tokens", cl.p.MaxTokens)
			} else {
				msg += " (the client's cap without max_tokens: Config.MaxEvents)"
			}
			cl.fail(request.ErrOverrun, msg+"; the request was ended and its connection closed")
			return false
		}
		if res.FirstToken == 0 {
			res.FirstToken = at
		}
		cl.times = append(cl.times, at-res.Sent)
		cl.counts = append(cl.counts, n)
		cl.c.streamed.Add(int64(n))
		if n != 1 {
			cl.nonUnit = true
		}
	}
	if ch.finish != "" {
		res.FinishReason = ch.finish
	}
	return true
}

// statusError records a non-2xx response with the start of its body, and
// drains a small body so that the connection can be reused.
func (cl *call) statusError(cn *conn, body io.Reader) (reuse bool) {
	res := cl.res
	n := 0
	var err error = io.EOF
	if body != nil {
		err = nil
		for n < len(cl.ebuf) && err == nil {
			var m int
			m, err = body.Read(cl.ebuf[n:])
			n += m
		}
		if err == nil {
			_, err = io.CopyN(io.Discard, body, errBodyDrain)
		}
	}
	res.LastByte = cn.lastRead.Sub(cl.c.epoch)
	msg := fmt.Sprintf("HTTP %d %s", res.Status, fasthttp.StatusMessage(res.Status))
	if n > 0 {
		msg += ": " + snippet(string(cl.ebuf[:n]), errBodyKeep)
	}
	cl.fail(request.ErrHTTPStatus, msg)
	return err == io.EOF
}

// finish turns the call's accounting into the Result's fields.
func (cl *call) finish() {
	res, p := cl.res, cl.p
	if res.LastByte == 0 {
		res.LastByte = time.Since(cl.c.epoch)
	}
	res.BytesSent, res.BytesRecv = cl.sent, cl.recv
	if len(cl.times) > 0 {
		res.TokenTimes = append(res.TokenTimes[:0], cl.times...)
	}
	if cl.nonUnit {
		res.TokenCounts = append(res.TokenCounts[:0], cl.counts...)
	} else {
		res.TokenCounts = nil
	}
	if cl.hasCompletion {
		res.CompletionTokens, res.UsageFromServer = int(cl.completion), true
	} else {
		res.CompletionTokens = len(cl.times)
	}
	if cl.hasPrompt {
		res.PromptTokens = int(cl.prompt)
	}
	res.Truncated = res.Error == request.OK &&
		((p.IgnoreEOS && res.CompletionTokens < p.MaxTokens) || (p.MinTokens > 0 && res.CompletionTokens < p.MinTokens))
}

// parseUnixNano reads a positive decimal Unix-nanosecond time without
// allocating (strconv.ParseInt would copy b into a string).
func parseUnixNano(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n > 0
}
