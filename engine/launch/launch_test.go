package launch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/engine/results/observe"
	"github.com/llmload/llmload/internal/simtest"
	"github.com/llmload/llmload/stack/sim"
)

// rows is a source of n identical rows.
type rows struct{ n int }

func (r *rows) Next() (trace.Row, error) {
	if r.n == 0 {
		return trace.Row{}, io.EOF
	}
	r.n--
	return trace.Row{ContextTokens: 20, GeneratedTokens: 4}, nil
}
func (r *rows) Close() error { return nil }

type chatMapper struct{}

func (chatMapper) Map(row trace.Row) (openai.Spec, error) {
	return openai.Spec{Endpoint: request.Chat, PromptTokens: row.ContextTokens, MaxTokens: row.GeneratedTokens, IgnoreEOS: true}, nil
}

// stalledTokenize starts a simulator whose POST /tokenize never answers
// (its tokenize-stall fault), so every prompt-calibration probe runs
// into its timeout, and returns its URL. (A reverse proxy in front of a
// simulator did this before: under load it dropped a streamed answer now
// and then, failing the test for its own sake.)
func stalledTokenize(t *testing.T) string {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.Profile = sim.ProfileFixed
	f, err := sim.ParseFault(string(sim.FaultTokenizeStall))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Faults = []sim.Fault{f}
	return simtest.Start(t, cfg)
}

// Probes before the run (POST /tokenize) must not make the first request
// late: the epoch is set after them, and each has its own timeout.
func TestProbesDoNotDelaySchedule(t *testing.T) {
	base := stalledTokenize(t)
	// Long enough that a probe counted against the schedule stands out
	// from what a loaded machine's scheduling can delay a release by.
	const probeTimeout = 3 * time.Second
	var log bytes.Buffer
	run, err := Prepare(context.Background(), Config{
		Scenarios: []Scenario{{
			Name: "probe", Source: &rows{n: 3}, Schedule: pace.Constant(20), Mapper: chatMapper{},
			URL: base, Model: sim.DefaultConfig().Model, Concurrency: 4,
			Timeout: 30 * time.Second, StallTimeout: 10 * time.Second,
			SampleInterval: time.Second, DrainTimeout: time.Second, ServerMetrics: "off",
		}},
		ProbeTimeout: probeTimeout,
		Log:          &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	var mu sync.Mutex
	var lags []time.Duration
	err = run.Start(context.Background(), []Watch{{OnResult: func(res *request.Result) {
		mu.Lock()
		defer mu.Unlock()
		lags = append(lags, res.ScheduleLag())
	}}})
	if err != nil {
		t.Fatal(err)
	}
	out := run.Wait().Scenarios[0]
	if out.Err != nil || out.Summary == nil || out.Summary.Completed != 3 {
		t.Fatalf("run: err %v, summary %+v", out.Err, out.Summary)
	}
	// Both endpoints were probed and both probes ran into the timeout.
	if n := strings.Count(log.String(), "prompt calibration for"); n != 2 {
		t.Fatalf("want 2 failed probes in the log, got %d:\n%s", n, log.String())
	}
	for i, lag := range lags {
		if lag >= probeTimeout {
			t.Errorf("request %d released %v late: the probes (%v each) counted against the schedule", i, lag, probeTimeout)
		}
	}
}

// TestObserveTargetsGPUIDs: --gpu-ids reaches the DCGM targets only, split
// and trimmed; the server's target is never filtered.
func TestObserveTargetsGPUIDs(t *testing.T) {
	sc := &Scenario{URL: "http://h:8000", ServerMetrics: "auto", GPUMetrics: "http://h:9400/metrics, http://g:9400/metrics", GPUIDs: " 0, GPU-aa ,"}
	ts := observeTargets(sc)
	if len(ts) != 3 {
		t.Fatalf("%d targets, want 3: %+v", len(ts), ts)
	}
	for _, tg := range ts {
		want := "[0 GPU-aa]"
		if tg.Role == "server" {
			want = "[]"
		}
		if got := fmt.Sprint(tg.GPUs); got != want {
			t.Errorf("%s %s: GPUs %s, want %s", tg.Role, tg.URL, got, want)
		}
	}
}

// TestObserveTargetsProm: a Prometheus query API target gets the
// Prometheus token, never the endpoint's key, a --gpu-metrics list is
// split outside the selector's braces, and one prom+ URL given to both
// flags is two targets.
func TestObserveTargetsProm(t *testing.T) {
	sc := &Scenario{URL: "http://h:8000", APIKey: "sk-endpoint", PrometheusToken: "prom-token",
		ServerMetrics: `prom+http://p:9090?selector={namespace="llm",app="vllm"}`,
		GPUMetrics:    `prom+http://p:9090?selector={namespace="llm",app="dcgm"}, http://g:9400/metrics, prom+http://p:9090?selector={namespace="llm",app="vllm"}`}
	ts := observeTargets(sc)
	if len(ts) != 4 {
		t.Fatalf("%d targets, want 3: %+v", len(ts), ts)
	}
	for i, want := range []struct{ role, url, key string }{
		{"server", sc.ServerMetrics, "prom-token"},
		{"gpu", `prom+http://p:9090?selector={namespace="llm",app="dcgm"}`, "prom-token"},
		{"gpu", "http://g:9400/metrics", ""},
		{"gpu", sc.ServerMetrics, "prom-token"}, // the same prom+ URL reads the DCGM series for --gpu-metrics
	} {
		if tg := ts[i]; tg.Role != want.role || tg.URL != want.url || tg.APIKey != want.key || (observe.IsProm(tg.URL) && tg.KeyOrigin != "") {
			t.Errorf("target %d: %+v, want %+v", i, tg, want)
		}
	}
}
