package progress

import (
	"math"
	"testing"
	"time"
)

func TestRateSlidingWindow(t *testing.T) {
	r := Rate{Span: 5 * time.Second}
	if _, ok := r.PerSecond(); ok {
		t.Fatal("a rate from no observation")
	}
	r.Observe(time.Second, 100)
	if _, ok := r.PerSecond(); ok {
		t.Fatal("a rate from one observation")
	}
	// 100 a second for 10 s, then 1000 a second.
	for s := 2; s <= 10; s++ {
		r.Observe(time.Duration(s)*time.Second, int64(100*s))
	}
	if got, _ := r.PerSecond(); got != 100 || r.Covered() != 5*time.Second {
		t.Errorf("steady: %v/s over %v, want 100/s over 5s", got, r.Covered())
	}
	for s := 11; s <= 13; s++ {
		r.Observe(time.Duration(s)*time.Second, 1000+int64(1000*(s-10)))
	}
	// Window 8s..13s: 800 -> 4000.
	if got, _ := r.PerSecond(); got != 640 {
		t.Errorf("after the step: %v/s, want (4000-800)/5 = 640", got)
	}
	// Out-of-order and repeated instants are ignored.
	r.Observe(13*time.Second, 0)
	r.Observe(12*time.Second, 0)
	if got, _ := r.PerSecond(); got != 640 {
		t.Errorf("after stale observations: %v/s", got)
	}
	// Memory stays bounded by the span, however long the run.
	for s := 14; s < 10000; s++ {
		r.Observe(time.Duration(s)*time.Second, int64(s))
	}
	if len(r.obs) > 7 {
		t.Errorf("%d observations kept for a 5s span at 1/s", len(r.obs))
	}
}

// The progress line showed 13m41s at 0.8 s into a 50 s run: three requests
// had finished, in the first window. With the schedule's end known the
// time left is the schedule's; without it, nothing until the finishing
// rate has MinHistory behind it, and then a steady figure.
func TestETA(t *testing.T) {
	var tr Tracker
	in := Input{At: 800 * time.Millisecond, Done: 3, Total: 500, ScheduleEnd: 50 * time.Second}
	if got := tr.Update(in).ETA; got != 49200*time.Millisecond {
		t.Errorf("0.8s into a 50s schedule: ETA %v, want 49.2s", got)
	}

	// No schedule end (a replayed trace): finishing rate 10/s with the
	// lumps of windows finishing every other second (0, 20, 0, 20, ...).
	tr = Tracker{}
	done := int64(0)
	prev := time.Duration(-1)
	for tick := 1; tick <= 60; tick++ {
		if tick%2 == 0 {
			done += 20
		}
		est := tr.Update(Input{At: time.Duration(tick) * time.Second, Done: done, Total: 1000})
		if tick < 6 {
			if est.ETA >= 0 {
				t.Errorf("at %ds (history %v): ETA %v, want unknown", tick, tr.finished.Covered(), est.ETA)
			}
			continue
		}
		// 10/s: the time left is (1000-done)/10 s. Lumps at the window's
		// edges put the first estimates off by up to a fifth, never tenfold,
		// and it never jumps between refreshes.
		truth := time.Duration(1000-done) * time.Second / 10
		if d := est.ETA - truth; d < -truth/5 || d > truth/5 {
			t.Errorf("ETA %v at %ds, want within 20%% of %v", est.ETA, tick, truth)
		}
		if prev >= 0 {
			if step := prev - est.ETA; step < -3*time.Second || step > 5*time.Second {
				t.Errorf("ETA jumped from %v to %v at %ds", prev, est.ETA, tick)
			}
		}
		prev = est.ETA
	}

	// 200 requests at 20/s behind a concurrency cap that finishes 9 a
	// second: the queue at the gate grows, and the schedule's end (10 s)
	// is not the run's. A run that keeps up, with its early finishing rate
	// low (answers take a while), keeps the schedule's.
	held, keepingUp := Tracker{}, Tracker{}
	var heldETA, keepingUpETA time.Duration
	for s := 1; s <= 8; s++ {
		at := time.Duration(s) * time.Second
		heldETA = held.Update(Input{At: at, Done: int64(9 * s), Total: 200, ScheduleEnd: 10 * time.Second, Queued: 11 * s}).ETA
		keepingUpETA = keepingUp.Update(Input{At: at, Done: int64(2 * s), Total: 200, ScheduleEnd: 10 * time.Second}).ETA
	}
	if want := time.Duration(128) * time.Second / 9; heldETA != want {
		t.Errorf("held back by the gate at 8s: ETA %v, want 128 left at 9/s = %v", heldETA, want)
	}
	if keepingUpETA != 2*time.Second {
		t.Errorf("keeping up at 8s: ETA %v, want the schedule's 2s", keepingUpETA)
	}

	// After the schedule's end the in-flight tail is extrapolated.
	tr = Tracker{}
	for s := 1; s <= 10; s++ {
		tr.Update(Input{At: time.Duration(s) * time.Second, Done: int64(10 * s), Total: 150, ScheduleEnd: 8 * time.Second})
	}
	if got := tr.Update(Input{At: 11 * time.Second, Done: 110, Total: 150, ScheduleEnd: 8 * time.Second}).ETA; got != 4*time.Second {
		t.Errorf("past the schedule's end: ETA %v, want 40 left at 10/s = 4s", got)
	}
	// Requests that take longer than the countdown said: the time left
	// never reads 0 (or unknown) while some are left.
	tr = Tracker{}
	for s := 1; s <= 20; s++ {
		tr.Update(Input{At: time.Duration(s) * time.Second, Done: int64(10 * s), Total: 220})
	}
	for s := 21; s <= 40; s++ {
		if got := tr.Update(Input{At: time.Duration(s) * time.Second, Done: 200, Total: 220}).ETA; got <= 0 {
			t.Fatalf("at %ds, 20 requests left: ETA %v", s, got)
		}
	}
	// Everything done: 0; a stop: unknown; no total and no end: unknown.
	if got := tr.Update(Input{At: 12 * time.Second, Done: 150, Total: 150}).ETA; got != 0 {
		t.Errorf("all done: %v", got)
	}
	if got := tr.Update(Input{At: 13 * time.Second, Done: 140, Total: 150, ScheduleEnd: 20 * time.Second, Stopping: true}).ETA; got >= 0 {
		t.Errorf("stopping: %v, want unknown", got)
	}
	if got := (&Tracker{}).Update(Input{At: 13 * time.Second, Done: 140}).ETA; got >= 0 {
		t.Errorf("no total, no end: %v, want unknown", got)
	}
	// A duration run without a total still has its schedule's end.
	if got := (&Tracker{}).Update(Input{At: 13 * time.Second, Done: 140, ScheduleEnd: time.Minute}).ETA; got != 47*time.Second {
		t.Errorf("duration run: %v, want 47s", got)
	}
}

// 500 streams receiving 10 tokens a second each while few finish: the
// rate is of the tokens as they arrive.
func TestTokensPerSecond(t *testing.T) {
	var tr Tracker
	var est Estimate
	for s := 1; s <= 8; s++ {
		est = tr.Update(Input{At: time.Duration(s) * time.Second, StreamedTokens: int64(5000 * s), StreamCounted: true})
	}
	if est.TokensPerSec != 5000 {
		t.Errorf("tok/s = %v, want 5000", est.TokensPerSec)
	}
	if est := (&Tracker{}).Update(Input{At: time.Second, StreamedTokens: 10}); !math.IsNaN(est.TokensPerSec) {
		t.Errorf("tok/s without a counting client = %v, want NaN", est.TokensPerSec)
	}
}
