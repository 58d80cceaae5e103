package sim

import (
	"sync"
	"time"
)

// alarm wakes goroutines at absolute instants of the server's monotonic
// clock. It keeps every pending deadline in one heap behind a single timer,
// so a thousand streams cost one wake-up per due instant, not a thousand Go
// timers. On Linux the timer is a timerfd polled by the runtime's netpoller:
// Go's own timers wake up to 1 ms late on an idle process (the netpoller
// sleeps in whole milliseconds), which would make the fixed profile a poor
// accuracy reference; a timerfd fires within the kernel's hrtimer slack.
//
// An alarm is safe for concurrent use; run must be called once, on its own
// goroutine.
type alarm struct {
	now   func() time.Duration
	timer wakeTimer

	mu     sync.Mutex
	heap   []*waiter
	armed  time.Duration // deadline the timer is armed for; -1 = disarmed
	closed bool

	fired []*waiter // run's scratch
}

// coalesce lets one wake-up also release waiters due this soon after it:
// cheaper than arming the timer again for an instant the wake-up latency
// would overshoot anyway.
const coalesce = 25 * time.Microsecond

// waiter is one goroutine's slot in the alarm. Its channel receives a value
// when the deadline it was set for is due. A waiter belongs to one goroutine
// at a time.
type waiter struct {
	at  time.Duration
	idx int // position in the heap; -1 when not pending
	c   chan struct{}
}

func newWaiter() *waiter { return &waiter{idx: -1, c: make(chan struct{}, 1)} }

// wakeTimer is a one-shot timer that can be re-armed from any goroutine
// while wait blocks on another.
type wakeTimer interface {
	arm(d time.Duration) // fire once after d (now if d <= 0), replacing any earlier arming
	wait() bool          // block until fired; false once closed
	close()
}

func newAlarm(now func() time.Duration, precise bool) *alarm {
	var t wakeTimer
	if precise {
		t = newPreciseTimer()
	}
	if t == nil {
		t = newGoTimer()
	}
	return &alarm{now: now, timer: t, armed: -1}
}

// set schedules w to fire at at. w must not be pending.
func (a *alarm) set(w *waiter, at time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	w.at = at
	w.idx = len(a.heap)
	a.heap = append(a.heap, w)
	a.up(w.idx)
	if a.armed < 0 || at < a.armed {
		a.armed = at
		a.timer.arm(at - a.now())
	}
}

// cancel withdraws w if it is pending. A value it may already have
// received stays in its channel.
func (a *alarm) cancel(w *waiter) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w.idx >= 0 {
		a.removeAt(w.idx)
	}
}

// run releases due waiters until close.
func (a *alarm) run() {
	for a.timer.wait() {
		now := a.now()
		a.mu.Lock()
		fired := a.fired[:0]
		for len(a.heap) > 0 && a.heap[0].at <= now+coalesce {
			w := a.heap[0]
			a.removeAt(0)
			fired = append(fired, w)
		}
		a.armed = -1
		if len(a.heap) > 0 && !a.closed {
			a.armed = a.heap[0].at
			a.timer.arm(a.armed - a.now())
		}
		a.mu.Unlock()
		for i, w := range fired {
			select {
			case w.c <- struct{}{}:
			default:
			}
			fired[i] = nil
		}
		a.fired = fired
	}
}

func (a *alarm) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closed {
		a.closed = true
		a.timer.close()
	}
}

func (a *alarm) up(i int) {
	h := a.heap
	for i > 0 {
		p := (i - 1) / 2
		if h[p].at <= h[i].at {
			break
		}
		h[p], h[i] = h[i], h[p]
		h[p].idx, h[i].idx = p, i
		i = p
	}
}

func (a *alarm) down(i int) {
	h := a.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].at < h[l].at {
			m = r
		}
		if h[i].at <= h[m].at {
			return
		}
		h[m], h[i] = h[i], h[m]
		h[m].idx, h[i].idx = m, i
		i = m
	}
}

func (a *alarm) removeAt(i int) {
	h := a.heap
	last := len(h) - 1
	w := h[i]
	if i != last {
		h[i] = h[last]
		h[i].idx = i
	}
	h[last] = nil
	a.heap = h[:last]
	if i != last {
		a.down(i)
		a.up(i)
	}
	w.idx = -1
}

// goTimer is the portable wakeTimer on Go's runtime timers. It is also what
// tests use inside a testing/synctest bubble, whose fake clock drives it.
type goTimer struct {
	t    *time.Timer
	done chan struct{}
}

func newGoTimer() *goTimer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &goTimer{t: t, done: make(chan struct{})}
}

func (g *goTimer) arm(d time.Duration) {
	if d < 0 {
		d = 0
	}
	g.t.Reset(d)
}

func (g *goTimer) wait() bool {
	select {
	case <-g.t.C:
		return true
	case <-g.done:
		return false
	}
}

func (g *goTimer) close() {
	g.t.Stop()
	close(g.done)
}
