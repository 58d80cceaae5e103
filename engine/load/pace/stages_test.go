package pace

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

func sec(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// allDues draws from s until End (at most max values).
func allDues(t *testing.T, s Schedule, max int) []time.Duration {
	t.Helper()
	var out []time.Duration
	for range max {
		d := s.Due(0)
		if d == End {
			return out
		}
		out = append(out, d)
	}
	t.Fatalf("no End after %d arrivals", max)
	return nil
}

func mustStages(t *testing.T, start float64, st ...Stage) Schedule {
	t.Helper()
	s, err := Stages(start, st)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStagesExactInstants checks k6's ramping-arrival-rate instants: arrival
// n is where the integral of the piecewise-linear rate reaches n.
func TestStagesExactInstants(t *testing.T) {
	s := mustStages(t, 0,
		Stage{Rate: 10, Duration: 10 * time.Second}, // 0→10: ∫ = t²/2, 50 arrivals at sqrt(2n)
		Stage{Rate: 10, Duration: 5 * time.Second},  // flat: 50 more, one every 100 ms
		Stage{Rate: 0, Duration: 0},                 // jump to 0
		Stage{Rate: 0, Duration: 5 * time.Second},   // idle until 20 s
		Stage{Rate: 4, Duration: time.Second},       // 0→4 over 1 s: ∫ = 2t², arrivals at sqrt(n/2)
	)
	var want []time.Duration
	for n := 1; n <= 50; n++ {
		want = append(want, sec(math.Sqrt(2*float64(n))))
	}
	for n := 1; n <= 50; n++ {
		want = append(want, 10*time.Second+time.Duration(n)*100*time.Millisecond)
	}
	want = append(want, 20*time.Second+sec(math.Sqrt(0.5)), 21*time.Second)
	got := allDues(t, s, 1000)
	equalDurations(t, got, want)
	// Values that are exact in decimal, as a cross-check of the formula.
	for n, w := range map[int]time.Duration{2: 2 * time.Second, 8: 4 * time.Second, 18: 6 * time.Second, 50: 10 * time.Second} {
		if got[n-1] != w {
			t.Errorf("arrival %d at %v, want %v", n, got[n-1], w)
		}
	}
	if d := s.Due(0); d != End {
		t.Errorf("Due after End = %v", d)
	}
}

func TestStagesRampDownAndStartRate(t *testing.T) {
	// 10→0 over 10 s: ∫ = 10t - t²/2, arrival n at 10 - sqrt(100 - 2n).
	got := allDues(t, mustStages(t, 10, Stage{Rate: 0, Duration: 10 * time.Second}), 100)
	if len(got) != 50 {
		t.Fatalf("%d arrivals, want 50", len(got))
	}
	for n, w := range map[int]time.Duration{18: 2 * time.Second, 32: 4 * time.Second, 42: 6 * time.Second, 50: 10 * time.Second} {
		if got[n-1] != w {
			t.Errorf("arrival %d at %v, want %v", n, got[n-1], w)
		}
	}
	for n := 1; n <= 50; n++ {
		if w := sec(10 - math.Sqrt(100-2*float64(n))); absDur(got[n-1]-w) > 1 {
			t.Errorf("arrival %d at %v, want %v", n, got[n-1], w)
		}
	}
	// A start rate and a flat first stage: k6 starts at 1/rate, not at 0.
	equalDurations(t, allDues(t, mustStages(t, 4, Stage{Rate: 4, Duration: time.Second}), 10),
		[]time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond, time.Second})
	// A fractional total: 2.5 requests' worth of rate gives 2 arrivals.
	if got := allDues(t, mustStages(t, 0, Stage{Rate: 5, Duration: time.Second}), 10); len(got) != 2 {
		t.Errorf("0→5 over 1s: %d arrivals (%v), want 2", len(got), got)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// TestStagesMatchesNumericIntegral checks an irregular profile against a
// brute-force integration of the rate: the count of arrivals by time t is
// floor(∫₀ᵗ r).
func TestStagesMatchesNumericIntegral(t *testing.T) {
	st := []Stage{{3, 2 * time.Second}, {17.5, 3500 * time.Millisecond}, {17.5, time.Second}, {1, 4 * time.Second}, {30, 0}, {2, 1500 * time.Millisecond}}
	rate := func(x float64) float64 {
		from, t0 := 0.5, 0.0
		for _, s := range st {
			d := s.Duration.Seconds()
			if x < t0+d {
				return from + (s.Rate-from)*(x-t0)/d
			}
			from, t0 = s.Rate, t0+d
		}
		return 0
	}
	got := allDues(t, mustStages(t, 0.5, st...), 10_000)
	const h = 1e-5
	integral, n := 0.0, 0
	for x := 0.0; x < 12; x += h {
		integral += rate(x+h/2) * h
		for n < len(got) && got[n].Seconds() <= x+h {
			n++
		}
		if want := int(math.Floor(integral + 1e-9)); n != want && math.Abs(integral-math.Round(integral)) > 1e-3 {
			t.Fatalf("by %.5fs: %d arrivals, want floor(%.6f) = %d", x+h, n, integral, want)
		}
	}
	if len(got) != int(math.Floor(integral+1e-6)) {
		t.Errorf("%d arrivals in all, integral %.6f", len(got), integral)
	}
}

func TestStagesPoissonStatistics(t *testing.T) {
	// 0→400/s over 50 s: 10,000 expected arrivals, rate 8t.
	st := []Stage{{Rate: 400, Duration: 50 * time.Second}}
	const runs = 4
	counts := make([]float64, 5) // per 10-second bucket, over all runs
	for run := range runs {
		s, err := StagesPoisson(0, st, uint64(run+1))
		if err != nil {
			t.Fatal(err)
		}
		prev := time.Duration(-1)
		for _, d := range allDues(t, s, 1_000_000) {
			if d < prev {
				t.Fatalf("due %v before %v", d, prev)
			}
			prev = d
			counts[min(int(d/(10*time.Second)), 4)]++
		}
	}
	for i, c := range counts {
		// ∫ 8t over [10i, 10i+10] = 400(2i+1); Poisson sd = sqrt(mean).
		mean := float64(runs) * 400 * float64(2*i+1)
		if math.Abs(c-mean) > 4*math.Sqrt(mean) {
			t.Errorf("bucket %d: %v arrivals over %d runs, want %v ± %.0f", i, c, runs, mean, 4*math.Sqrt(mean))
		}
	}
	// Within a flat stage the gaps are exponential: variance = mean².
	s, _ := StagesPoisson(50, []Stage{{Rate: 50, Duration: 2000 * time.Second}}, 7)
	g := make([]float64, 0, 100_000)
	prev := time.Duration(0)
	for _, d := range allDues(t, s, 200_000) {
		g = append(g, (d - prev).Seconds())
		prev = d
	}
	mean, variance := meanVar(g)
	within(t, "flat-stage mean gap", mean, 1.0/50, 0.01)
	within(t, "flat-stage gap CV²", variance/(mean*mean), 1, 0.03)
	a, _ := StagesPoisson(0, st, 9)
	b, _ := StagesPoisson(0, st, 9)
	for range 100 {
		if x, y := a.Due(0), b.Due(0); x != y {
			t.Fatalf("same seed, different arrivals: %v, %v", x, y)
		}
	}
}

func TestStagesErrors(t *testing.T) {
	for _, c := range []struct {
		start float64
		st    []Stage
		want  string
	}{
		{0, nil, "at least one stage"},
		{-1, []Stage{{1, time.Second}}, "start rate must be a finite number >= 0, got -1"},
		{0, []Stage{{1, time.Second}, {math.NaN(), time.Second}}, "stage 2: rate must be"},
		{0, []Stage{{math.Inf(1), time.Second}}, "stage 1: rate must be"},
		{0, []Stage{{1, -time.Second}}, "stage 1: duration -1s is negative"},
	} {
		_, err := Stages(c.start, c.st)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Stages(%v, %v) = %v, want an error containing %q", c.start, c.st, err, c.want)
		}
	}
	// All-zero stages simply have no arrivals.
	if d := mustStages(t, 0, Stage{0, time.Minute}).Due(0); d != End {
		t.Errorf("zero-rate stage: Due = %v, want End", d)
	}
}

// TestStagesThroughPacer releases a ramp through the real pacer on the
// bubble's clock: every plan goes out exactly at its integrated instant.
func TestStagesThroughPacer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := mustStages(t, 0, Stage{Rate: 8, Duration: time.Second}, Stage{Rate: 8, Duration: time.Second})
		var plans []*request.Plan
		var want []time.Duration
		for d := s.Due(0); d != End; d = s.Due(0) {
			plans = append(plans, &request.Plan{Seq: int64(len(plans)), Due: d})
			want = append(want, d)
		}
		if len(plans) != 12 { // ∫ = 4 + 8
			t.Fatalf("%d plans, want 12", len(plans))
		}
		epoch := time.Now()
		got, err := runPacer(t, context.Background(), NewPacer(epoch), epoch, feedAll(plans))
		if err != nil {
			t.Fatal(err)
		}
		checkReleases(t, got, want)
	})
}

