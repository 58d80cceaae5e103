package capacity_test

import (
	"context"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/launch"
	"github.com/llmload/llmload/engine/load/capacity"
	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/session"
	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/internal/simtest"
	"github.com/llmload/llmload/stack/sim"
)

type shortRows struct{}

func (shortRows) Next() (trace.Row, error) {
	return trace.Row{ContextTokens: 64, GeneratedTokens: 32}, nil
}
func (shortRows) Close() error { return nil }

type chatMapper struct{}

func (chatMapper) Map(row trace.Row) (openai.Spec, error) {
	return openai.Spec{Endpoint: request.Chat, PromptTokens: row.ContextTokens, MaxTokens: row.GeneratedTokens, IgnoreEOS: true}, nil
}

// TestCapacityAgainstSimulator runs a concurrency search end to end
// (launch, runner, client, HTTP) against the simulator's calibrated
// profile limited to 8 running sequences: a ninth request waits for a
// whole answer (32 decode steps) before its first token, far beyond the
// 150 ms TTFT objective, so the knee is 8 requests in flight.
func TestCapacityAgainstSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("runs about 15 s of real load against the simulator")
	}
	cfg := sim.DefaultConfig()
	cfg.MaxNumSeqs = 8
	url := simtest.Start(t, cfg)
	res := searchOnSim(t, launch.Scenario{
		Source: shortRows{}, Mapper: chatMapper{}, URL: url, Model: cfg.Model, Concurrency: 64,
		Capacity: &capacity.Config{
			By: capacity.ByConcurrency, Search: capacity.SearchConfig{Start: 4, Max: 64, Precision: 0.1},
			Warmup: 500 * time.Millisecond, MinTime: 1500 * time.Millisecond, MinRequests: 20, MaxTime: 4 * time.Second,
			Tick: 250 * time.Millisecond,
		},
	})
	for _, s := range res.Steps {
		t.Logf("step %d: %v users %s (%s) goodput %.3f ttft p99 %.0fms, %.1fs", s.N, s.Level, s.Verdict, s.Ended, s.Goodput, s.TTFTP99MS, s.SendS+s.DrainS)
	}
	if res.Answer != 8 || res.Reason != capacity.ReasonConverged {
		t.Errorf("answer %v (%s), want 8 converged", res.Answer, res.Reason)
	}
}

// TestCapacityUsersAgainstSimulator: a search over session users end to
// end against the simulator limited to 4 running sequences. The users'
// turns go back to back, so a fifth user's turn waits for a whole answer
// before its first token: the knee is 4 users.
func TestCapacityUsersAgainstSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("runs about 8 s of real load against the simulator")
	}
	cfg := sim.DefaultConfig()
	cfg.MaxNumSeqs = 4
	url := simtest.Start(t, cfg)
	res := searchOnSim(t, launch.Scenario{
		URL: url, Model: cfg.Model, Concurrency: 16,
		Sessions: &launch.SessionSpec{
			Config:  session.Config{Steered: true},
			Program: func(*openai.Builder) session.Program { return capacity.Chat(3, 64, 32) },
		},
		Capacity: &capacity.Config{
			By: capacity.ByUsers, Search: capacity.SearchConfig{Start: 4, Max: 8, Precision: 0.1},
			Warmup: 300 * time.Millisecond, MinTime: time.Second, MinRequests: 10, MaxTime: 3 * time.Second,
			Tick: 250 * time.Millisecond,
		},
	})
	for _, s := range res.Steps {
		t.Logf("step %d: %v users %s (%s) judged %d goodput %.3f ttft p99 %.0fms, %.1fs", s.N, s.Level, s.Verdict, s.Ended, s.Judged, s.Goodput, s.TTFTP99MS, s.SendS+s.DrainS)
	}
	if res.Answer != 4 || res.Reason != capacity.ReasonConverged || res.Unit != "users" {
		t.Errorf("answer %v %s (%s), want 4 users converged", res.Answer, res.Unit, res.Reason)
	}
}

// searchOnSim runs sc, a capacity search named "cap" with a 150 ms TTFT
// objective, through launch and returns its result, which must also be
// summary.json's "capacity".
func searchOnSim(t *testing.T, sc launch.Scenario) *capacity.Result {
	t.Helper()
	sc.Name, sc.SLO = "cap", record.SLO{TTFT: 150 * time.Millisecond}
	sc.Timeout, sc.StallTimeout = 30*time.Second, 10*time.Second
	sc.SampleInterval, sc.DrainTimeout, sc.ServerMetrics = time.Second, time.Second, "off"
	run, err := launch.Prepare(context.Background(), launch.Config{Calibrate: launch.CalibrateOff, Scenarios: []launch.Scenario{sc}})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	if err := run.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	so := run.Wait().Scenarios[0]
	if so.Err != nil {
		t.Fatal(so.Err)
	}
	res := so.Capacity
	if res == nil || so.Summary.Extra["capacity"] != res {
		t.Fatalf("no capacity result in the outcome and summary: %v", res)
	}
	if sc.Sessions != nil && so.Summary.Extra["sessions"] == nil {
		t.Fatal("no sessions section in the summary")
	}
	return res
}
