package pace

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

type release struct {
	seq      int64
	released time.Duration // what the pacer reported
	clock    time.Duration // the bubble's clock at the callback
}

// runPacer runs p over plans fed by feed (which owns and closes the channel)
// and returns what was released.
func runPacer(t *testing.T, ctx context.Context, p *Pacer, epoch time.Time, feed func(chan<- *request.Plan)) ([]release, error) {
	t.Helper()
	in := make(chan *request.Plan, 16)
	go feed(in)
	var got []release
	err := p.Run(ctx, in, func(pl *request.Plan, released time.Duration) {
		got = append(got, release{pl.Seq, released, time.Since(epoch)})
	})
	return got, err
}

func plansAt(dues ...time.Duration) []*request.Plan {
	out := make([]*request.Plan, len(dues))
	for i, d := range dues {
		out[i] = &request.Plan{Seq: int64(i), Due: d}
	}
	return out
}

func feedAll(plans []*request.Plan) func(chan<- *request.Plan) {
	return func(in chan<- *request.Plan) {
		defer close(in)
		for _, p := range plans {
			in <- p
		}
	}
}

func checkReleases(t *testing.T, got []release, want []time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("released %d plans, want %d", len(got), len(want))
	}
	for i, r := range got {
		if r.seq != int64(i) {
			t.Errorf("release %d is seq %d: out of order", i, r.seq)
		}
		if r.released != want[i] || r.clock != want[i] {
			t.Errorf("seq %d released at %v (clock %v), want %v", r.seq, r.released, r.clock, want[i])
		}
	}
}

func TestPacerReleasesExactlyOnTime(t *testing.T) {
	// A small trace: arrival instants as a trace reader would give them.
	at := []time.Duration{0, 350 * time.Millisecond, time.Second, 1234567890, 3 * time.Second, 3 * time.Second, 10 * time.Second}
	for _, speedup := range []float64{10, 100} {
		synctest.Test(t, func(t *testing.T) {
			s := Replay(speedup)
			var want []time.Duration
			var plans []*request.Plan
			for i, a := range at {
				d := s.Due(a)
				want = append(want, d)
				plans = append(plans, &request.Plan{Seq: int64(i), Due: d})
			}
			if want[len(want)-1] != time.Duration(float64(10*time.Second)/speedup) {
				t.Fatalf("last due %v at speedup %v", want[len(want)-1], speedup)
			}
			epoch := time.Now()
			got, err := runPacer(t, t.Context(), NewPacer(epoch), epoch, feedAll(plans))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkReleases(t, got, want)
		})
	}
}

func TestPacerEpochInTheFuture(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now().Add(200 * time.Millisecond)
		got, err := runPacer(t, t.Context(), NewPacer(epoch), epoch, feedAll(plansAt(0, 50*time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		checkReleases(t, got, []time.Duration{0, 50 * time.Millisecond})
	})
}

func TestPacerLatePlansGoAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		plans := plansAt(0, time.Second, 2*time.Second, 7*time.Second)
		got, err := runPacer(t, t.Context(), NewPacer(epoch), epoch, func(in chan<- *request.Plan) {
			defer close(in)
			in <- plans[0]
			time.Sleep(5 * time.Second) // a planner stall: plans 1 and 2 are late
			for _, p := range plans[1:] {
				in <- p
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		// Late plans are not spread out, and the one after them is on time.
		checkReleases(t, got, []time.Duration{0, 5 * time.Second, 5 * time.Second, 7 * time.Second})
	})
}

func TestPacerPauseShiftsLaterPlans(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		p := NewPacer(epoch)
		go func() {
			time.Sleep(1500 * time.Millisecond)
			p.Pause()
			p.Pause() // no effect
			time.Sleep(2 * time.Second)
			if got := p.Paused(); got != 2*time.Second {
				t.Errorf("Paused during the pause = %v, want 2s", got)
			}
			p.Resume()
			p.Resume() // no effect
		}()
		got, err := runPacer(t, t.Context(), p, epoch, feedAll(plansAt(time.Second, 2*time.Second, 3*time.Second, 4*time.Second)))
		if err != nil {
			t.Fatal(err)
		}
		checkReleases(t, got, []time.Duration{time.Second, 4 * time.Second, 5 * time.Second, 6 * time.Second})
		if p.Paused() != 2*time.Second || p.IsPaused() {
			t.Errorf("after resume: Paused %v IsPaused %v", p.Paused(), p.IsPaused())
		}
	})
}

func TestPacerPlanArrivingWhilePaused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		p := NewPacer(epoch)
		plans := plansAt(time.Second, 5*time.Second)
		got, err := runPacer(t, t.Context(), p, epoch, func(in chan<- *request.Plan) {
			defer close(in)
			in <- plans[0]
			time.Sleep(2 * time.Second)
			p.Pause()
			time.Sleep(time.Second)
			in <- plans[1] // arrives while paused, due (5s) while still paused
			time.Sleep(5 * time.Second)
			p.Resume() // at 8s: 6s paused, so plan 1 is due at 11s
		})
		if err != nil {
			t.Fatal(err)
		}
		checkReleases(t, got, []time.Duration{time.Second, 11 * time.Second})
	})
}

func TestPacerStopsOnContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			time.Sleep(1500 * time.Millisecond)
			cancel()
		}()
		in := make(chan *request.Plan, 4)
		for _, pl := range plansAt(time.Second, 2*time.Second, 3*time.Second) {
			in <- pl
		}
		var released []int64
		err := NewPacer(epoch).Run(ctx, in, func(pl *request.Plan, _ time.Duration) { released = append(released, pl.Seq) })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		if time.Since(epoch) != 1500*time.Millisecond {
			t.Errorf("returned at %v, want at the cancel (1.5s)", time.Since(epoch))
		}
		if len(released) != 1 || released[0] != 0 {
			t.Errorf("released %v, want only seq 0", released)
		}
	})
}
