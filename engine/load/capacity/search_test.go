package capacity

import (
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/llmload/llmload/engine/results/record"
)

// TestSearchOracle drives the pure search with exact verdicts (pass iff
// level <= knee) over knees spread across four decades: the answer is
// within the precision below the knee, and the step count stays within
// StepsFor, which is logarithmic in the range.
func TestSearchOracle(t *testing.T) {
	for _, knee := range []float64{0.3, 1, 2.5, 7, 40, 123, 999, 3000} {
		cfg := SearchConfig{Start: 1, Max: 4096, Precision: 0.05, Growth: 2}
		s := NewSearch(cfg)
		for {
			level, ok := s.Next()
			if !ok {
				break
			}
			v := Fail
			if level <= knee {
				v = Pass
			}
			s.Observe(level, v)
		}
		lo, hi := s.Bracket()
		if s.Reason() != ReasonConverged {
			t.Fatalf("knee %v: stopped %s, want converged", knee, s.Reason())
		}
		if lo > knee || hi <= knee || hi/lo-1 > cfg.Precision+1e-9 {
			t.Errorf("knee %v: bracket [%v, %v) does not hold it within %v", knee, lo, hi, cfg.Precision)
		}
		bound := StepsFor(cfg.Start, knee, cfg.Growth, cfg.Precision)
		if s.Steps() > bound {
			t.Errorf("knee %v: %d steps, more than the logarithmic bound %d", knee, s.Steps(), bound)
		}
	}
}

func TestSearchEnds(t *testing.T) {
	s := NewSearch(SearchConfig{Start: 8, Max: 20})
	for level, ok := s.Next(); ok; level, ok = s.Next() {
		s.Observe(level, Pass)
	}
	if lo, _ := s.Bracket(); s.Reason() != ReasonMaxPassed || lo != 20 {
		t.Errorf("all pass: reason %s, lo %v; want max_passed at 20", s.Reason(), lo)
	}
	s = NewSearch(SearchConfig{Start: 8, Max: 20, Min: 1})
	for level, ok := s.Next(); ok; level, ok = s.Next() {
		s.Observe(level, Fail)
	}
	if s.Reason() != ReasonNonePass || s.Steps() != 4 { // 8, 4, 2, 1
		t.Errorf("all fail: reason %s after %d steps; want none_passed after 4", s.Reason(), s.Steps())
	}
	s = NewSearch(SearchConfig{Start: 8, Max: 20})
	level, _ := s.Next()
	s.Observe(level, Untrusted)
	if again, ok := s.Next(); !ok || again != level {
		t.Fatalf("after an untrusted step: next %v %v, want %v again", again, ok, level)
	}
	s.Observe(level, Untrusted)
	if _, ok := s.Next(); ok || s.Reason() != ReasonUntrusted {
		t.Errorf("twice untrusted: reason %q, want untrusted", s.Reason())
	}
}

func TestWilson(t *testing.T) {
	lo, hi := wilson(99, 100)
	if math.Abs(lo-0.9455) > 0.001 || math.Abs(hi-0.9982) > 0.001 {
		t.Errorf("wilson(99, 100) = [%v, %v], want about [0.9455, 0.9982]", lo, hi)
	}
	if lo, hi := wilson(0, 0); lo != 0 || hi != 1 {
		t.Errorf("wilson(0, 0) = [%v, %v]", lo, hi)
	}
}

// quickSteps keeps synthetic steps short (they run on the bubble's clock,
// so this is about the amount of simulated work, not wall time).
func quickSteps(cfg Config) Config {
	cfg.Warmup, cfg.MinTime, cfg.MaxTime, cfg.MinRequests = 2*time.Second, 8*time.Second, 30*time.Second, 50
	cfg.Drain = 20 * time.Second
	return cfg
}

// TestSearchRateSynthetic runs the whole search, executor and runner
// included, against a server whose knee is known exactly (constant
// arrivals against Slots/Service): the answer is within the precision
// below the knee, and the steps are within the logarithmic bound.
func TestSearchRateSynthetic(t *testing.T) {
	for _, c := range []struct {
		slots   int
		service time.Duration
	}{{4, 400 * time.Millisecond}, {16, 250 * time.Millisecond}} {
		synctest.Test(t, func(t *testing.T) {
			srv := &queueServer{slots: c.slots, service: c.service, prefill: 20 * time.Millisecond}
			knee := srv.capacity()
			cfg := quickSteps(Config{
				Name: "cap", Arrivals: ArrivalsConstant,
				Search: SearchConfig{Start: 1, Max: 1024, Precision: 0.05},
				SLO:    record.SLO{TTFT: 50 * time.Millisecond}, Goodput: 0.99,
			})
			res := runSearch(t, srv, cfg)
			if res.Reason != ReasonConverged {
				t.Fatalf("knee %v: stopped %s", knee, res.Reason)
			}
			// Constant arrivals only just above the knee queue slowly, so
			// allow the answer 2% over it.
			if res.Answer > knee*1.02 || res.Answer < knee/(1+cfg.Search.Precision) {
				t.Errorf("knee %v: answer %v not within %v below it", knee, res.Answer, cfg.Search.Precision)
			}
			if bound := StepsFor(1, knee, 2, 0.05); len(res.Steps) > bound {
				t.Errorf("knee %v: %d steps, bound %d", knee, len(res.Steps), bound)
			}
			for _, s := range res.Steps {
				if s.Verdict == Untrusted {
					t.Errorf("step %d untrusted: %s", s.N, s.Why)
				}
			}
		})
	}
}

