package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/shard"
	"github.com/llmload/llmload/engine/load/trace"
)

// OpenLoopConfig is what the open-loop executor plans from.
type OpenLoopConfig struct {
	Name      string
	Epoch     time.Time // the run's epoch: due offsets count from here
	Source    trace.Source
	Schedule  pace.Schedule
	Mapper    Mapper
	Builder   PlanBuilder
	Limit     int64         // stop after this many plans; 0 = the whole source
	Duration  time.Duration // plan nothing due after this offset; 0 = no limit
	Lookahead time.Duration // how far ahead of its due time a plan may be built; default 2s
	// Shard, when on, keeps only this shard's rows (row k, counted
	// before Limit, to shard k mod n): every row is still read, timed and
	// mapped, so sources, schedules and request functions that draw in
	// order give what one process would; only the shard's own are built
	// and sent, with their one-process Seq.
	Shard shard.Spec
}

// OpenLoop is the open-loop executor: every source row becomes a request
// due at the schedule's instant for it, sent then whatever the server is
// doing (k6's arrival-rate executors, vLLM bench's request rate).
//
//	source rows --planner--> plans --pacer--> Dispatcher.Release
//
// The planner goroutine is the only caller of the Source, the Schedule,
// the Mapper (which may hold a Lua state) and the Builder, so none of them
// needs to be safe for concurrent use. It runs ahead of the pacer by at
// most Lookahead, so a slow mapper shows up as planner lag, never as
// distorted send times.
type OpenLoop struct {
	cfg   OpenLoopConfig
	pacer *pace.Pacer
	clock func() time.Duration

	// dues holds the due times of built plans not yet counted as due, in
	// order; Report pops those that have come, so Status.Due can say how
	// many requests the schedule wanted by now (the target rate).
	duesMu sync.Mutex
	dues   []time.Duration
	due    int64

	planned     atomic.Int64
	plannerLate atomic.Int64
	plannerLag  atomic.Int64 // nanoseconds
}

// NewOpenLoop returns the open-loop executor of cfg.
func NewOpenLoop(cfg OpenLoopConfig) *OpenLoop {
	if cfg.Lookahead <= 0 {
		cfg.Lookahead = 2 * time.Second
	}
	epoch := cfg.Epoch
	return &OpenLoop{cfg: cfg, pacer: pace.NewPacer(epoch), clock: func() time.Duration { return time.Since(epoch) }}
}

// Pause implements Pauser: the pacer holds its releases, and every later
// due time moves by the time spent paused.
func (o *OpenLoop) Pause() { o.pacer.Pause() }

// Resume implements Pauser.
func (o *OpenLoop) Resume() { o.pacer.Resume() }

// Run implements Executor.
func (o *OpenLoop) Run(ctx context.Context, d Dispatcher) error {
	plans := make(chan *request.Plan, 1024)
	planErr := make(chan error, 1)
	go func() { planErr <- o.plan(ctx, plans) }()

	pacerErr := o.pacer.Run(ctx, plans, d.Release)
	// The pacer returns when plans is drained or ctx is done; in the latter
	// case the planner may be blocked on the channel: unblock it.
	go func() {
		for range plans {
		}
	}()
	err := <-planErr
	if err == nil && pacerErr != nil && !errors.Is(pacerErr, context.Canceled) {
		err = pacerErr
	}
	return err
}

// Report implements Executor.
func (o *OpenLoop) Report(st *Status) {
	st.Planned = o.planned.Load()
	st.Due = o.dueNow()
	st.Paused = o.pacer.IsPaused()
	st.PausedFor = o.pacer.Paused()
	st.Total = o.cfg.Shard.Share(o.cfg.Limit)
	st.PlannerLate = o.plannerLate.Load()
	st.PlannerLag = time.Duration(o.plannerLag.Load())
	st.ScheduleEnd = o.scheduleEnd(o.clock(), st.Due, st.PausedFor)
}

