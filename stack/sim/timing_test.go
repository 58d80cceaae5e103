package sim

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/llmload/llmload/stack/sim/batching"
)

// warmFasthttp starts fasthttp's process-wide Date-header goroutine outside
// any synctest bubble; started inside one it would never let the bubble end.
var warmFasthttp = sync.OnceFunc(func() {
	var h fasthttp.ResponseHeader
	h.AppendBytes(nil)
})

// inBubble runs f in a synctest bubble with a server on an in-memory
// listener. The server's Go-timer clock is the bubble's fake clock, so
// timings are exact: any deviation is a bug, not noise.
func inBubble(t *testing.T, cfg Config, f func(t *testing.T, s *Server, ln *fasthttputil.InmemoryListener)) {
	warmFasthttp()
	synctest.Test(t, func(t *testing.T) {
		s, err := newServer(cfg, prometheus.NewRegistry(), options{goTimers: true})
		if err != nil {
			t.Fatal(err)
		}
		ln := fasthttputil.NewInmemoryListener()
		go s.Serve(ln)
		defer func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			// Let fasthttp's idle-worker reaper (10 s period) see the stop.
			time.Sleep(time.Minute)
		}()
		f(t, s, ln)
	})
}

// bubbleStream sends one streaming request over a fresh in-memory
// connection and returns each event with its arrival time since the send.
func bubbleStream(t *testing.T, ln *fasthttputil.InmemoryListener, path, body string) ([]string, []time.Duration) {
	t.Helper()
	c, err := ln.Dial()
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	defer resp.Body.Close()
	var events []string
	var at []time.Duration
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return events, at
		}
		if strings.HasPrefix(line, "data: ") {
			events = append(events, strings.TrimSpace(strings.TrimPrefix(line, "data: ")))
			at = append(at, time.Since(start))
		}
	}
}

func TestFixedProfileExactTiming(t *testing.T) {
	cfg := testConfig()
	cfg.TTFT, cfg.ITL = 50*time.Millisecond, 10*time.Millisecond
	inBubble(t, cfg, func(t *testing.T, _ *Server, ln *fasthttputil.InmemoryListener) {
		const streams, tokens = 200, 20
		var wg sync.WaitGroup
		for i := range streams {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * 3 * time.Millisecond) // staggered arrivals
				body := fmt.Sprintf(`{"messages":[{"role":"user","content":"stream %d"}],"max_tokens":%d,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`, i, tokens)
				events, at := bubbleStream(t, ln, "/v1/chat/completions", body)
				// role, tokens, usage, [DONE]
				if len(events) != tokens+3 {
					t.Errorf("stream %d: %d events, want %d", i, len(events), tokens+3)
					return
				}
				if at[0] != cfg.TTFT {
					t.Errorf("stream %d: role chunk at %v, want it with the first token at %v", i, at[0], cfg.TTFT)
				}
				for k := range tokens {
					if want := cfg.TTFT + time.Duration(k)*cfg.ITL; at[1+k] != want {
						t.Errorf("stream %d: token %d at %v, want %v", i, k, at[1+k], want)
					}
				}
				if last := at[len(at)-1]; last != cfg.TTFT+(tokens-1)*cfg.ITL {
					t.Errorf("stream %d: [DONE] at %v, want with the last token", i, last)
				}
			})
		}
		wg.Wait()
	})
}

func TestFixedProfileNonStreamWaitsForLastToken(t *testing.T) {
	cfg := testConfig()
	cfg.TTFT, cfg.ITL = 30*time.Millisecond, 5*time.Millisecond
	inBubble(t, cfg, func(t *testing.T, _ *Server, ln *fasthttputil.InmemoryListener) {
		c, _ := ln.Dial()
		defer c.Close()
		start := time.Now()
		body := `{"prompt":"a b c","max_tokens":8,"ignore_eos":true}`
		fmt.Fprintf(c, "POST /v1/completions HTTP/1.1\r\nHost: sim\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got, want := time.Since(start), cfg.TTFT+7*cfg.ITL; got != want {
			t.Fatalf("non-streaming response after %v, want %v (the last token)", got, want)
		}
	})
}

