package scripting

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/results/record"
)

// TestScenarioLibrary loads every scenario of scenarios/ that this package
// documents, maps a few rows of each and draws its first arrivals.
func TestScenarioLibrary(t *testing.T) {
	inRoot(t)
	for _, c := range []struct {
		file  string
		names []string
		check func(t *testing.T, s *Script)
	}{
		{"scenarios/azure_code.lua", []string{"azure-code"}, func(t *testing.T, s *Script) {
			sc := s.Scenarios[0]
			if sc.SLO.TTFT != 2*time.Second || len(sc.Thresholds) != 1 || sc.Arrivals != "replay{speedup=1}" {
				t.Errorf("azure-code: slo %+v thresholds %v arrivals %s", sc.SLO, sc.Thresholds, sc.Arrivals)
			}
		}},
		{"scenarios/azure_mixed.lua", []string{"code", "conv"}, func(t *testing.T, s *Script) {
			if s.Scenarios[0].Concurrency != 8 || s.Scenarios[1].Concurrency != 16 {
				t.Errorf("concurrency %d, %d", s.Scenarios[0].Concurrency, s.Scenarios[1].Concurrency)
			}
		}},
		{"scenarios/poisson_sweep.lua", []string{"poisson-sweep"}, nil},
		{"scenarios/ramp.lua", []string{"ramp"}, func(t *testing.T, s *Script) {
			// 0→20/s over 30 s, 60 s at 20/s, 20→0 over 30 s: 300 + 1200 +
			// 300, of which the loop above drew 8.
			if n := len(dueList(s.Scenarios[0].Schedule, 5000)); n != 1800-8 {
				t.Errorf("ramp: %d more arrivals, want 1792", n)
			}
		}},
		{"scenarios/burst.lua", []string{"burst"}, func(t *testing.T, s *Script) {
			if sc := s.Scenarios[0]; sc.WarmupRequests != 5 || !strings.HasPrefix(sc.Arrivals, "gamma{rate=8, burstiness=0.25") {
				t.Errorf("burst: warmup %d arrivals %s", sc.WarmupRequests, sc.Arrivals)
			}
		}},
		{"scenarios/custom_shape.lua", []string{"diurnal"}, func(t *testing.T, s *Script) {
			// One two-minute day between 1 and 10 req/s: about 660 arrivals,
			// denser in the first (rising) half than in the second.
			d := dueList(s.Scenarios[0].Schedule, 5000)
			if err := s.Scenarios[0].Schedule.(*pace.Func).Err(); err != nil {
				t.Fatal(err)
			}
			half := 0
			for _, x := range d {
				if x < time.Minute {
					half++
				}
			}
			if len(d) < 560 || len(d) > 760 || half < 2*(len(d)-half) || d[len(d)-1] > 2*time.Minute {
				t.Errorf("diurnal: %d arrivals, %d in the first half, last at %v", len(d), half, d[len(d)-1])
			}
		}},
	} {
		t.Run(c.file, func(t *testing.T) {
			s := mustLoad(t, c.file, Env{Seed: 1, Print: &bytes.Buffer{}})
			if len(s.Scenarios) != len(c.names) {
				t.Fatalf("%d scenarios, want %d", len(s.Scenarios), len(c.names))
			}
			for i, sc := range s.Scenarios {
				if sc.Name != c.names[i] {
					t.Errorf("scenario %d is %q, want %q", i, sc.Name, c.names[i])
				}
				prev := time.Duration(-1)
				for j := range 8 {
					row, err := sc.Source.Next()
					if err != nil {
						t.Fatalf("%s row %d: %v", sc.Name, j, err)
					}
					sp, err := sc.Mapper.Map(row)
					if err != nil {
						t.Fatalf("%s Map(row %d): %v", sc.Name, j, err)
					}
					if sp.PromptTokens != row.ContextTokens || sp.MaxTokens != row.GeneratedTokens {
						t.Errorf("%s row %d: spec %+v for row %+v", sc.Name, j, sp, row)
					}
					due := sc.Schedule.Due(row.At)
					if due == pace.End || due < prev {
						t.Fatalf("%s arrival %d at %v after %v", sc.Name, j, due, prev)
					}
					prev = due
				}
			}
			if c.check != nil {
				c.check(t, s)
			}
		})
	}
}

// TestAzureCodeQuickRun checks that the code scenario's first 40 synthetic
// arrivals (seed 1) fit in well under a minute, so `--limit 40` is quick.
func TestAzureCodeQuickRun(t *testing.T) {
	inRoot(t)
	s := mustLoad(t, "scenarios/azure_code.lua", Env{Seed: 1})
	sc := s.Scenarios[0]
	var last time.Duration
	for range 40 {
		row, err := sc.Source.Next()
		if err != nil {
			t.Fatal(err)
		}
		last = sc.Schedule.Due(row.At)
	}
	if last > 30*time.Second {
		t.Errorf("40 code arrivals take %v", last)
	}
}

// TestPoissonSweepLogic drives the sweep's hooks with made-up results: it
// climbs while steps are good, falls back when the SLO breaks, and reports
// the highest good rate.
func TestPoissonSweepLogic(t *testing.T) {
	inRoot(t)
	var out bytes.Buffer
	s := mustLoad(t, "scenarios/poisson_sweep.lua", Env{Seed: 1, Print: &out,
		Args: map[string]string{"start": "2", "step": "2", "step-time": "10", "min-requests": "5"}})
	sc := s.Scenarios[0]
	h := sc.Hooks
	rate := func() float64 { return sc.Schedule.(pace.RateSetter).Rate() }
	if sc.SLO.TTFT != time.Second || sc.SLO.TPOT != 100*time.Millisecond || sc.Duration != 100*time.Second {
		t.Fatalf("slo %+v duration %v", sc.SLO, sc.Duration)
	}
	// Each step: 10 requests scheduled in its 10 s; TTFT good below 6 req/s.
	seq := int64(0)
	for step := range 4 {
		start := time.Duration(step) * 10 * time.Second
		for i := range 10 {
			ttft := 200 * time.Millisecond
			if rate() >= 6 && i < 5 {
				ttft = 3 * time.Second // half the requests miss the SLO
			}
			r := &request.Result{Seq: seq, Scheduled: start + time.Duration(i)*time.Second, CompletionTokens: 2}
			r.Sent = r.Scheduled
			r.FirstToken, r.LastByte = r.Sent+ttft, r.Sent+ttft+10*time.Millisecond
			seq++
			if err := h.OnResponse(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.OnWindow(&record.Window{Start: start + 5*time.Second, Len: 5 * time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	// 2 and 4 passed, 6 broke: back to 4, and no more climbing.
	if rate() != 4 {
		t.Errorf("rate after the sweep %v, want 4", rate())
	}
	if err := h.Teardown(&record.Summary{RequestGoodput: 1.5, RequestThroughput: 2}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"   2.00 req/s:   10 requests, 100.0% good",
		"   6.00 req/s:   10 requests,  50.0% good",
		"highest rate meeting the SLO: 4.00 req/s (broken at 6.00 req/s)",
		"run: request goodput 1.50 req/s of 2.00 req/s throughput",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("teardown output lacks %q:\n%s", want, out.String())
		}
	}
}