// scheduleEnd is when the last request is due, when the configuration
// says: the duration (moved by the time paused), or, for a limit at a
// rate the schedule knows (RateSetter: constant, Poisson, gamma), now plus
// the requests still to come at that rate; the earlier of the two. A live
// rate change moves it at once. 0 = unknown (a replayed trace or stages
// without a limit, a Lua schedule).
func (o *OpenLoop) scheduleEnd(now time.Duration, due int64, paused time.Duration) time.Duration {
	var end time.Duration
	if o.cfg.Duration > 0 {
		end = o.cfg.Duration + paused
	}
	if rs, ok := o.cfg.Schedule.(pace.RateSetter); ok && o.cfg.Limit > 0 {
		if r := rs.Rate(); r > 0 {
			left := float64(max(o.cfg.Limit-due, 0)) / r // 0 at +Inf
			byLimit := now + time.Duration(left*float64(time.Second))
			if end == 0 || byLimit < end {
				end = byLimit
			}
		}
	}
	return end
}

// dueNow counts the plans whose due time (shifted by pauses) has come.
func (o *OpenLoop) dueNow() int64 {
	now := o.clock() - o.pacer.Paused()
	o.duesMu.Lock()
	defer o.duesMu.Unlock()
	i := 0
	for i < len(o.dues) && o.dues[i] <= now {
		i++
	}
	o.due += int64(i)
	o.dues = append(o.dues[:0], o.dues[i:]...)
	return o.due
}

// scheduleOver reports whether planning ends at a request due at due: the
// schedule has no more arrivals (stages, custom; with its error, if any)
// or due is past the duration.
func (o *OpenLoop) scheduleOver(due time.Duration) (bool, error) {
	cfg := o.cfg
	if due == pace.End {
		if f, ok := cfg.Schedule.(ScheduleError); ok && f.Err() != nil {
			return true, fmt.Errorf("scenario %s: arrivals: %w", cfg.Name, f.Err())
		}
		return true, nil
	}
	return cfg.Duration > 0 && due > cfg.Duration, nil
}

// plan reads rows, maps and builds them, and sends plans in due order. It
// closes out when it stops, whatever the reason.
func (o *OpenLoop) plan(ctx context.Context, out chan<- *request.Plan) error {
	defer close(out)
	cfg := o.cfg
	var wait *time.Timer
	defer func() {
		if wait != nil {
			wait.Stop()
		}
	}()
	_, rowTimed := cfg.Schedule.(pace.RowTimed)
	for seq := int64(0); cfg.Limit == 0 || seq < cfg.Limit; seq++ {
		// A schedule that ignores the rows' instants is asked first, so
		// the source is never read past the last request.
		var due time.Duration
		if !rowTimed {
			due = cfg.Schedule.Due(0)
			if done, err := o.scheduleOver(due); done {
				return err
			}
		}
		row, err := cfg.Source.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("scenario %s: reading source: %w", cfg.Name, err)
		}
		if rowTimed {
			due = cfg.Schedule.Due(row.At)
			if done, err := o.scheduleOver(due); done {
				return err
			}
		}
		spec, err := cfg.Mapper.Map(row)
		if err != nil {
			return fmt.Errorf("scenario %s: request for row %d: %w", cfg.Name, seq, err)
		}
		if !cfg.Shard.Owns(seq) {
			continue // another shard's row: read, timed and mapped only
		}
		p := &request.Plan{Seq: seq, Due: due, Scenario: cfg.Name, SourceLine: row.Line}
		if err := cfg.Builder.Build(seq, &spec, p); err != nil {
			return fmt.Errorf("scenario %s: request for row %d (line %d): %w", cfg.Name, seq, row.Line, err)
		}
		o.planned.Add(1)
		o.duesMu.Lock()
		o.dues = append(o.dues, due)
		o.duesMu.Unlock()
		now := o.clock()
		if late := now - due; late > 0 {
			o.plannerLate.Add(1)
			for {
				old := o.plannerLag.Load()
				if int64(late) <= old || o.plannerLag.CompareAndSwap(old, int64(late)) {
					break
				}
			}
		}
		// Stay at most Lookahead ahead of the clock: bounded memory, and a
		// live rate change takes effect soon.
		if ahead := due - now - cfg.Lookahead; ahead > 0 {
			if wait == nil {
				wait = time.NewTimer(ahead)
			} else {
				wait.Reset(ahead)
			}
			select {
			case <-wait.C:
			case <-ctx.Done():
				return nil
			}
		}
		select {
		case out <- p:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}
