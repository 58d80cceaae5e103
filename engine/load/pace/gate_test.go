package pace

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// collector gathers results handed to done.
type collector struct {
	mu  sync.Mutex
	res map[int64]*request.Result
}

func newCollector() *collector { return &collector{res: map[int64]*request.Result{}} }

func (c *collector) done(r *request.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.res[r.Seq]; dup {
		panic("result delivered twice")
	}
	c.res[r.Seq] = r
}

func TestGateQueueIsFIFOAndRecordsQueueTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		c := newCollector()
		var order []int64
		exec := func(_ context.Context, p *request.Plan, res *request.Result) {
			order = append(order, p.Seq) // limit 1: no concurrent appends
			if res.Seq != p.Seq || res.Scheduled != p.Due || res.MaxTokens != p.MaxTokens || res.Scenario != "s" {
				t.Errorf("seq %d: result not filled from the plan: %+v", p.Seq, res)
			}
			time.Sleep(time.Second)
		}
		g := NewGate(1, Queue, epoch, exec, c.done)
		time.Sleep(500 * time.Millisecond)
		for i := range 5 {
			g.Submit(&request.Plan{Seq: int64(i), Due: 400 * time.Millisecond, Scenario: "s", MaxTokens: 7}, 500*time.Millisecond)
		}
		synctest.Wait()
		if g.InFlight() != 1 || g.Queued() != 4 {
			t.Errorf("after submitting 5 at limit 1: inflight %d queued %d, want 1 and 4", g.InFlight(), g.Queued())
		}
		g.Close()
		if time.Since(epoch) != 5500*time.Millisecond {
			t.Errorf("Close returned at %v, want after the last request (5.5s)", time.Since(epoch))
		}
		for i, s := range order {
			if s != int64(i) {
				t.Fatalf("execution order %v, want FIFO", order)
			}
		}
		for i := range int64(5) {
			r := c.res[i]
			if r == nil {
				t.Fatalf("no result for seq %d", i)
			}
			wantDispatch := 500*time.Millisecond + time.Duration(i)*time.Second
			if r.Released != 500*time.Millisecond || r.Dispatched != wantDispatch || r.QueueTime() != time.Duration(i)*time.Second {
				t.Errorf("seq %d: released %v dispatched %v queue %v, want 500ms, %v, %ds", i, r.Released, r.Dispatched, r.QueueTime(), wantDispatch, i)
			}
			if r.ScheduleLag() != 100*time.Millisecond {
				t.Errorf("seq %d: schedule lag %v, want 100ms", i, r.ScheduleLag())
			}
		}
		if g.InFlight() != 0 || g.Queued() != 0 || g.Dropped() != 0 {
			t.Errorf("after Close: inflight %d queued %d dropped %d", g.InFlight(), g.Queued(), g.Dropped())
		}
	})
}

func TestGateNeverExceedsLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, n = 3, 60
		epoch := time.Now()
		var cur, peak atomic.Int64
		exec := func(_ context.Context, p *request.Plan, _ *request.Result) {
			c := cur.Add(1)
			for {
				old := peak.Load()
				if c <= old || peak.CompareAndSwap(old, c) {
					break
				}
			}
			// Service times 100ms..1.3s, a fixed pattern.
			time.Sleep(time.Duration(100+(p.Seq*37)%13*100) * time.Millisecond)
			cur.Add(-1)
		}
		c := newCollector()
		g := NewGate(limit, Queue, epoch, exec, c.done)
		stop := make(chan struct{})
		var sampled sync.WaitGroup
		sampled.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
					if in := g.InFlight(); in > limit {
						t.Errorf("InFlight %d > limit %d", in, limit)
					}
				}
			}
		})
		for i := range n {
			if i%7 == 0 {
				time.Sleep(300 * time.Millisecond)
			}
			g.Submit(&request.Plan{Seq: int64(i)}, time.Since(epoch))
		}
		g.Close()
		close(stop)
		sampled.Wait()
		if peak.Load() != limit {
			t.Errorf("peak concurrency %d, want exactly the limit %d", peak.Load(), limit)
		}
		if len(c.res) != n {
			t.Errorf("%d results, want %d", len(c.res), n)
		}
	})
}

func TestGateDropMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		var executed atomic.Int64
		exec := func(_ context.Context, _ *request.Plan, _ *request.Result) {
			executed.Add(1)
			time.Sleep(time.Second)
		}
		c := newCollector()
		g := NewGate(2, Drop, epoch, exec, c.done)
		for i := range 5 {
			g.Submit(&request.Plan{Seq: int64(i), Due: 0}, 0)
		}
		synctest.Wait()
		if g.Dropped() != 3 || g.InFlight() != 2 || g.Queued() != 0 {
			t.Errorf("dropped %d inflight %d queued %d, want 3, 2, 0", g.Dropped(), g.InFlight(), g.Queued())
		}
		time.Sleep(1500 * time.Millisecond)
		g.Submit(&request.Plan{Seq: 5, Due: 1500 * time.Millisecond}, 1500*time.Millisecond) // slots free again
		g.Close()
		if executed.Load() != 3 || g.Dropped() != 3 {
			t.Errorf("executed %d dropped %d, want 3 and 3", executed.Load(), g.Dropped())
		}
		drops := 0
		for seq, r := range c.res {
			if r.Error == request.ErrDropped {
				drops++
				if seq < 2 || seq > 4 {
					t.Errorf("seq %d dropped, want 2..4", seq)
				}
				if r.Dispatched != r.Released || r.ErrorMsg == "" || r.Sent != 0 {
					t.Errorf("dropped result: %+v", r)
				}
			}
		}
		if drops != 3 || len(c.res) != 6 {
			t.Errorf("%d dropped results of %d, want 3 of 6", drops, len(c.res))
		}
	})
}

func TestGateSubmitAfterClosePanics(t *testing.T) {
	g := NewGate(1, Queue, time.Now(), func(context.Context, *request.Plan, *request.Result) {}, func(*request.Result) {})
	g.Close()
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	g.Submit(&request.Plan{}, 0)
}

func TestFIFOReusesItsArray(t *testing.T) {
	var q fifo[int]
	next, want := 0, 0
	for round := range 1000 {
		for range round%5 + 1 {
			q.push(next)
			next++
		}
		for range round % 4 {
			if q.len() == 0 {
				break
			}
			if v := q.pop(); v != want {
				t.Fatalf("pop %d, want %d", v, want)
			}
			want++
		}
	}
	for q.len() > 0 {
		if v := q.pop(); v != want {
			t.Fatalf("pop %d, want %d", v, want)
		}
		want++
	}
	if want != next {
		t.Fatalf("popped %d of %d", want, next)
	}
	// Steady state with a few items outstanding must not grow the array.
	for range 5 {
		q.push(0)
	}
	c := cap(q.buf)
	for range 100_000 {
		q.push(1)
		q.pop()
	}
	if cap(q.buf) > 2*c {
		t.Errorf("capacity grew from %d to %d under steady state", c, cap(q.buf))
	}
}

func TestGateDiscardDropsQueuedOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		var mu sync.Mutex
		var ran []int64
		g := NewGate(1, Queue, epoch, func(ctx context.Context, p *request.Plan, res *request.Result) {
			time.Sleep(time.Second)
			mu.Lock()
			ran = append(ran, p.Seq)
			mu.Unlock()
		}, func(*request.Result) {})
		for i := range 5 {
			g.Submit(&request.Plan{Seq: int64(i)}, 0)
		}
		synctest.Wait()
		if n := g.Discard(); n != 4 {
			t.Fatalf("discarded %d, want the 4 queued", n)
		}
		g.Close()
		if len(ran) != 1 || ran[0] != 0 {
			t.Fatalf("ran %v, want only the in-flight request 0", ran)
		}
	})
}
