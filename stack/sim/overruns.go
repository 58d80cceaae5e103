package sim

import (
	"strconv"
	"sync"
	"time"

	"github.com/llmload/llmload/engine/shared/monoclock"
)

// overrunLog keeps the most recent overruns (deliveries or engine steps
// that started more than overrunThreshold late) with their instants on
// CLOCK_MONOTONIC, which every process on the machine shares. It is what
// lets llmload calibrate tell a simulator that fell behind from a machine
// that stalled: it matches each overrun against the stalls its jitter
// probe saw at the same instants.
//
// Overruns are rare by design, so add takes a mutex; it is safe for
// concurrent use, as is appendJSON.
type overrunLog struct {
	mono0 int64 // CLOCK_MONOTONIC ns at the server clock's origin

	mu     sync.Mutex
	ring   []overrun
	next   int   // slot of the next add
	logged int64 // every overrun ever added
}

type overrun struct {
	due int64 // CLOCK_MONOTONIC ns
	lag time.Duration
}

// overrunLogSize bounds the log: at 16 bytes an entry, 1 MiB.
const overrunLogSize = 1 << 16

// newOverrunLog ties the log to a server clock: now is that clock's
// reading (time since its origin).
func newOverrunLog(now func() time.Duration) *overrunLog {
	return &overrunLog{mono0: monoclock.Now() - int64(now()), ring: make([]overrun, 0, overrunLogSize)}
}

// add logs one overrun: due on the server clock, lag how late it started.
func (l *overrunLog) add(due, lag time.Duration) {
	o := overrun{due: l.mono0 + int64(due), lag: lag}
	l.mu.Lock()
	if len(l.ring) < cap(l.ring) {
		l.ring = append(l.ring, o)
	} else {
		l.ring[l.next] = o
	}
	l.next = (l.next + 1) % cap(l.ring)
	l.logged++
	l.mu.Unlock()
}

// appendJSON renders the overruns due at or after since (CLOCK_MONOTONIC
// ns), oldest first:
//
//	{"clock":"CLOCK_MONOTONIC","now_ns":N,"threshold_ns":N,"logged":N,
//	 "retained":N,"overruns":[[due_ns,lag_ns],...]}
//
// logged counts every overrun since the server started; retained is how
// many the log still holds (older ones were overwritten), so a reader can
// tell whether its window is complete.
func (l *overrunLog) appendJSON(b []byte, since int64) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	b = append(b, `{"clock":"CLOCK_MONOTONIC","now_ns":`...)
	b = strconv.AppendInt(b, monoclock.Now(), 10)
	b = append(b, `,"threshold_ns":`...)
	b = strconv.AppendInt(b, int64(overrunThreshold), 10)
	b = append(b, `,"logged":`...)
	b = strconv.AppendInt(b, l.logged, 10)
	b = append(b, `,"retained":`...)
	b = strconv.AppendInt(b, int64(len(l.ring)), 10)
	b = append(b, `,"overruns":[`...)
	first := true
	n := len(l.ring)
	start := 0
	if n == cap(l.ring) {
		start = l.next // the oldest entry once the ring has wrapped
	}
	for i := range n {
		o := l.ring[(start+i)%n]
		if o.due < since {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '[')
		b = strconv.AppendInt(b, o.due, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(o.lag), 10)
		b = append(b, ']')
	}
	return append(b, "]}"...)
}