// TestBatchingProfileRealTimeDriver checks the engine loop against the cost
// model: one request alone takes one prefill step, then one decode step per
// token, each ending exactly at its absolute deadline.
func TestBatchingProfileRealTimeDriver(t *testing.T) {
	cfg := testConfig()
	cfg.Profile = ProfileH100
	inBubble(t, cfg, func(t *testing.T, _ *Server, ln *fasthttputil.InmemoryListener) {
		prompt := strings.Repeat("w ", 999) // 1 BOS + 999 words = 1000 tokens
		body := fmt.Sprintf(`{"prompt":%q,"max_tokens":5,"ignore_eos":true,"stream":true}`, prompt)
		events, at := bubbleStream(t, ln, "/v1/completions", body)
		if len(events) != 6 {
			t.Fatalf("%d events, want 5 tokens and [DONE]", len(events))
		}
		cost := batching.H100Llama3_8B()
		want := cost.StepTime(&batching.Batch{PrefillTokens: 1000, PrefillPairs: 1000 * 500})
		for k := range 5 {
			if at[k] != want {
				t.Errorf("token %d at %v, want %v", k, at[k], want)
			}
			want += cost.StepTime(&batching.Batch{DecodeTokens: 1, DecodeContext: int64(1000 + k + 1)})
		}
	})
}

// TestLoopbackTiming is the same contract over a real socket and the real
// clock (the timerfd alarm), with bounds only a real bug breaks on a shared,
// loaded CI machine: a missed or late wake-up costs a whole ITL or more.
func TestLoopbackTiming(t *testing.T) {
	cfg := testConfig()
	cfg.TTFT, cfg.ITL = 20*time.Millisecond, 5*time.Millisecond
	ts := startServer(t, cfg)
	const streams, tokens = 16, 20
	var mu sync.Mutex
	var ttftSum, itlSum time.Duration
	var itlN int
	var wg sync.WaitGroup
	for i := range streams {
		wg.Go(func() {
			body := fmt.Sprintf(`{"messages":[{"role":"user","content":"loop %d"}],"max_tokens":%d,"ignore_eos":true,"stream":true}`, i, tokens)
			events, at := streamTimes(t, ts.url+"/v1/chat/completions", body)
			if len(events) != tokens+2 {
				t.Errorf("%d events, want %d", len(events), tokens+2)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ttftSum += at[1]
			for k := 2; k <= tokens; k++ {
				itlSum += at[k] - at[k-1]
				itlN++
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	meanTTFT := ttftSum / streams
	meanITL := itlSum / time.Duration(itlN)
	if d := meanTTFT - cfg.TTFT; d < -500*time.Microsecond || d > 8*time.Millisecond {
		t.Errorf("mean TTFT %v, want %v to %v", meanTTFT, cfg.TTFT, cfg.TTFT+8*time.Millisecond)
	}
	if d := meanITL - cfg.ITL; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("mean ITL %v, want %v ± 1ms", meanITL, cfg.ITL)
	}
	if t.Failed() {
		t.Logf("the simulator's own lateness:\n%s", grep(string(do(t, http.MethodGet, ts.url+"/metrics", "").body), "llmload_sim_"))
	}
}

// More requests than --max-num-seqs: the excess waits in the queue, every
// stream still gets exactly its tokens, and queued requests see a longer
// TTFT than the ones admitted at once.
func TestBatchingProfileQueueing(t *testing.T) {
	cfg := testConfig()
	cfg.Profile = ProfileH100
	cfg.MaxNumSeqs, cfg.MaxNumBatchedTokens = 16, 2048
	inBubble(t, cfg, func(t *testing.T, s *Server, ln *fasthttputil.InmemoryListener) {
		const streams, tokens = 48, 30
		ttft := make([]time.Duration, streams)
		var wg sync.WaitGroup
		for i := range streams {
			wg.Go(func() {
				body := fmt.Sprintf(`{"messages":[{"role":"user","content":"question number %d"}],"max_tokens":%d,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`, i, tokens)
				events, at := bubbleStream(t, ln, "/v1/chat/completions", body)
				if len(events) != tokens+3 || !strings.Contains(events[tokens+1], fmt.Sprintf(`"completion_tokens":%d`, tokens)) {
					t.Errorf("stream %d: %d events, usage %q", i, len(events), events[len(events)-2])
					return
				}
				ttft[i] = at[1]
				for k := 2; k <= tokens; k++ {
					if at[k] <= at[k-1] {
						t.Errorf("stream %d: token %d at %v, not after token %d at %v", i, k-1, at[k], k-2, at[k-1])
					}
				}
			})
		}
		wg.Wait()
		slices.Sort(ttft)
		// The first 16 start within the first couple of steps; the rest
		// wait for running requests to finish (30 decode steps at least).
		if ttft[15] > 20*time.Millisecond || ttft[16] < ttft[15]+30*5*time.Millisecond {
			t.Errorf("TTFTs %v: want 16 (--max-num-seqs) early, then queued ones much later", ttft)
		}
	})
}
