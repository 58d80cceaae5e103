package client

import (
	"bufio"
	"encoding/json"
	"github.com/llmload/llmload/engine/load/request"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// step is one action of a scripted response.
type step struct {
	write string          // written and flushed as one chunk
	wait  <-chan struct{} // block until closed, or until the request ends
	pause time.Duration   // sleep: paces a stream like a server generating tokens
}

// reply scripts one response.
type reply struct {
	status int    // default 200
	ctype  string // default text/event-stream
	steps  []step
	abort  bool // kill the connection after the steps instead of ending the body
	// receipt sets request.SimReceiptHeader to when the handler started,
	// as llmload's simulator does.
	receipt bool
}

type seenRequest struct {
	method, path string
	header       http.Header
	body         string
}

// scriptServer is a real HTTP/1.1 server on 127.0.0.1 that answers each
// request with the reply its script returns, and counts connections and
// bytes on the server side.
type scriptServer struct {
	*httptest.Server
	accepted atomic.Int64
	readB    atomic.Int64 // bytes the server read: what clients sent
	writtenB atomic.Int64 // bytes the server wrote: what clients received

	mu     sync.Mutex
	seen   []seenRequest
	writes [][]time.Time // per request, the time each step's write began
	gone   chan int      // request index, when the server noticed the client left
}

func newScriptServer(t *testing.T, script func(i int) reply) *scriptServer {
	t.Helper()
	s := &scriptServer{gone: make(chan int, 128)}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received := time.Now()
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		i := len(s.seen)
		s.seen = append(s.seen, seenRequest{r.Method, r.URL.Path, r.Header.Clone(), string(body)})
		s.writes = append(s.writes, nil)
		s.mu.Unlock()
		rep := script(i)
		if rep.status == 0 {
			rep.status = http.StatusOK
		}
		if rep.ctype == "" {
			rep.ctype = "text/event-stream; charset=utf-8"
		}
		w.Header().Set("Content-Type", rep.ctype)
		if rep.receipt {
			w.Header().Set(request.SimReceiptHeader, strconv.FormatInt(received.UnixNano(), 10))
		}
		w.WriteHeader(rep.status)
		w.(http.Flusher).Flush()
		for _, st := range rep.steps {
			if st.pause > 0 {
				time.Sleep(st.pause)
			}
			if st.wait != nil {
				select {
				case <-st.wait:
				case <-r.Context().Done():
					s.gone <- i
					return
				}
			}
			if st.write != "" {
				now := time.Now() // before the write: the client cannot see it earlier
				if _, err := io.WriteString(w, st.write); err != nil {
					s.gone <- i
					return
				}
				w.(http.Flusher).Flush()
				s.mu.Lock()
				s.writes[i] = append(s.writes[i], now)
				s.mu.Unlock()
			}
		}
		if rep.abort {
			panic(http.ErrAbortHandler)
		}
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Listener = &countingListener{Listener: ln, s: s}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // aborted and cancelled streams are the point of many tests
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.accepted.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *scriptServer) request(i int) seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[i]
}

func (s *scriptServer) writeTimes(i int) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.writes[i]...)
}

type countingListener struct {
	net.Listener
	s *scriptServer
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, s: l.s}, nil
}

type countingConn struct {
	net.Conn
	s *scriptServer
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.s.readB.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.s.writtenB.Add(int64(n))
	return n, err
}

// Chunk builders, shaped like vLLM's output.

func chatDelta(delta map[string]any, finish any, usage any) string {
	m := map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1732848000, "model": "m",
		"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
	}
	if usage != nil {
		m["usage"] = usage
	}
	return event(m)
}

func usageChunk(prompt, completion int) string {
	return event(map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
		"choices": []any{}, "usage": usage(prompt, completion)})
}

func usage(prompt, completion int) map[string]any {
	return map[string]any{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
}

func textChunk(text string, finish any) string {
	return event(map[string]any{"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
		"choices": []any{map[string]any{"index": 0, "text": text, "logprobs": nil, "finish_reason": finish}}})
}

func event(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return "data: " + string(b) + "\n\n"
}

const done = "data: [DONE]\n\n"

func writes(parts ...string) []step {
	st := make([]step, len(parts))
	for i, p := range parts {
		st[i] = step{write: p}
	}
	return st
}

// rawServer answers every request on a connection with the same
// pre-rendered HTTP response in one write: a server that costs next to
// nothing, for benchmarks.
type rawServer struct {
	ln       net.Listener
	resp     []byte
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func newRawServer(tb testing.TB, resp []byte) *rawServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &rawServer{ln: ln, resp: resp}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.wg.Go(func() { s.serve(c) })
		}
	})
	tb.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

// serve reads requests without allocating (request line and headers up
// to a blank line, then Content-Length bytes of body), so that allocations
// a benchmark reports are the client's.
func (s *rawServer) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	for {
		length := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			const cl = "content-length:"
			if len(line) > len(cl) && strings.EqualFold(string(line[:len(cl)]), cl) {
				length, _ = strconv.Atoi(strings.TrimSpace(string(line[len(cl):])))
			}
		}
		if _, err := br.Discard(length); err != nil {
			return
		}
		if _, err := c.Write(s.resp); err != nil {
			return
		}
	}
}

// chunkedResponse renders a 200 text/event-stream response whose body is
// the given events, one HTTP chunk each, as uvicorn sends them.
func chunkedResponse(events []string) []byte {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\n\r\n")
	for _, e := range events {
		b.WriteString(strconv.FormatInt(int64(len(e)), 16))
		b.WriteString("\r\n")
		b.WriteString(e)
		b.WriteString("\r\n")
	}
	b.WriteString("0\r\n\r\n")
	return []byte(b.String())
}

func (s *rawServer) url() string { return "http://" + s.ln.Addr().String() }
