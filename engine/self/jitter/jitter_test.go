package jitter

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// scripted is a clock whose sleeps overshoot by a scripted amount, and
// that cancels the probe after its script runs out.
type scripted struct {
	t      int64
	over   []time.Duration // lateness of each successive wake-up
	i      int
	cancel func()
}

func (c *scripted) now() int64 { return c.t }

func (c *scripted) sleepUntil(t int64) {
	var o time.Duration
	if c.i < len(c.over) {
		o = c.over[c.i]
	}
	c.i++
	if c.i >= len(c.over) {
		c.cancel()
	}
	c.t = max(c.t, t) + int64(o)
}

func TestProbeCountsStallsAndSkipsMissedDeadlines(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	us := time.Microsecond
	c := &scripted{t: 1_000_000, cancel: cancel,
		// on time, 20 µs, a 3.2 ms stall (spans six 500 µs deadlines), on time, 1 ms exactly
		over: []time.Duration{0, 20 * us, 3200 * us, 0, time.Millisecond}}
	var stalls []Stall
	rep := probe(ctx, 3, Config{}.withDefaults(), c, func(s Stall) { stalls = append(stalls, s) })
	if rep.Wakeups != 5 || rep.Stalls != 2 {
		t.Fatalf("wakeups %d stalls %d, want 5 and 2", rep.Wakeups, rep.Stalls)
	}
	if rep.Stalled != 4200*us || rep.Max != 3200*us {
		t.Fatalf("stalled %v max %v, want 4.2ms and 3.2ms", rep.Stalled, rep.Max)
	}
	if len(stalls) != 2 || stalls[0].CPU != 3 || stalls[0].Late != 3200*us {
		t.Fatalf("stalls %+v", stalls)
	}
	// The third deadline was at start + 3 intervals; after waking 3.2 ms
	// late, the next deadline is the first one after the wake-up, so the
	// fourth wake-up is on a deadline, not a backlog of missed ones.
	if want := int64(1_000_000 + 3*500_000); stalls[0].At != want {
		t.Fatalf("stall at %d, want %d", stalls[0].At, want)
	}
	if got, want := stalls[1].At, stalls[0].End()+(500_000-int64(200*us))+500_000; got != want {
		t.Fatalf("second stall at %d, want %d (deadlines stay on the grid)", got, want)
	}
	if rep.P50 > 25*us || rep.P99 < 3*time.Millisecond {
		t.Fatalf("p50 %v p99 %v", rep.P50, rep.P99)
	}
}

func TestLatencyHistQuantileBounds(t *testing.T) {
	h := newLatencyHist()
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.quantile(tc.q)
		if got < tc.want || float64(got) > float64(tc.want)*1.125 {
			t.Errorf("q%.2f = %v, want within [%v, +12.5%%]", tc.q, got, tc.want)
		}
	}
}

func TestStallsOverlaps(t *testing.T) {
	var ss Stalls
	if ss.Overlaps(0, 100) {
		t.Fatal("empty set overlaps")
	}
	ss.Add(Stall{CPU: 1, At: 5000, Late: 2000})  // [5000, 7000]
	ss.Add(Stall{CPU: 0, At: 1000, Late: 10000}) // [1000, 11000]: long, starts first
	ss.Add(Stall{CPU: 0, At: 20000, Late: 1000}) // [20000, 21000]
	for _, tc := range []struct {
		from, to int64
		want     bool
	}{
		{0, 999, false}, {0, 1000, true}, {10999, 12000, true}, {11001, 19999, false},
		{12000, 13000, false}, {21000, 22000, true}, {21001, 22000, false}, {6000, 6000, true},
	} {
		if got := ss.Overlaps(tc.from, tc.to); got != tc.want {
			t.Errorf("Overlaps(%d, %d) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestStallsCovered(t *testing.T) {
	var ss Stalls
	if ss.Covered(0, 100) != 0 {
		t.Fatal("empty set covers time")
	}
	ss.Add(Stall{CPU: 0, At: 10, Late: 20}) // [10, 30]
	ss.Add(Stall{CPU: 1, At: 20, Late: 20}) // [20, 40]: overlaps the first
	ss.Add(Stall{CPU: 0, At: 50, Late: 10}) // [50, 60]
	ss.Add(Stall{CPU: 1, At: 95, Late: 50}) // [95, 145]: clipped
	for _, tc := range []struct {
		from, to int64
		want     time.Duration
	}{{0, 100, 30 + 10 + 5}, {25, 55, 15 + 5}, {60, 95, 0}, {100, 50, 0}} {
		if got := ss.Covered(tc.from, tc.to); got != tc.want {
			t.Errorf("Covered(%d, %d) = %d, want %d", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestRunOnThisMachine(t *testing.T) {
	if runtime.GOOS != "linux" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if _, err := Run(ctx, Config{}, nil); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("err %v, want ErrUnsupported", err)
		}
		return
	}
	cpus, err := allowedCPUs()
	if err != nil || len(cpus) == 0 {
		t.Fatalf("allowed CPUs %v: %v", cpus, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	rep, err := Run(ctx, Config{Interval: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.CPUs) != len(cpus) {
		t.Fatalf("%d CPU reports, want %d", len(rep.CPUs), len(cpus))
	}
	for _, c := range rep.CPUs {
		// 300 deadlines at most; a machine busy enough to run fewer than
		// ten in 300 ms is not measuring anything.
		if c.Wakeups < 10 || c.Wakeups > 301 {
			t.Errorf("CPU %d: %d wake-ups in 300 ms at a 1 ms interval", c.CPU, c.Wakeups)
		}
		if c.P50 > c.P99 || c.P99 > c.Max {
			t.Errorf("CPU %d: p50 %v p99 %v max %v out of order", c.CPU, c.P50, c.P99, c.Max)
		}
	}
	t.Log(rep)
}
