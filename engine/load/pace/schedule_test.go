package pace

import (
	"math"
	"testing"
	"time"
)

func dues(s Schedule, at ...time.Duration) []time.Duration {
	out := make([]time.Duration, len(at))
	for i, a := range at {
		out[i] = s.Due(a)
	}
	return out
}

func equalDurations(t *testing.T, got, want []time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestReplay(t *testing.T) {
	ms := time.Millisecond
	// A trace that does not start at 0: offsets count from the first row.
	at := []time.Duration{5 * time.Second, 5*time.Second + 350*ms, 6 * time.Second, 9 * time.Second, 9 * time.Second, 15*time.Second + 1234567}
	equalDurations(t, dues(Replay(10), at...), []time.Duration{0, 35 * ms, 100 * ms, 400 * ms, 400 * ms, 1*time.Second + 123457})
	equalDurations(t, dues(Replay(1), at...), []time.Duration{0, 350 * ms, time.Second, 4 * time.Second, 4 * time.Second, 10*time.Second + 1234567})
	equalDurations(t, dues(Replay(0.5), at[:3]...), []time.Duration{0, 700 * ms, 2 * time.Second})
}

func TestReplayUnsortedNeverGoesBack(t *testing.T) {
	got := dues(Replay(2), 0, 4*time.Second, 3*time.Second, 6*time.Second)
	equalDurations(t, got, []time.Duration{0, 2 * time.Second, 2 * time.Second, 3 * time.Second})
}

func TestConstant(t *testing.T) {
	ms := time.Millisecond
	equalDurations(t, dues(Constant(4), 99, 0, 7, 1), []time.Duration{0, 250 * ms, 500 * ms, 750 * ms})
	// Each due comes from the index, so thirds round per value and the
	// third lands exactly on the second: no accumulated rounding.
	equalDurations(t, dues(Constant(3), 0, 0, 0, 0, 0, 0, 0), []time.Duration{0, 333333333, 666666667, time.Second, 1333333333, 1666666667, 2 * time.Second})
	equalDurations(t, dues(Constant(math.Inf(1)), 0, 5, 9), []time.Duration{0, 0, 0})
	// A long run keeps its exact period.
	c := Constant(1000)
	var last time.Duration
	for range 1_000_001 {
		last = c.Due(0)
	}
	if last != 1000*time.Second {
		t.Fatalf("1,000,000th gap at 1000/s: due %v, want 1000s", last)
	}
}

// gaps draws n+1 due times and returns the n gaps in seconds.
func gaps(s Schedule, n int) []float64 {
	out := make([]float64, n)
	prev := s.Due(0)
	if prev != 0 {
		panic("first due is not 0")
	}
	for i := range out {
		d := s.Due(0)
		out[i] = (d - prev).Seconds()
		prev = d
	}
	return out
}

func meanVar(xs []float64) (mean, variance float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		variance += (x - mean) * (x - mean)
	}
	return mean, variance / float64(len(xs))
}

func within(t *testing.T, what string, got, want, relTol float64) {
	t.Helper()
	if math.Abs(got-want) > relTol*math.Abs(want) {
		t.Errorf("%s = %.6g, want %.6g ± %.1f%%", what, got, want, relTol*100)
	}
}

func TestPoissonStatistics(t *testing.T) {
	const rate, n = 50.0, 200_000
	g := gaps(Poisson(rate, 42), n)
	mean, variance := meanVar(g)
	// Standard errors at n=200k: mean 0.22%, variance ~0.5%.
	within(t, "mean gap", mean, 1/rate, 0.01)
	within(t, "gap variance", variance, 1/(rate*rate), 0.03)
	// The exponential's shape, not just its moments: P(gap < mean) = 1 - 1/e.
	below := 0
	for _, x := range g {
		if x < 1/rate {
			below++
		}
	}
	within(t, "P(gap < 1/rate)", float64(below)/n, 1-math.Exp(-1), 0.01)
	for _, x := range g {
		if x < 0 {
			t.Fatalf("negative gap %v", x)
		}
	}
}

func TestPoissonSeeded(t *testing.T) {
	a, b, c := Poisson(10, 7), Poisson(10, 7), Poisson(10, 8)
	same, differ := true, false
	for range 100 {
		x, y, z := a.Due(0), b.Due(0), c.Due(0)
		same = same && x == y
		differ = differ || x != z
	}
	if !same {
		t.Error("the same seed gave different arrivals")
	}
	if !differ {
		t.Error("different seeds gave the same arrivals")
	}
}

func TestGammaStatistics(t *testing.T) {
	const rate, n = 20.0, 200_000
	for _, b := range []float64{0.25, 1, 4} {
		g := gaps(Gamma(rate, b, 3), n)
		mean, variance := meanVar(g)
		within(t, "mean gap", mean, 1/rate, 0.015)
		// Squared coefficient of variation of a gamma is 1/shape.
		within(t, "gap CV²", variance/(mean*mean), 1/b, 0.05)
	}
}

func TestInvalidRatesPanic(t *testing.T) {
	for name, f := range map[string]func(){
		"replay 0":         func() { Replay(0) },
		"constant -1":      func() { Constant(-1) },
		"poisson NaN":      func() { Poisson(math.NaN(), 1) },
		"gamma burstiness": func() { Gamma(1, 0, 1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
