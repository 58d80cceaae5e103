package sim

import (
	"sync"
	"time"

	"github.com/llmload/llmload/stack/sim/batching"
)

// maxDebt is how far behind its absolute schedule the engine loop may fall
// before it gives up catching up and restarts the schedule from now.
const maxDebt = 5 * time.Millisecond

// batcher runs the h100 profile: one goroutine drives the continuous
// batching scheduler in real time. Each step is scheduled at the previous
// step's deadline (not at whenever the loop got around to it), lasts what the
// cost model says, and ends at an absolute deadline; its tokens are then
// published to the requests' streams.
//
// submit and abort are safe for concurrent use; everything else belongs to
// the run goroutine.
type batcher struct {
	s    *Server
	sch  *batching.Scheduler
	cost batching.CostModel

	mu     sync.Mutex
	inbox  []*request
	aborts []*request
	kick   chan struct{}

	w      *waiter
	exited chan struct{}
	prev   batching.Totals
}

func newBatcher(s *Server) (*batcher, error) {
	c := s.cfg
	sch, err := batching.New(batching.Config{
		MaxNumSeqs:          c.MaxNumSeqs,
		MaxNumBatchedTokens: c.MaxNumBatchedTokens,
		BlockSize:           c.BlockSize,
		NumBlocks:           c.NumGPUBlocks,
		PrefixCaching:       c.PrefixCaching,
	})
	if err != nil {
		return nil, err
	}
	return &batcher{
		s: s, sch: sch, cost: batching.H100Llama3_8B(),
		kick: make(chan struct{}, 1), w: newWaiter(), exited: make(chan struct{}),
	}, nil
}

func (b *batcher) submit(r *request) {
	b.mu.Lock()
	b.inbox = append(b.inbox, r)
	b.mu.Unlock()
	b.poke()
}

func (b *batcher) abort(r *request) {
	b.mu.Lock()
	b.aborts = append(b.aborts, r)
	b.mu.Unlock()
	b.poke()
}

func (b *batcher) poke() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *batcher) run() {
	defer close(b.exited)
	s := b.s
	var inbox, aborts []*request
	start := time.Duration(-1) // start of the next step; -1 = idle
	for {
		b.mu.Lock()
		inbox, b.inbox = b.inbox, inbox[:0]
		aborts, b.aborts = b.aborts, aborts[:0]
		b.mu.Unlock()
		now := s.now()
		for _, r := range inbox {
			b.sch.Add(r.ereq, r.arrival)
		}
		for _, r := range aborts {
			if st := r.ereq.Status(); st == batching.Waiting || st == batching.Running {
				b.sch.Abort(r.ereq)
				s.m.success["abort"].Inc()
			}
		}
		clear(inbox)
		clear(aborts)

		if !b.sch.HasWork() {
			b.gauges()
			s.m.power.set(0)
			start = -1
			select {
			case <-b.kick:
				continue
			case <-s.done:
				return
			}
		}
		if start < 0 || now-start > maxDebt {
			start = now
		}
		batch := b.sch.Schedule(start)
		deadline := start + b.cost.StepTime(batch)
		s.m.power.set(busyUtilisation(batch.Tokens()))
		s.m.iterTok.Observe(float64(batch.Tokens()))
		if deadline > s.now() {
			s.alarm.set(b.w, deadline)
			select {
			case <-b.w.c:
			case <-s.done:
				s.alarm.cancel(b.w)
				return
			}
		}
		s.m.observeLag(deadline, s.now())
		b.publish(b.sch.Finish(deadline), deadline)
		b.gauges()
		start = deadline
	}
}

// publish hands a step's tokens to the streams and accounts finished
// requests. Non-streaming requests are only woken when they finish.
func (b *batcher) publish(events []batching.Event, now time.Duration) {
	m := b.s.m
	for _, ev := range events {
		r := ev.Req.Tag.(*request)
		e := ev.Req
		if ev.First {
			m.ttft.Observe((e.FirstToken - e.Arrival).Seconds())
		} else {
			m.itl.Observe((now - ev.PrevToken).Seconds())
		}
		r.produced.Store(int64(e.NumOutput))
		if ev.Finished {
			r.finished.Store(true)
			b.account(r, now)
		}
		if r.g.stream || ev.Finished {
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (b *batcher) account(r *request, now time.Duration) {
	m := b.s.m
	e := r.ereq
	m.success[r.out.finishReason()].Inc()
	m.e2e.Observe((now - e.Arrival).Seconds())
	m.queue.Observe((e.FirstScheduled - e.Arrival).Seconds())
	m.inference.Observe((now - e.FirstScheduled).Seconds())
	m.prefill.Observe((e.FirstToken - e.FirstScheduled).Seconds())
	m.decode.Observe((now - e.FirstToken).Seconds())
	if e.NumOutput > 1 {
		m.tpot.Observe((now - e.FirstToken).Seconds() / float64(e.NumOutput-1))
	}
	m.promptLen.Observe(float64(len(e.Prompt)))
	m.genLen.Observe(float64(e.NumOutput))
	m.maxTokens.Observe(float64(r.g.maxTokens))
}

// gauges refreshes the scheduler gauges and the counters derived from the
// scheduler's cumulative totals.
func (b *batcher) gauges() {
	m := b.s.m
	m.running.Set(float64(b.sch.NumRunning()))
	m.waiting.Set(float64(b.sch.NumWaiting()))
	m.kvUsage.Set(b.sch.KVUsage())
	t := b.sch.Totals()
	m.preemptions.Add(float64(t.Preemptions - b.prev.Preemptions))
	m.prefixQueries.Add(float64(t.CacheQueries - b.prev.CacheQueries))
	m.prefixHits.Add(float64(t.CacheHits - b.prev.CacheHits))
	m.promptTokens.Add(float64(t.PromptTokens - b.prev.PromptTokens))
	m.genTokens.Add(float64(t.OutputTokens - b.prev.OutputTokens))
	b.prev = t
}
