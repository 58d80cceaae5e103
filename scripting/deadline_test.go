package scripting

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// deadlineCall starts a call of limit on d and returns its context.
func deadlineCall(d *callDeadline, limit time.Duration) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	d.start(limit, cancel)
	return ctx
}

// cancelledAfter waits (in the bubble) until ctx is cancelled and returns
// how long that took from now; it fails the test past max.
func cancelledAfter(t *testing.T, ctx context.Context, max time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return time.Since(t0)
	case <-time.After(max):
		t.Fatalf("the call was not stopped within %v", max)
		return 0
	}
}

func TestCallDeadlineStopsALongCallAtItsLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var d callDeadline
		defer d.stop()
		ctx := deadlineCall(&d, time.Second)
		if got := cancelledAfter(t, ctx, time.Hour); got != time.Second {
			t.Fatalf("stopped after %v, want exactly the limit, 1s", got)
		}
	})
}

func TestCallDeadlineLeavesShortCallsAlone(t *testing.T) {
	// Ten seconds of calls of 10 ms every 50 ms against a limit of 1 s:
	// the timer fires while calls run and while none does, and stops
	// none of them.
	synctest.Test(t, func(t *testing.T) {
		var d callDeadline
		defer d.stop()
		for range 200 {
			ctx := deadlineCall(&d, time.Second)
			time.Sleep(10 * time.Millisecond)
			if ctx.Err() != nil {
				t.Fatal("a 10 ms call was stopped by a 1 s limit")
			}
			d.done()
			time.Sleep(40 * time.Millisecond)
		}
	})
}

func TestCallDeadlineOfACallStartedAfterTheTimerWasSet(t *testing.T) {
	// The timer is set by a call at 0 s for 1 s; a call starting at 0.5 s
	// and never ending is found running at 1 s and stopped at its own
	// deadline, 1.5 s.
	synctest.Test(t, func(t *testing.T) {
		var d callDeadline
		defer d.stop()
		t0 := time.Now()
		deadlineCall(&d, time.Second)
		time.Sleep(100 * time.Millisecond)
		d.done()
		time.Sleep(400 * time.Millisecond)
		ctx := deadlineCall(&d, time.Second)
		cancelledAfter(t, ctx, time.Hour)
		if got := time.Since(t0); got != 1500*time.Millisecond {
			t.Fatalf("stopped at %v, want 1.5s (its start plus the limit)", got)
		}
	})
}

func TestCallDeadlineShorterThanTheTimer(t *testing.T) {
	// A setup hook's long limit set the timer 10 s ahead; the request
	// function called after it is still stopped at its own 1 s.
	synctest.Test(t, func(t *testing.T) {
		var d callDeadline
		defer d.stop()
		deadlineCall(&d, 10*time.Second)
		time.Sleep(time.Millisecond)
		d.done()
		ctx := deadlineCall(&d, time.Second)
		if got := cancelledAfter(t, ctx, time.Hour); got != time.Second {
			t.Fatalf("stopped after %v, want 1s", got)
		}
	})
}

func TestCallDeadlineStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var d callDeadline
		ctx := deadlineCall(&d, time.Second)
		d.stop()
		time.Sleep(time.Minute)
		if ctx.Err() != nil {
			t.Fatal("a call was stopped after the deadline was")
		}
		d.done()
		ctx = deadlineCall(&d, time.Second)
		time.Sleep(time.Minute)
		if ctx.Err() != nil {
			t.Fatal("a call started after stop was stopped")
		}
	})
}