func TestConstantSetRate(t *testing.T) {
	ms := time.Millisecond
	s := Constant(10)
	rs := s.(RateSetter)
	got := dues(s, 0, 0, 0)
	if err := rs.SetRate(4); err != nil {
		t.Fatal(err)
	}
	got = append(got, dues(s, 0, 0)...)
	_ = rs.SetRate(4) // the same rate: no new segment
	got = append(got, s.Due(0))
	_ = rs.SetRate(math.Inf(1))
	got = append(got, dues(s, 0, 0)...)
	_ = rs.SetRate(1)
	got = append(got, s.Due(0))
	equalDurations(t, got, []time.Duration{0, 100 * ms, 200 * ms, 450 * ms, 700 * ms, 950 * ms, 950 * ms, 950 * ms, 1950 * ms})
	if rs.Rate() != 1 {
		t.Errorf("Rate = %v", rs.Rate())
	}
	for _, bad := range []float64{0, -2, math.NaN()} {
		if err := rs.SetRate(bad); err == nil || !strings.Contains(err.Error(), "rate must be > 0") {
			t.Errorf("SetRate(%v) = %v", bad, err)
		}
	}
	if rs.Rate() != 1 {
		t.Errorf("a refused rate changed it: %v", rs.Rate())
	}
	// A rate set before the first Due applies from the start.
	c := Constant(1)
	_ = c.(RateSetter).SetRate(5)
	equalDurations(t, dues(c, 0, 0, 0), []time.Duration{0, 200 * ms, 400 * ms})
}

