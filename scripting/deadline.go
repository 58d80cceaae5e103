package scripting

import (
	"context"
	"sync"
	"time"

	"github.com/llmload/llmload/engine/shared/monoclock"
)

// callDeadline stops a call of script code that runs past its limit, by
// cancelling the context the call runs under.
//
// A run calls script code for every request and every session step, each
// a few microseconds, against a limit of a second. Starting and stopping
// a timer around every call, with the clock reads that go with it, cost
// two operations on the runtime's timer heap and, on a cold cache, about
// a tenth of a session step (docs/performance.md, "Sessions": session 5).
// Instead one timer stays set while
// calls are being made: when it fires it looks at the call running then,
// cancels it if it is past its limit, sets itself again for that call's
// deadline if not, and stays idle if no call is running. A call never
// runs without the timer set to fire at or before its deadline.
//
// Concurrency: start and done are called by the goroutine that holds the
// script's lock, one call at a time; the timer's function runs on a
// goroutine of its own; stop may be called from either. mu guards every
// field against the timer's function.
type callDeadline struct {
	mu      sync.Mutex
	timer   *time.Timer
	set     bool          // the timer is set to fire
	fireAt  time.Duration // when (monoclock.Now)
	running bool          // a call is under way
	began   time.Duration // the call's start (monoclock.Now)
	limit   time.Duration
	cancel  context.CancelCauseFunc // the running call's context
	stopped bool
}

// start begins a call limited to limit, to be stopped by cancel.
func (d *callDeadline) start(limit time.Duration, cancel context.CancelCauseFunc) {
	now := time.Duration(monoclock.Now()) // one clock read; time.Now makes two
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running, d.began, d.limit, d.cancel = true, now, limit, cancel
	if d.stopped {
		return
	}
	due := now + limit
	if d.set && d.fireAt <= due {
		return // set to fire at or before this call's deadline: it will look then
	}
	d.set, d.fireAt = true, due
	if d.timer == nil {
		d.timer = time.AfterFunc(limit, d.fire)
		return
	}
	d.timer.Reset(limit)
}

// done ends the call started last.
func (d *callDeadline) done() {
	d.mu.Lock()
	d.running, d.cancel = false, nil
	d.mu.Unlock()
}

// stop stops the timer for good; later calls run without a deadline.
func (d *callDeadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped, d.set = true, false
	if d.timer != nil {
		d.timer.Stop()
	}
}

// fire is the timer's function.
func (d *callDeadline) fire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.set = false
	if !d.running || d.stopped {
		return // idle until the next call
	}
	now := time.Duration(monoclock.Now())
	if left := d.began + d.limit - now; left > 0 {
		d.set, d.fireAt = true, now+left
		d.timer.Reset(left)
		return
	}
	d.cancel(nil)
}
