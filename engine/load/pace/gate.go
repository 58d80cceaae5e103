package pace

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// OnFull says what the gate does with a released plan when every worker is
// busy.
type OnFull uint8

const (
	// Queue holds the plan in an unbounded FIFO until a worker is free; the
	// wait is recorded as the result's queue time (Dispatched - Released).
	Queue OnFull = iota
	// Drop never sends the plan: it finishes at once with request.ErrDropped.
	Drop
)

func (o OnFull) String() string {
	if o == Drop {
		return "drop"
	}
	return "queue"
}

// Exec performs one request and fills res. It runs on a gate worker and
// must return once the request is over (or ctx is done).
type Exec func(ctx context.Context, p *request.Plan, res *request.Result)

type job struct {
	p        *request.Plan
	released time.Duration
}

// Gate caps the number of requests in flight with a fixed pool of worker
// goroutines, one per slot.
//
// Every admitted plan gets a freshly allocated Result (never pooled,
// started by request.NewResult) with Dispatched set (the instant, since
// epoch, a worker took it) before calling exec. It then hands the result
// to done, then to the plan's Reply (when set), and never touches it again:
// done owns res and may keep it; Reply may read it. done and Reply are
// called from many workers at once (and, in Drop mode, from the gate's drop
// reporter), so they must be safe for concurrent use.
//
// Submit, InFlight, Queued and Dropped are safe for concurrent use. Close
// must be called once, after the last Submit.
type Gate struct {
	limit  int
	onFull OnFull
	epoch  time.Time
	exec   Exec
	done   func(*request.Result)

	mu       sync.Mutex
	work     *sync.Cond // signalled when queue grows or the gate closes
	queue    fifo[job]
	busy     int // workers between taking a job and finishing it
	workers  int // worker goroutines started (at most limit)
	idle     int // workers waiting for a job and not yet signalled
	reserved int // Drop mode: admitted plans not yet finished
	closed   bool

	dropCond *sync.Cond
	drops    fifo[dropped]

	dropped atomic.Int64
	wg      sync.WaitGroup
}

// NewGate returns a gate of limit slots (and, for Drop, starts one
// goroutine that reports dropped plans to done off the pacer's path).
// Workers start on demand, one per slot at most, and stay for the gate's
// life: a run whose requests in flight stay far below the limit (closed-loop
// users that mostly think) costs the goroutines it uses, not the limit's.
// limit below 1 is treated as 1. Due offsets and result instants count from
// epoch.
func NewGate(limit int, onFull OnFull, epoch time.Time, exec Exec, done func(res *request.Result)) *Gate {
	limit = max(limit, 1)
	g := &Gate{limit: limit, onFull: onFull, epoch: epoch, exec: exec, done: done}
	g.work = sync.NewCond(&g.mu)
	g.dropCond = sync.NewCond(&g.mu)
	if onFull == Drop {
		g.wg.Go(g.reportDrops)
	}
	return g
}

// Submit hands a released plan to the gate. It never blocks on a worker:
// in Queue mode the plan joins the FIFO, in Drop mode it is either taken by
// an idle worker or dropped. Submit after Close panics.
func (g *Gate) Submit(p *request.Plan, released time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		panic("pace: Gate.Submit after Close")
	}
	if g.onFull == Drop {
		if g.reserved >= g.limit {
			g.dropped.Add(1)
			res := request.NewResult(p, released)
			res.Dispatched = released // never dispatched: no queue time
			res.Error = request.ErrDropped
			res.ErrorMsg = fmt.Sprintf("not sent: %d requests already in flight (concurrency limit, on_full = \"drop\")", g.limit)
			g.drops.push(dropped{p, res})
			g.dropCond.Signal()
			return
		}
		g.reserved++
	}
	g.queue.push(job{p, released})
	switch {
	case g.idle > 0:
		// Counted off here, not when the worker wakes, so that a second
		// Submit before it does starts another worker instead of queueing.
		g.idle--
		g.work.Signal()
	case g.workers < g.limit:
		g.workers++
		g.wg.Go(g.worker)
	}
}

func (g *Gate) worker() {
	for {
		g.mu.Lock()
		for g.queue.len() == 0 && !g.closed {
			g.idle++
			g.work.Wait()
		}
		if g.queue.len() == 0 {
			g.mu.Unlock()
			return
		}
		j := g.queue.pop()
		g.busy++
		g.mu.Unlock()

		res := request.NewResult(j.p, j.released)
		res.Dispatched = time.Since(g.epoch)
		// The executor gets its own context from the runner (which decides
		// drain and abort); the gate itself never cancels a request.
		g.exec(context.Background(), j.p, res)
		g.finish(j.p, res)

		g.mu.Lock()
		g.busy--
		if g.onFull == Drop {
			g.reserved--
		}
		g.mu.Unlock()
	}
}

type dropped struct {
	p   *request.Plan
	res *request.Result
}

// finish hands a finished request to done, then to the plan's Reply.
func (g *Gate) finish(p *request.Plan, res *request.Result) {
	g.done(res)
	if p.Reply != nil {
		p.Reply(res)
	}
}

func (g *Gate) reportDrops() {
	for {
		g.mu.Lock()
		for g.drops.len() == 0 && !g.closed {
			g.dropCond.Wait()
		}
		if g.drops.len() == 0 {
			g.mu.Unlock()
			return
		}
		d := g.drops.pop()
		g.mu.Unlock()
		g.finish(d.p, d.res)
	}
}

// Close stops admissions and waits until every queued and in-flight
// request has finished and every result (dropped ones included) has been
// handed to done.
func (g *Gate) Close() {
	g.mu.Lock()
	g.closed = true
	g.work.Broadcast()
	g.dropCond.Broadcast()
	g.mu.Unlock()
	g.wg.Wait()
}

// Discard empties the queue without sending what waits in it and returns
// how many plans it held. A graceful stop uses it: "no new requests" means
// none of the queued ones either; in-flight requests are not affected.
func (g *Gate) Discard() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.queue.len()
	for g.queue.len() > 0 {
		g.queue.pop()
	}
	return n
}

// InFlight is the number of requests a worker is executing now.
func (g *Gate) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.busy
}

// Queued is the number of plans waiting for a worker.
func (g *Gate) Queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.queue.len()
}

// Dropped is the number of plans dropped so far (Drop mode).
func (g *Gate) Dropped() int64 { return g.dropped.Load() }

// fifo is an unbounded queue that reuses its backing array: the head moves
// forward and the live part is slid down once the dead prefix dominates,
// so steady-state queueing does not allocate.
type fifo[T any] struct {
	buf  []T
	head int
}

func (q *fifo[T]) len() int { return len(q.buf) - q.head }

func (q *fifo[T]) push(v T) {
	if q.head > 0 && q.head >= len(q.buf)/2 && len(q.buf) == cap(q.buf) {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	q.buf = append(q.buf, v)
}

func (q *fifo[T]) pop() T {
	var zero T
	v := q.buf[q.head]
	q.buf[q.head] = zero // let the GC have it
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	}
	return v
}