// TestSearchConcurrencySynthetic: closed loop, the knee is the number of
// slots exactly (one more user and every request waits).
func TestSearchConcurrencySynthetic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &queueServer{slots: 24, service: 300 * time.Millisecond, prefill: 20 * time.Millisecond}
		cfg := quickSteps(Config{
			Name: "cap", By: ByConcurrency,
			Search: SearchConfig{Start: 1, Max: 512, Precision: 0.05},
			SLO:    record.SLO{TTFT: 50 * time.Millisecond},
		})
		res := runSearch(t, srv, cfg)
		if res.Answer != 24 || res.Reason != ReasonConverged {
			t.Errorf("answer %v (%s), want 24 converged", res.Answer, res.Reason)
		}
		if bound := StepsFor(1, 24, 2, 0.05); len(res.Steps) > bound {
			t.Errorf("%d steps, bound %d", len(res.Steps), bound)
		}
	})
}

// TestSaturationStopsEarly: a step at four times the knee ends within a
// few ticks of its warm-up, failed, instead of running its 60 s.
func TestSaturationStopsEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &queueServer{slots: 4, service: 400 * time.Millisecond, prefill: 20 * time.Millisecond}
		knee := srv.capacity()
		cfg := Config{
			Name: "cap", Search: SearchConfig{Start: 4 * knee, Max: 4 * knee, Min: 4 * knee},
			SLO: record.SLO{TTFT: time.Second}, Warmup: 2 * time.Second, MaxTime: 60 * time.Second,
		}
		res := runSearch(t, srv, cfg)
		s := res.Steps[0]
		if s.Ended != EndedSaturated || s.Verdict != Fail {
			t.Fatalf("step at 4x the knee: ended %s, verdict %s; want saturated, fail", s.Ended, s.Verdict)
		}
		limit := cfg.Warmup + time.Duration(DefaultSaturation.Windows+2)*time.Second
		if s.Duration > limit {
			t.Errorf("saturated step ran %v, want <= %v", s.Duration, limit)
		}
		t.Logf("stopped after %v: %s", s.Duration, s.Why)
	})
}

// TestSaturationFalseStops runs Poisson steps at 50-85%% of the knee
// (stable, though noisy) and counts how many the saturation rule stopped:
// its false-stop rate, documented in docs/scripting.md.
func TestSaturationFalseStops(t *testing.T) {
	loads := []float64{0.5, 0.6, 0.7, 0.8, 0.85}
	seeds := 8
	if testing.Short() {
		seeds = 2
	}
	stops, total := 0, 0
	for _, load := range loads {
		for seed := range seeds {
			synctest.Test(t, func(t *testing.T) {
				srv := &queueServer{slots: 8, service: 500 * time.Millisecond, prefill: 20 * time.Millisecond}
				rate := load * srv.capacity()
				cfg := quickSteps(Config{
					Name: "cap", Seed: uint64(seed) * 1000, Arrivals: ArrivalsPoisson,
					Search: SearchConfig{Start: rate, Max: rate},
					SLO:    record.SLO{TTFT: 2 * time.Second}, MaxTime: 30 * time.Second, MinTime: 28 * time.Second,
				})
				res := runSearch(t, srv, cfg)
				total++
				if res.Steps[0].Ended == EndedSaturated {
					stops++
					t.Logf("false stop at load %.2f seed %d: %s", load, seed, res.Steps[0].Why)
				}
			})
		}
	}
	t.Logf("false stops: %d of %d stable steps", stops, total)
	if stops > total/20 {
		t.Errorf("%d of %d stable steps stopped as saturated; the rule is too eager", stops, total)
	}
}

// TestJudgeLag: when llmload lagged, a pass is untrusted (the server saw
// less than the level) but a failure stands.
func TestJudgeLag(t *testing.T) {
	e := &Executor{cfg: Config{Goodput: 0.9, MaxLag: 100 * time.Millisecond, MaxQueue: 100 * time.Millisecond}}
	for _, c := range []struct {
		goodput, lagMS, queueMS float64
		want                    Verdict
	}{
		{1, 5, 5, Pass}, {1, 500, 5, Untrusted}, {1, 5, 500, Untrusted}, {0.5, 500, 500, Fail}, {0.5, 5, 5, Fail},
	} {
		r := StepResult{Ended: EndedDone, Judged: 100, Goodput: c.goodput, LagP99MS: c.lagMS, QueueP99MS: c.queueMS}
		e.judge(&r)
		if r.Verdict != c.want {
			t.Errorf("goodput %v lag %vms queue %vms: %s, want %s (%s)", c.goodput, c.lagMS, c.queueMS, r.Verdict, c.want, r.Why)
		}
	}
}