func TestRandomSetRate(t *testing.T) {
	const n = 100_000
	for name, s := range map[string]Schedule{"poisson": Poisson(10, 1), "gamma": Gamma(10, 0.5, 1)} {
		g1 := gaps(s, n)
		if err := s.(RateSetter).SetRate(40); err != nil {
			t.Fatal(err)
		}
		prev := s.Due(0) // its gap was drawn at the new rate too, but skip it
		g2 := make([]float64, n)
		for i := range g2 {
			d := s.Due(0)
			g2[i] = (d - prev).Seconds()
			prev = d
		}
		m1, v1 := meanVar(g1)
		m2, v2 := meanVar(g2)
		within(t, name+" mean gap before", m1, 0.1, 0.02)
		within(t, name+" mean gap after", m2, 0.025, 0.02)
		// The shape stays: CV² = 1/burstiness.
		within(t, name+" CV² after", v2/(m2*m2), v1/(m1*m1), 0.06)
	}
}

// TestSetRateConcurrent changes rates from other goroutines while the
// planner draws; run with -race.
func TestSetRateConcurrent(t *testing.T) {
	for _, s := range []Schedule{Constant(100), Poisson(100, 1), Gamma(100, 2, 1)} {
		rs := s.(RateSetter)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := range 2 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					_ = rs.SetRate(float64(50 + (i+g)%100))
				}
			})
		}
		prev := time.Duration(0)
		for range 20_000 {
			d := s.Due(0)
			if d < prev {
				t.Fatalf("%T: due %v before %v", s, d, prev)
			}
			prev = d
		}
		close(stop)
		wg.Wait()
		if r := rs.Rate(); r < 50 || r >= 150 {
			t.Errorf("Rate = %v", r)
		}
	}
}

func TestFunc(t *testing.T) {
	var calls []time.Duration
	s := NewFunc(func(n int64, at time.Duration) (time.Duration, bool, error) {
		calls = append(calls, at)
		if n == 4 {
			return 0, false, nil
		}
		return time.Duration(n+1) * time.Second, true, nil
	})
	equalDurations(t, allDues(t, s, 10), []time.Duration{time.Second, 3 * time.Second, 6 * time.Second, 10 * time.Second})
	equalDurations(t, calls, []time.Duration{0, time.Second, 3 * time.Second, 6 * time.Second, 10 * time.Second})
	if s.Err() != nil || s.Due(0) != End || len(calls) != 5 {
		t.Errorf("after the end: err %v, calls %d", s.Err(), len(calls))
	}

	boom := errors.New("boom")
	f := NewFunc(func(n int64, _ time.Duration) (time.Duration, bool, error) {
		if n == 1 {
			return 0, true, boom
		}
		return 0, true, nil
	})
	if f.Due(0) != 0 || f.Due(0) != End || !errors.Is(f.Err(), boom) || !strings.Contains(f.Err().Error(), "arrival 1") {
		t.Errorf("failing function: err %v", f.Err())
	}
	neg := NewFunc(func(int64, time.Duration) (time.Duration, bool, error) { return -1, true, nil })
	if neg.Due(0) != End || neg.Err() == nil || !strings.Contains(neg.Err().Error(), "negative") {
		t.Errorf("negative gap: err %v", neg.Err())
	}
	// A huge gap saturates below End instead of overflowing.
	big := NewFunc(func(int64, time.Duration) (time.Duration, bool, error) { return End, true, nil })
	if d := big.Due(0); d != End-1 {
		t.Errorf("huge gap: Due = %v", d)
	}
}

func BenchmarkStages(b *testing.B) {
	s, _ := Stages(0, []Stage{{Rate: 1e6, Duration: time.Duration(math.MaxInt64 / 4)}})
	for b.Loop() {
		s.Due(0)
	}
}
