package client

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// endlessServer streams token chunks until the client goes away, as a
// server that ignores max_tokens does; gone is closed when it noticed.
func endlessServer(t *testing.T) (url string, gone <-chan struct{}) {
	t.Helper()
	g := make(chan struct{})
	chunk := chatDelta(map[string]any{"content": "tok"}, nil, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for {
			// Many events per write: the test is about event counts, and
			// a flush per event would make it slow.
			for range 64 {
				if _, err := io.WriteString(w, chunk); err != nil {
					close(g)
					return
				}
			}
			w.(http.Flusher).Flush()
			if r.Context().Err() != nil {
				close(g)
				return
			}
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(srv.Close)
	return srv.URL, g
}

// A server that ignores max_tokens is cut off at EventCap(max_tokens)
// token events with class overrun, and the connection is closed: the
// request's samples, and so its memory, stay bounded.
func TestOverrunIgnoringMaxTokens(t *testing.T) {
	url, gone := endlessServer(t)
	c := newClient(t, Config{})
	p := chatPlan(url)
	p.MaxTokens = 100
	res := do(t, c, p)
	wantClass(t, res, request.ErrOverrun, "ignores max_tokens")
	if want := EventCap(100); len(res.TokenTimes) != want || res.CompletionTokens != want {
		t.Fatalf("kept %d token times, %d completion tokens; want the cap %d", len(res.TokenTimes), res.CompletionTokens, want)
	}
	if res.LastByte < res.FirstToken || res.FirstToken == 0 {
		t.Fatalf("FirstToken %v, LastByte %v", res.FirstToken, res.LastByte)
	}
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the server never saw the connection close")
	}
	if n := c.fc.ConnsCount(); n != 0 {
		t.Fatalf("%d connections left in the pool after an overrun", n)
	}
}

// Without max_tokens the fixed cap, Config.MaxEvents, applies.
func TestOverrunWithoutMaxTokens(t *testing.T) {
	url, _ := endlessServer(t)
	c := newClient(t, Config{MaxEvents: 500})
	p := chatPlan(url)
	p.MaxTokens = 0
	res := &request.Result{}
	c.Do(context.Background(), p, res)
	wantClass(t, res, request.ErrOverrun, "Config.MaxEvents")
	if len(res.TokenTimes) != 500 {
		t.Fatalf("kept %d token times, want 500", len(res.TokenTimes))
	}
}

func TestEventCap(t *testing.T) {
	for _, c := range []struct{ maxTokens, want int }{{1, 1025}, {100, 1124}, {341, 1365}, {342, 1368}, {4096, 16384}} {
		if got := EventCap(c.maxTokens); got != c.want {
			t.Errorf("EventCap(%d) = %d, want %d", c.maxTokens, got, c.want)
		}
	}
}
