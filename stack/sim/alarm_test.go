package sim

import (
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestAlarmFiresAtDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		now := func() time.Duration { return time.Since(t0) }
		a := newAlarm(now, false)
		go a.run()
		defer a.close()
		rng := rand.New(rand.NewPCG(1, 1))
		var wg sync.WaitGroup
		for i := range 300 {
			at := time.Duration(rng.IntN(100000)) * time.Microsecond
			wg.Go(func() {
				w := newWaiter()
				if i%10 == 0 { // a cancelled deadline must not fire
					a.set(w, at)
					a.cancel(w)
					select {
					case <-w.c:
						t.Errorf("cancelled waiter fired")
					case <-time.After(200 * time.Millisecond):
					}
					return
				}
				time.Sleep(at / 2) // set from many goroutines at different times
				a.set(w, at)
				<-w.c
				if got := now(); got < at-coalesce || got > at {
					t.Errorf("deadline %v fired at %v", at, got)
				}
			})
		}
		wg.Wait()
	})
}

// On the real clock (timerfd plus Go timers) no deadline is missed and the
// lateness stays far below the 1 ms of Go timers on an idle process.
func TestAlarmRealClock(t *testing.T) {
	t0 := time.Now()
	now := func() time.Duration { return time.Since(t0) }
	a := newAlarm(now, true)
	go a.run()
	defer a.close()
	const n = 200
	lates := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			w := newWaiter()
			at := now() + time.Duration(1+i%50)*time.Millisecond
			a.set(w, at)
			select {
			case <-w.c:
				lates[i] = now() - at
			case <-time.After(5 * time.Second):
				t.Errorf("deadline %v never fired", at)
			}
		})
	}
	wg.Wait()
	var sum time.Duration
	for _, l := range lates {
		if l < -coalesce {
			t.Fatalf("fired %v early", -l)
		}
		sum += l
	}
	if mean := sum / n; mean > 2*time.Millisecond {
		t.Fatalf("mean lateness %v", mean)
	}
}
