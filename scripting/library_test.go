package scripting

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/capacity"
	"github.com/llmload/llmload/engine/load/pace"
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
		{"scenarios/capacity.lua", []string{"capacity"}, func(t *testing.T, s *Script) {
			if c := s.Scenarios[0].Capacity; c == nil || c.Search.Start != 1 || c.Search.Max != 256 || c.Goodput != 0.99 {
				t.Errorf("capacity: %+v", c)
			}
		}},
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

// TestPoissonSweepIsASearch: poisson_sweep.lua is a capacity search over
// Poisson arrivals whose options keep their old names.
func TestPoissonSweepIsASearch(t *testing.T) {
	inRoot(t)
	s := mustLoad(t, "scenarios/poisson_sweep.lua", Env{Seed: 1,
		Args: map[string]string{"start": "3", "target": "0.95", "step-time": "20s", "min-requests": "5"}})
	sc := s.Scenarios[0]
	c := sc.Capacity
	if c == nil || c.By != capacity.ByRate || c.Arrivals != capacity.ArrivalsPoisson || c.Search.Start != 3 ||
		c.Goodput != 0.95 || c.MinTime != 20*time.Second || c.MinRequests != 5 {
		t.Fatalf("capacity %+v", c)
	}
	if sc.SLO.TTFT != time.Second || sc.SLO.TPOT != 100*time.Millisecond {
		t.Errorf("slo %+v", sc.SLO)
	}
}
