package client

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	if cfg.Epoch.IsZero() {
		cfg.Epoch = time.Now()
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 4
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func chatPlan(url string) *request.Plan {
	return &request.Plan{
		Seq: 7, Scenario: "conv", Endpoint: request.Chat, URL: url + "/v1/chat/completions",
		Body:         []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`),
		PromptTokens: 37, MaxTokens: 5, SourceLine: 12, Tags: map[string]string{"k": "v"},
	}
}

func do(t testing.TB, c *Client, p *request.Plan) *request.Result {
	t.Helper()
	res := &request.Result{}
	c.Do(context.Background(), p, res)
	return res
}

func wantClass(t testing.TB, res *request.Result, class request.ErrorClass, msgPart string) {
	t.Helper()
	if res.Error != class {
		t.Fatalf("Error = %q (%s), want %q", res.Error, res.ErrorMsg, class)
	}
	if !strings.Contains(res.ErrorMsg, msgPart) {
		t.Fatalf("ErrorMsg = %q, want it to mention %q", res.ErrorMsg, msgPart)
	}
}

// checkTimes asserts the order every successful result must have.
func checkTimes(t testing.TB, res *request.Result) {
	t.Helper()
	if !(0 < res.Sent && res.Sent <= res.Headers && res.Headers <= res.LastByte) {
		t.Fatalf("times out of order: sent %v headers %v last %v", res.Sent, res.Headers, res.LastByte)
	}
	if len(res.TokenTimes) > 0 {
		if res.FirstToken != res.Sent+res.TokenTimes[0] {
			t.Fatalf("FirstToken %v != Sent %v + TokenTimes[0] %v", res.FirstToken, res.Sent, res.TokenTimes[0])
		}
		if res.FirstToken < res.Headers || res.Sent+res.TokenTimes[len(res.TokenTimes)-1] > res.LastByte {
			t.Fatalf("tokens outside [headers, last byte]: %v %v %v", res.Headers, res.TokenTimes, res.LastByte)
		}
		if !slices.IsSorted(res.TokenTimes) {
			t.Fatalf("TokenTimes not sorted: %v", res.TokenTimes)
		}
	}
}

func TestChatHappyPath(t *testing.T) {
	words := []string{"Hello", ",", " world", "!", " Bye"}
	parts := []string{chatDelta(map[string]any{"role": "assistant", "content": ""}, nil, nil)}
	for i, w := range words {
		var finish any
		if i == len(words)-1 {
			finish = "length"
		}
		parts = append(parts, chatDelta(map[string]any{"content": w}, finish, nil))
	}
	parts = append(parts, usageChunk(37, 5), done)
	// Pace the tokens so that each one arrives in its own read.
	steps := []step{{write: parts[0]}}
	for _, p := range parts[1:] {
		steps = append(steps, step{write: p, pause: 5 * time.Millisecond})
	}
	srv := newScriptServer(t, func(int) reply { return reply{steps: steps, receipt: true} })
	epoch := time.Now()
	c := newClient(t, Config{Epoch: epoch, APIKey: "sk-test"})
	p := chatPlan(srv.URL)
	p.Headers = map[string]string{"X-Trace": "abc"}
	p.IgnoreEOS = true
	res := do(t, c, p)

	wantClass(t, res, request.OK, "")
	if res.Status != 200 || res.SSEEvents != len(parts) || len(res.TokenTimes) != len(words) {
		t.Fatalf("status %d events %d tokens %d, want 200 %d %d", res.Status, res.SSEEvents, len(res.TokenTimes), len(parts), len(words))
	}
	if res.TokenCounts != nil {
		t.Fatalf("TokenCounts = %v, want nil (one token per event)", res.TokenCounts)
	}
	if !res.UsageFromServer || res.CompletionTokens != 5 || res.PromptTokens != 37 || res.FinishReason != "length" || res.Truncated {
		t.Fatalf("usage: %+v", res)
	}
	if res.Seq != 7 || res.Scenario != "conv" || res.SourceLine != 12 || res.PromptTokensRequested != 37 || res.MaxTokens != 5 || res.Tags["k"] != "v" {
		t.Fatalf("plan fields not copied: %+v", res)
	}
	checkTimes(t, res)
	// The server's receipt lies between sending and the response headers
	// (one host, one wall clock; the handler started after the send began).
	if res.ServerReceived < res.Sent || res.ServerReceived > res.Headers {
		t.Fatalf("ServerReceived %v outside [Sent %v, Headers %v]", res.ServerReceived, res.Sent, res.Headers)
	}

	// Causality: no token is seen before the server wrote it. The server's
	// write i+1 carries token i (write 0 is the role chunk).
	w := srv.writeTimes(0)
	for i, tt := range res.TokenTimes {
		seen := epoch.Add(res.Sent + tt)
		if seen.Before(w[i+1]) {
			t.Fatalf("token %d seen at %v, before the server wrote it at %v", i, seen, w[i+1])
		}
	}
	if epoch.Add(res.LastByte).Before(w[len(w)-1]) {
		t.Fatal("last byte before the server's last write")
	}

	got := srv.request(0)
	if got.method != "POST" || got.path != "/v1/chat/completions" || got.body != string(p.Body) {
		t.Fatalf("server saw %s %s %q", got.method, got.path, got.body)
	}
	if got.header.Get("Authorization") != "Bearer sk-test" || got.header.Get("X-Trace") != "abc" ||
		got.header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers: %v", got.header)
	}
	srv.Close() // waits for the server's last write, so its counts are final
	if res.BytesSent != srv.readB.Load() || res.BytesRecv != srv.writtenB.Load() {
		t.Fatalf("bytes sent/recv %d/%d, server read/wrote %d/%d", res.BytesSent, res.BytesRecv, srv.readB.Load(), srv.writtenB.Load())
	}
}

func TestCompletionsWithoutUsage(t *testing.T) {
	srv := newScriptServer(t, func(int) reply {
		return reply{steps: writes(textChunk(" a", nil), textChunk("", nil), textChunk(" b", nil), textChunk(" c", "stop"), done)}
	})
	c := newClient(t, Config{})
	p := chatPlan(srv.URL)
	p.Endpoint, p.URL = request.Completions, srv.URL+"/v1/completions"
	p.IgnoreEOS, p.MaxTokens = true, 5
	res := do(t, c, p)
	wantClass(t, res, request.OK, "")
	if res.UsageFromServer || res.CompletionTokens != 3 || len(res.TokenTimes) != 3 || res.PromptTokens != 0 {
		t.Fatalf("counted tokens: usage %v completion %d times %d prompt %d", res.UsageFromServer, res.CompletionTokens, len(res.TokenTimes), res.PromptTokens)
	}
	if res.FinishReason != "stop" || !res.Truncated {
		t.Fatalf("finish %q truncated %v: ignore_eos asked 5 and got 3", res.FinishReason, res.Truncated)
	}
	checkTimes(t, res)
}

func TestRoleOnlyAndReasoning(t *testing.T) {
	srv := newScriptServer(t, func(int) reply {
		return reply{steps: writes(
			chatDelta(map[string]any{"role": "assistant", "content": ""}, nil, nil),
			chatDelta(map[string]any{"reasoning_content": "Let me"}, nil, nil),
			chatDelta(map[string]any{"reasoning": " think"}, nil, nil),
			chatDelta(map[string]any{"content": nil, "tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": "{}"}}}}, nil, nil),
			chatDelta(map[string]any{"content": "ok"}, "stop", nil),
			usageChunk(3, 4), done)}
	})
	res := do(t, newClient(t, Config{}), chatPlan(srv.URL))
	wantClass(t, res, request.OK, "")
	if len(res.TokenTimes) != 4 || res.CompletionTokens != 4 {
		t.Fatalf("tokens %d completion %d, want 4 (reasoning and tool calls count, the role chunk does not)", len(res.TokenTimes), res.CompletionTokens)
	}
	checkTimes(t, res)
}

func TestNoTokens(t *testing.T) {
	srv := newScriptServer(t, func(int) reply {
		return reply{steps: writes(chatDelta(map[string]any{"role": "assistant", "content": ""}, nil, nil),
			chatDelta(map[string]any{}, "stop", nil), done)}
	})
	res := do(t, newClient(t, Config{}), chatPlan(srv.URL))
	wantClass(t, res, request.OK, "")
	if res.FirstToken != 0 || res.TokenTimes != nil || res.CompletionTokens != 0 || res.TTFT() != 0 {
		t.Fatalf("no token expected: %+v", res)
	}
}

func TestContinuousUsage(t *testing.T) {
	srv := newScriptServer(t, func(int) reply {
		return reply{steps: writes(
			chatDelta(map[string]any{"role": "assistant", "content": ""}, nil, usage(10, 0)),
			chatDelta(map[string]any{"content": "a"}, nil, usage(10, 1)),
			chatDelta(map[string]any{"content": "bc"}, nil, usage(10, 3)), // two tokens in one event
			chatDelta(map[string]any{"content": "d"}, nil, usage(10, 4)),
			chatDelta(map[string]any{"content": ""}, nil, usage(10, 5)), // a token without text
			chatDelta(map[string]any{"content": "ef"}, "length", usage(10, 7)),
			usageChunk(10, 7), done)}
	})
	res := do(t, newClient(t, Config{}), chatPlan(srv.URL))
	wantClass(t, res, request.OK, "")
	if want := []int32{1, 2, 1, 2}; !slices.Equal(res.TokenCounts, want) {
		t.Fatalf("TokenCounts = %v, want %v", res.TokenCounts, want)
	}
	if len(res.TokenTimes) != 4 || res.CompletionTokens != 7 || res.PromptTokens != 10 || !res.UsageFromServer {
		t.Fatalf("times %d completion %d prompt %d", len(res.TokenTimes), res.CompletionTokens, res.PromptTokens)
	}

	// One token per event: counts stay nil even with continuous usage.
	srv2 := newScriptServer(t, func(int) reply {
		return reply{steps: writes(
			chatDelta(map[string]any{"content": "a"}, nil, usage(10, 1)),
			chatDelta(map[string]any{"content": "b"}, nil, usage(10, 2)), done)}
	})
	res = do(t, newClient(t, Config{}), chatPlan(srv2.URL))
	if res.Error != request.OK || res.TokenCounts != nil || res.CompletionTokens != 2 {
		t.Fatalf("unit counts: %v %v %d", res.Error, res.TokenCounts, res.CompletionTokens)
	}
}

func TestMinTokensTruncated(t *testing.T) {
	srv := newScriptServer(t, func(int) reply {
		return reply{steps: writes(chatDelta(map[string]any{"content": "a"}, "stop", nil), usageChunk(1, 1), done)}
	})
	c := newClient(t, Config{})
	p := chatPlan(srv.URL)
	p.MinTokens = 2
	if res := do(t, c, p); !res.Truncated {
		t.Fatal("1 token with min_tokens 2 is truncated")
	}
	p.MinTokens = 1
	if res := do(t, c, p); res.Truncated {
		t.Fatal("1 token with min_tokens 1 is not truncated")
	}
}

func TestHTTPStatusError(t *testing.T) {
	body := `{"error":{"message":"This model's maximum context length is 8192 tokens","type":"BadRequestError","code":400}}`
	srv := newScriptServer(t, func(i int) reply {
		if i == 0 {
			return reply{status: 500, ctype: "application/json", steps: writes(body)}
		}
		return reply{steps: writes(chatDelta(map[string]any{"content": "a"}, "stop", nil), done)}
	})
	c := newClient(t, Config{})
	res := do(t, c, chatPlan(srv.URL))
	wantClass(t, res, request.ErrHTTPStatus, "maximum context length")
	if res.Status != 500 || !strings.HasPrefix(res.ErrorMsg, "HTTP 500 ") {
		t.Fatalf("status %d msg %q", res.Status, res.ErrorMsg)
	}
	// The error body was drained, so the connection is reused.
	res = do(t, c, chatPlan(srv.URL))
	wantClass(t, res, request.OK, "")
	if n := srv.accepted.Load(); n != 1 {
		t.Fatalf("%d connections accepted, want 1", n)
	}
}

func TestStallTimeout(t *testing.T) {
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	srv := newScriptServer(t, func(int) reply {
		return reply{steps: []step{
			{write: chatDelta(map[string]any{"role": "assistant", "content": ""}, nil, nil)},
			{write: chatDelta(map[string]any{"content": "a"}, nil, nil)},
			{wait: hold},
		}}
	})
	c := newClient(t, Config{StallTimeout: 100 * time.Millisecond, Timeout: 30 * time.Second})
	res := do(t, c, chatPlan(srv.URL))
	wantClass(t, res, request.ErrStall, "stall timeout")
	if len(res.TokenTimes) != 1 || res.SSEEvents != 2 {
		t.Fatalf("tokens before the stall must be kept: %d tokens, %d events", len(res.TokenTimes), res.SSEEvents)
	}
	if res.LastByte-res.Sent < 100*time.Millisecond {
		t.Fatalf("stall fired after %v, before the 100ms stall timeout", res.LastByte-res.Sent)
	}
}

func TestSteadyStreamIsNotAStall(t *testing.T) {
	// Longer in total than the stall timeout, but no gap comes close to it:
	// the stall deadline must move with every read.
	var steps []step
	// 30 gaps of 20ms: twice the stall timeout in total, a fifteenth of it
	// per gap.
	for range 30 {
		steps = append(steps, step{write: chatDelta(map[string]any{"content": "x"}, nil, nil), pause: 20 * time.Millisecond})
	}
	steps = append(steps, step{write: done})
	srv := newScriptServer(t, func(int) reply { return reply{steps: steps} })
	c := newClient(t, Config{StallTimeout: 300 * time.Millisecond})
	res := do(t, c, chatPlan(srv.URL))
	wantClass(t, res, request.OK, "")
	if len(res.TokenTimes) != 30 {
		t.Fatalf("%d tokens, want 30", len(res.TokenTimes))
	}
}

func TestStallBeforeHeaders(t *testing.T) {
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	// A server that reads the request and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				<-hold
			}()
		}
	}()
	c := newClient(t, Config{StallTimeout: 100 * time.Millisecond})
	res := do(t, c, chatPlan("http://"+ln.Addr().String()))
	wantClass(t, res, request.ErrStall, "response headers")
}

func TestWholeTimeout(t *testing.T) {
	// A server that keeps streaming: never stalls, never ends.
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	steps := []step{}
	for range 1000 {
		steps = append(steps, step{write: chatDelta(map[string]any{"content": "x"}, nil, nil), pause: 10 * time.Millisecond})
	}
	steps = append(steps, step{wait: hold})
	srv := newScriptServer(t, func(int) reply { return reply{steps: steps} })
	c := newClient(t, Config{Timeout: 150 * time.Millisecond, StallTimeout: 5 * time.Second})
	res := do(t, c, chatPlan(srv.URL))
	wantClass(t, res, request.ErrTimeout, "request timeout")
	if len(res.TokenTimes) == 0 {
		t.Fatal("tokens received before the timeout were dropped")
	}
	if res.LastByte-res.Sent < 150*time.Millisecond {
		t.Fatalf("timeout after %v, before the 150ms limit", res.LastByte-res.Sent)
	}
}

func TestCancel(t *testing.T) {
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	started := make(chan struct{})
	srv := newScriptServer(t, func(int) reply {
		close(started)
		return reply{steps: []step{{write: chatDelta(map[string]any{"content": "a"}, nil, nil)}, {wait: hold}}}
	})
	// No timeouts: only the cancellation can end this request.
	c := newClient(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	res := &request.Result{}
	c.Do(ctx, chatPlan(srv.URL), res)
	wantClass(t, res, request.ErrCanceled, "canceled")
	select {
	case <-srv.gone: // the server saw the connection close
	case <-time.After(10 * time.Second):
		t.Fatal("the server never saw the client go away")
	}
	if n := c.fc.ConnsCount(); n != 0 {
		t.Fatalf("%d connections left in the pool after a cancel", n)
	}
}

func TestCancelBeforeSend(t *testing.T) {
	srv := newScriptServer(t, func(int) reply { return reply{steps: writes(done)} })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := &request.Result{}
	newClient(t, Config{}).Do(ctx, chatPlan(srv.URL), res)
	wantClass(t, res, request.ErrCanceled, "before sending")
	if srv.accepted.Load() != 0 {
		t.Fatal("a canceled request reached the server")
	}
}

func TestNoDone(t *testing.T) {
	srv := newScriptServer(t, func(int) reply {
		return reply{steps: writes(chatDelta(map[string]any{"content": "a"}, nil, nil), chatDelta(map[string]any{"content": "b"}, "stop", nil))}
	})
	res := do(t, newClient(t, Config{}), chatPlan(srv.URL))
	wantClass(t, res, request.ErrProtocol, "without data: [DONE] after 2 events")
	if len(res.TokenTimes) != 2 || res.Truncated {
		t.Fatalf("tokens %d truncated %v", len(res.TokenTimes), res.Truncated)
	}
}

func TestNotAStream(t *testing.T) {
	srv := newScriptServer(t, func(int) reply {
		return reply{ctype: "application/json", steps: writes(`{"id":"x","choices":[{"message":{"content":"hi"}}]}`)}
	})
	res := do(t, newClient(t, Config{}), chatPlan(srv.URL))
	wantClass(t, res, request.ErrProtocol, `"stream": true`)
}

func TestBrokenConnectionMidStream(t *testing.T) {
	srv := newScriptServer(t, func(int) reply {
		return reply{steps: writes(chatDelta(map[string]any{"content": "a"}, nil, nil)), abort: true}
	})
	res := do(t, newClient(t, Config{}), chatPlan(srv.URL))
	wantClass(t, res, request.ErrProtocol, "broke after 1 events")
}

func TestServerErrorObject(t *testing.T) {
	srv := newScriptServer(t, func(int) reply {
		return reply{steps: writes(
			chatDelta(map[string]any{"content": "a"}, nil, nil),
			event(map[string]any{"error": map[string]any{"object": "error", "message": "engine died", "type": "InternalServerError", "code": 500}}),
			done)}
	})
	c := newClient(t, Config{})
	res := do(t, c, chatPlan(srv.URL))
	wantClass(t, res, request.ErrServer, "InternalServerError: engine died")
	if res.Status != 200 || len(res.TokenTimes) != 1 || res.SSEEvents != 3 {
		t.Fatalf("status %d tokens %d events %d", res.Status, len(res.TokenTimes), res.SSEEvents)
	}
}

func TestBadChunk(t *testing.T) {
	srv := newScriptServer(t, func(int) reply {
		return reply{steps: writes(chatDelta(map[string]any{"content": "a"}, nil, nil), "data: {\"choices\":[\n\n", done)}
	})
	res := do(t, newClient(t, Config{}), chatPlan(srv.URL))
	wantClass(t, res, request.ErrProtocol, "event 2 is not a valid chunk")
}

func TestSplitWrites(t *testing.T) {
	// The same stream cut into pieces at awkward places, CRLF line ends
	// included, each piece its own HTTP chunk.
	stream := strings.ReplaceAll(chatDelta(map[string]any{"content": "a"}, nil, nil)+": ping\n\n"+
		chatDelta(map[string]any{"content": "b"}, "stop", nil)+usageChunk(2, 2)+done, "\n", "\r\n")
	var steps []step
	for i := 0; i < len(stream); i += 7 {
		steps = append(steps, step{write: stream[i:min(i+7, len(stream))]})
	}
	srv := newScriptServer(t, func(int) reply { return reply{steps: steps} })
	res := do(t, newClient(t, Config{}), chatPlan(srv.URL))
	wantClass(t, res, request.OK, "")
	if len(res.TokenTimes) != 2 || res.CompletionTokens != 2 || res.SSEEvents != 4 {
		t.Fatalf("tokens %d completion %d events %d", len(res.TokenTimes), res.CompletionTokens, res.SSEEvents)
	}
}

func TestConnectionReuse(t *testing.T) {
	srv := newScriptServer(t, func(int) reply {
		return reply{steps: writes(chatDelta(map[string]any{"content": "a"}, "stop", nil), usageChunk(1, 1), done)}
	})
	c := newClient(t, Config{})
	var sent, recv int64
	for range 20 {
		res := do(t, c, chatPlan(srv.URL))
		wantClass(t, res, request.OK, "")
		sent += res.BytesSent
		recv += res.BytesRecv
	}
	if n := srv.accepted.Load(); n != 1 {
		t.Fatalf("20 sequential requests used %d connections, want 1", n)
	}
	srv.Close() // waits for the server's last write, so its counts are final
	if sent != srv.readB.Load() || recv != srv.writtenB.Load() {
		t.Fatalf("bytes sent/recv %d/%d, server read/wrote %d/%d", sent, recv, srv.readB.Load(), srv.writtenB.Load())
	}
}

func TestStaleKeepAliveRetried(t *testing.T) {
	srv := newScriptServer(t, func(int) reply {
		return reply{steps: writes(chatDelta(map[string]any{"content": "a"}, "stop", nil), done)}
	})
	c := newClient(t, Config{})
	wantClass(t, do(t, c, chatPlan(srv.URL)), request.OK, "")
	// The server drops the idle keep-alive connection, as uvicorn does
	// after its keep-alive timeout.
	srv.CloseClientConnections()
	res := do(t, c, chatPlan(srv.URL))
	wantClass(t, res, request.OK, "")
	if n := srv.accepted.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (the stale one replaced)", n)
	}
}

func TestParallel(t *testing.T) {
	const workers, each = 64, 4
	srv := newScriptServer(t, func(int) reply {
		return reply{steps: []step{
			{write: chatDelta(map[string]any{"role": "assistant", "content": ""}, nil, nil)},
			{write: chatDelta(map[string]any{"content": "a"}, nil, nil), pause: time.Millisecond},
			{write: chatDelta(map[string]any{"content": "b"}, "stop", nil)},
			{write: usageChunk(3, 2)}, {write: done},
		}}
	})
	c := newClient(t, Config{MaxConns: workers})
	var wg sync.WaitGroup
	errs := make(chan string, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				res := &request.Result{}
				c.Do(context.Background(), chatPlan(srv.URL), res)
				if res.Error != request.OK || res.CompletionTokens != 2 || len(res.TokenTimes) != 2 {
					errs <- string(res.Error) + ": " + res.ErrorMsg
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := srv.accepted.Load(); n > workers {
		t.Fatalf("%d connections for %d workers", n, workers)
	}
}

func TestPoolExhausted(t *testing.T) {
	hold := make(chan struct{})
	started := make(chan struct{})
	srv := newScriptServer(t, func(i int) reply {
		if i == 0 {
			close(started)
			return reply{steps: []step{{wait: hold}, {write: done}}}
		}
		return reply{steps: writes(done)}
	})
	c := newClient(t, Config{MaxConns: 1})
	first := make(chan *request.Result)
	go func() { first <- do(t, c, chatPlan(srv.URL)) }()
	<-started
	res := do(t, c, chatPlan(srv.URL))
	wantClass(t, res, request.ErrConnect, "MaxConns")
	close(hold)
	wantClass(t, <-first, request.OK, "")
}

func TestConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	res := do(t, newClient(t, Config{}), chatPlan("http://"+addr))
	wantClass(t, res, request.ErrConnect, "connecting to "+addr)
	if res.Status != 0 || res.LastByte < res.Sent {
		t.Fatalf("status %d sent %v last %v", res.Status, res.Sent, res.LastByte)
	}
}

func TestBadURL(t *testing.T) {
	res := do(t, newClient(t, Config{}), &request.Plan{URL: "ftp://example.com/x"})
	wantClass(t, res, request.ErrConnect, "ftp://example.com/x")
}

func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte(chatDelta(map[string]any{"content": "a"}, "stop", nil) + done))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-certificate case logs a handshake error
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tcfg := srv.Client().Transport.(*http.Transport).TLSClientConfig
	c := newClient(t, Config{TLSConfig: tcfg})
	for range 3 {
		res := do(t, c, chatPlan(srv.URL))
		wantClass(t, res, request.OK, "")
		if len(res.TokenTimes) != 1 {
			t.Fatalf("tokens %d", len(res.TokenTimes))
		}
	}
	// An untrusted certificate is a connect error.
	res := do(t, newClient(t, Config{TLSConfig: &tls.Config{}}), chatPlan(srv.URL))
	wantClass(t, res, request.ErrConnect, "certificate")
}

func TestResultReuse(t *testing.T) {
	srv := newScriptServer(t, func(i int) reply {
		if i == 0 {
			return reply{steps: writes(chatDelta(map[string]any{"content": "a"}, nil, usage(1, 1)),
				chatDelta(map[string]any{"content": "b"}, "stop", usage(1, 3)), done)}
		}
		return reply{status: 503, steps: writes("busy")}
	})
	c := newClient(t, Config{})
	res := &request.Result{Scheduled: 5, Released: 6, Dispatched: 7}
	c.Do(context.Background(), chatPlan(srv.URL), res)
	if res.Error != request.OK || res.TokenCounts == nil {
		t.Fatalf("first: %v %v", res.Error, res.TokenCounts)
	}
	c.Do(context.Background(), chatPlan(srv.URL), res)
	wantClass(t, res, request.ErrHTTPStatus, "busy")
	if len(res.TokenTimes) != 0 || res.TokenCounts != nil || res.CompletionTokens != 0 || res.FinishReason != "" ||
		res.FirstToken != 0 || res.UsageFromServer || res.SSEEvents != 0 {
		t.Fatalf("state from the previous request leaked: %+v", res)
	}
	if res.Scheduled != 5 || res.Released != 6 || res.Dispatched != 7 {
		t.Fatal("Do overwrote the caller's fields")
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{
		{MaxConns: 1},
		{Epoch: time.Now()},
		{Epoch: time.Now(), MaxConns: 1, Timeout: -1},
		{Epoch: time.Now(), MaxConns: 1, APIKey: "k\n"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// benchStream is a vLLM-like chat stream with n tokens.
func benchStream(n int) []string {
	ev := []string{chatDelta(map[string]any{"role": "assistant", "content": ""}, nil, nil)}
	for i := range n {
		var finish any
		if i == n-1 {
			finish = "length"
		}
		ev = append(ev, chatDelta(map[string]any{"content": " token"}, finish, nil))
	}
	return append(ev, usageChunk(100, n), done)
}

// BenchmarkDo runs whole requests against a loopback server that sends a
// pre-rendered 256-token stream in one write, so the numbers are the
// client's: HTTP, SSE framing, chunk decoding and accounting.
func BenchmarkDo(b *testing.B) {
	const tokens = 256
	srv := newRawServer(b, chunkedResponse(benchStream(tokens)))
	c := newClient(b, Config{MaxConns: 64, Timeout: time.Minute, StallTimeout: 10 * time.Second})
	p := chatPlan(srv.url())
	b.Run("serial", func(b *testing.B) {
		res := &request.Result{}
		b.ReportAllocs()
		for b.Loop() {
			c.Do(context.Background(), p, res)
			if res.Error != request.OK || res.CompletionTokens != tokens {
				b.Fatalf("%s: %s (%d tokens)", res.Error, res.ErrorMsg, res.CompletionTokens)
			}
		}
		b.ReportMetric(float64(tokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
	b.Run("serial_cancelable_ctx", func(b *testing.B) {
		// The runner passes a context that can be cancelled, which costs
		// the context.AfterFunc registration per request.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		res := &request.Result{}
		b.ReportAllocs()
		for b.Loop() {
			c.Do(ctx, p, res)
			if res.Error != request.OK {
				b.Fatalf("%s: %s", res.Error, res.ErrorMsg)
			}
		}
		b.ReportMetric(float64(tokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
	b.Run("parallel8", func(b *testing.B) {
		b.SetParallelism(4) // 4 x GOMAXPROCS(2) goroutines
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			res := &request.Result{}
			for pb.Next() {
				c.Do(context.Background(), p, res)
				if res.Error != request.OK {
					b.Errorf("%s: %s", res.Error, res.ErrorMsg)
					return
				}
			}
		})
		b.ReportMetric(float64(tokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
}

// StreamedTokens counts tokens as their events arrive, while the request
// is still in flight: what a live view shows as tokens per second.
func TestStreamedTokensCountInFlight(t *testing.T) {
	release := make(chan struct{})
	srv := newScriptServer(t, func(int) reply {
		steps := writes(
			chatDelta(map[string]any{"role": "assistant", "content": ""}, nil, usage(10, 0)), // no token
			chatDelta(map[string]any{"content": "a"}, nil, usage(10, 1)),
			chatDelta(map[string]any{"content": "bc"}, nil, usage(10, 3))) // two tokens in one event
		steps = append(steps, step{wait: release})
		return reply{steps: append(steps, writes(chatDelta(map[string]any{"content": "d"}, "stop", usage(10, 4)), done)...)}
	})
	c := newClient(t, Config{})
	if n := c.StreamedTokens(); n != 0 {
		t.Fatalf("StreamedTokens before any request = %d", n)
	}
	finished := make(chan *request.Result)
	go func() { finished <- do(t, c, chatPlan(srv.URL)) }()
	// The request is held mid-stream by the server: the three tokens it
	// sent are counted before it ends. The loop waits for the client to
	// read them (bounded), it does not time anything.
	for deadline := time.Now().Add(10 * time.Second); c.StreamedTokens() < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("StreamedTokens = %d after 10s, want 3 while the request is in flight", c.StreamedTokens())
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case res := <-finished:
		t.Fatalf("the request ended before the server released it: %+v", res)
	default:
	}
	if n := c.StreamedTokens(); n != 3 {
		t.Fatalf("StreamedTokens mid-stream = %d, want 3", n)
	}
	close(release)
	res := <-finished
	wantClass(t, res, request.OK, "")
	if n := c.StreamedTokens(); n != 4 || int64(res.CompletionTokens) != n {
		t.Fatalf("StreamedTokens after the request = %d (CompletionTokens %d), want 4", n, res.CompletionTokens)
	}
}
