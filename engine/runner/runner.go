// Package runner wires one scenario's pipeline together:
//
//	source rows --planner--> plans --pacer--> gate --workers/client--> results --> recorder
//
// The planner goroutine is the only caller of the Source, the Schedule, the
// Mapper (which may hold a Lua state) and the Builder, so none of them needs
// to be safe for concurrent use. It runs ahead of the pacer by at most
// Lookahead, so a slow mapper shows up as planner lag, never as distorted
// send times. The runner knows nothing of terminals or Prometheus: callers
// watch a run through Status values.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmload/llmload/engine/openai"
	"github.com/llmload/llmload/engine/pace"
	"github.com/llmload/llmload/engine/record"
	"github.com/llmload/llmload/engine/request"
	"github.com/llmload/llmload/engine/trace"
)

// Mapper turns a source row into a request spec. Called only from the
// planner goroutine.
type Mapper interface {
	Map(row trace.Row) (openai.Spec, error)
}

// PlanBuilder renders a spec into a plan's bytes. Called only from the
// planner goroutine.
type PlanBuilder interface {
	Build(seq int64, s *openai.Spec, dst *request.Plan) error
}

// Executor performs one request and fills res. It must be safe for
// concurrent use by Concurrency goroutines and must return promptly once
// ctx is done.
type Executor interface {
	Do(ctx context.Context, p *request.Plan, res *request.Result)
}

// Config describes one run of one scenario.
type Config struct {
	Name     string
	Epoch    time.Time // due offsets, and every Result instant, count from here
	Source   trace.Source
	Schedule pace.Schedule
	Mapper   Mapper
	Builder  PlanBuilder
	Exec     Executor
	Recorder *record.Recorder

	Concurrency int
	OnFull      pace.OnFull
	Limit       int64         // stop after this many plans; 0 = the whole source
	Duration    time.Duration // plan nothing due after this offset; 0 = no limit
	Lookahead   time.Duration // how far ahead of its due time a plan may be built; default 2s

	// DrainTimeout bounds how long in-flight requests may run after a
	// graceful stop (ctx cancelled) before they are cancelled; 0 = wait for
	// them. Abort, when closed, cancels them at once.
	DrainTimeout time.Duration
	Abort        <-chan struct{}

	// OnResult, when set, sees every result after the recorder (for
	// example the prompt calibrator). It must be safe for concurrent use.
	OnResult func(*request.Result)

	// BeforeClose, when set, runs after the last request finished and
	// before the recorder writes summary.json (e.g. to add late meta).
	BeforeClose func(final Status)

	// Every and Progress: Progress is called every Every on its own
	// goroutine with the run's current status, and once more at the end.
	Every    time.Duration
	Progress func(Status)
}

// Status is a point-in-time view of a run for progress lines and
// dashboards. It is a value; Snapshot is immutable.
type Status struct {
	Elapsed     time.Duration
	Planned     int64 // plans built
	Released    int64 // plans the pacer released to the gate
	InFlight    int
	Queued      int
	Dropped     int64
	Total       int64         // plans expected in all (the limit), 0 when unknown
	PlannerLate int64         // plans built after their due time
	PlannerLag  time.Duration // the worst such lateness
	Due         int64         // plans whose due time has come (the target count)
	Unsent      int64         // plans queued at the gate but never sent because the run was stopped
	Paused      bool
	PausedFor   time.Duration // total time paused so far
	Done        bool          // the final status
	Snapshot    *record.Snapshot
}

// Run executes the scenario until the source ends, the limit or duration
// is reached, or ctx is cancelled (a graceful stop: nothing new is sent,
// in-flight requests drain). It returns the recorder's summary; results
// measured before an error are still written.
func Run(ctx context.Context, cfg Config) (*record.Summary, error) {
	h, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return h.Wait()
}

// Handle controls a started run. Its methods are safe for concurrent use.
type Handle struct {
	r    *run
	done chan struct{}
	sum  *record.Summary
	err  error
}

// Start begins the run in the background.
func Start(ctx context.Context, cfg Config) (*Handle, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, pacer: pace.NewPacer(cfg.Epoch)}
	r.execCtx, r.cancelExec = context.WithCancel(context.Background())
	h := &Handle{r: r, done: make(chan struct{})}
	r.gate = pace.NewGate(cfg.Concurrency, cfg.OnFull, cfg.Epoch, r.exec, r.done)
	go func() {
		defer close(h.done)
		h.sum, h.err = r.run(ctx)
	}()
	return h, nil
}

// Wait blocks until the run has finished and its results are written.
func (h *Handle) Wait() (*record.Summary, error) {
	<-h.done
	return h.sum, h.err
}

// Done is closed when the run has finished.
func (h *Handle) Done() <-chan struct{} { return h.done }

// Pause stops releasing requests; time spent paused is excluded from the
// schedule (every later due time moves by it). In-flight requests go on.
func (h *Handle) Pause() { h.r.pacer.Pause() }

// Resume releases requests again.
func (h *Handle) Resume() { h.r.pacer.Resume() }

// Status returns the run's current status.
func (h *Handle) Status() Status { return h.r.status(false) }

func (c *Config) validate() error {
	switch {
	case c.Source == nil:
		return errors.New("runner: no source")
	case c.Schedule == nil:
		return errors.New("runner: no arrival schedule")
	case c.Mapper == nil || c.Builder == nil || c.Exec == nil || c.Recorder == nil:
		return errors.New("runner: mapper, builder, executor and recorder are all required")
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency must be at least 1, got %d", c.Concurrency)
	}
	if c.Lookahead <= 0 {
		c.Lookahead = 2 * time.Second
	}
	return nil
}

type run struct {
	cfg   Config
	pacer *pace.Pacer

	// dues holds the due times of built plans not yet counted as due, in
	// order; status pops those that have come, so Status.Due can say how
	// many requests the schedule wanted by now (the target rate).
	duesMu sync.Mutex
	dues   []time.Duration
	due    int64

	execCtx    context.Context
	cancelExec context.CancelFunc

	unsent      atomic.Int64 // plans discarded from the gate's queue at a stop
	planned     atomic.Int64
	released    atomic.Int64
	plannerLate atomic.Int64
	plannerLag  atomic.Int64 // nanoseconds
	gate        *pace.Gate
}

func (r *run) now() time.Duration { return time.Since(r.cfg.Epoch) }

func (r *run) exec(_ context.Context, p *request.Plan, res *request.Result) {
	r.cfg.Exec.Do(r.execCtx, p, res)
}

func (r *run) done(res *request.Result) {
	r.cfg.Recorder.Record(res)
	if r.cfg.OnResult != nil {
		r.cfg.OnResult(res)
	}
}

// dueNow counts the plans whose due time (shifted by pauses) has come.
func (r *run) dueNow() int64 {
	now := r.now() - r.pacer.Paused()
	r.duesMu.Lock()
	defer r.duesMu.Unlock()
	i := 0
	for i < len(r.dues) && r.dues[i] <= now {
		i++
	}
	r.due += int64(i)
	r.dues = append(r.dues[:0], r.dues[i:]...)
	return r.due
}

func (r *run) run(ctx context.Context) (*record.Summary, error) {
	cfg := r.cfg

	// Requests run under execCtx, which outlives a graceful stop by at most
	// DrainTimeout and dies at once on Abort.
	execCtx, cancelExec := r.execCtx, r.cancelExec
	defer cancelExec()
	go func() {
		select {
		case <-ctx.Done():
		case <-execCtx.Done():
			return
		}
		var drain <-chan time.Time
		if cfg.DrainTimeout > 0 {
			t := time.NewTimer(cfg.DrainTimeout)
			defer t.Stop()
			drain = t.C
		}
		select {
		case <-drain:
		case <-cfg.Abort:
		case <-execCtx.Done():
		}
		cancelExec()
	}()

	plans := make(chan *request.Plan, 1024)
	planErr := make(chan error, 1)
	go func() { planErr <- r.plan(ctx, plans) }()

	stopProgress := r.startProgress()

	pacerErr := r.pacer.Run(ctx, plans, func(p *request.Plan, released time.Duration) {
		r.released.Add(1)
		r.gate.Submit(p, released)
	})
	// The pacer returns when plans is drained or ctx is done; in the latter
	// case the planner may be blocked on the channel: unblock it.
	go func() {
		for range plans {
		}
	}()
	err := <-planErr
	if ctx.Err() != nil {
		// A stop sends nothing new, including plans waiting at the gate.
		r.unsent.Store(int64(r.gate.Discard()))
	}
	r.gate.Close()
	cancelExec()
	stopProgress()
	if cfg.BeforeClose != nil {
		cfg.BeforeClose(r.status(true))
	}

	sum, closeErr := cfg.Recorder.Close()
	if err == nil && pacerErr != nil && !errors.Is(pacerErr, context.Canceled) {
		err = pacerErr
	}
	if err == nil {
		err = closeErr
	}
	return sum, err
}

// plan reads rows, maps and builds them, and sends plans in due order. It
// closes out when it stops, whatever the reason.
func (r *run) plan(ctx context.Context, out chan<- *request.Plan) error {
	defer close(out)
	cfg := r.cfg
	var wait *time.Timer
	defer func() {
		if wait != nil {
			wait.Stop()
		}
	}()
	for seq := int64(0); cfg.Limit == 0 || seq < cfg.Limit; seq++ {
		row, err := cfg.Source.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("scenario %s: reading source: %w", cfg.Name, err)
		}
		due := cfg.Schedule.Due(row.At)
		if due == pace.End { // the schedule has no more arrivals (stages, custom)
			if f, ok := cfg.Schedule.(interface{ Err() error }); ok && f.Err() != nil {
				return fmt.Errorf("scenario %s: arrivals: %w", cfg.Name, f.Err())
			}
			return nil
		}
		if cfg.Duration > 0 && due > cfg.Duration {
			return nil
		}
		spec, err := cfg.Mapper.Map(row)
		if err != nil {
			return fmt.Errorf("scenario %s: request for row %d: %w", cfg.Name, seq, err)
		}
		p := &request.Plan{Seq: seq, Due: due, Scenario: cfg.Name, SourceLine: row.Line}
		if err := cfg.Builder.Build(seq, &spec, p); err != nil {
			return fmt.Errorf("scenario %s: request for row %d (line %d): %w", cfg.Name, seq, row.Line, err)
		}
		r.planned.Add(1)
		r.duesMu.Lock()
		r.dues = append(r.dues, due)
		r.duesMu.Unlock()
		now := r.now()
		if late := now - due; late > 0 {
			r.plannerLate.Add(1)
			for {
				old := r.plannerLag.Load()
				if int64(late) <= old || r.plannerLag.CompareAndSwap(old, int64(late)) {
					break
				}
			}
		}
		// Stay at most Lookahead ahead of the clock: bounded memory, and a
		// live rate change (later) takes effect soon.
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

func (r *run) status(done bool) Status {
	return Status{
		Elapsed:     r.now(),
		Planned:     r.planned.Load(),
		Released:    r.released.Load(),
		InFlight:    r.gate.InFlight(),
		Queued:      r.gate.Queued(),
		Dropped:     r.gate.Dropped(),
		Due:         r.dueNow(),
		Unsent:      r.unsent.Load(),
		Paused:      r.pacer.IsPaused(),
		PausedFor:   r.pacer.Paused(),
		Total:       r.cfg.Limit,
		PlannerLate: r.plannerLate.Load(),
		PlannerLag:  time.Duration(r.plannerLag.Load()),
		Done:        done,
		Snapshot:    r.cfg.Recorder.Snapshot(),
	}
}

// startProgress calls Progress every Every until the returned stop is
// called; stop sends the final status and waits for the goroutine.
func (r *run) startProgress() (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	if r.cfg.Every > 0 {
		wg.Go(func() {
			t := time.NewTicker(r.cfg.Every)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					r.cfg.Progress(r.status(false))
				case <-quit:
					return
				}
			}
		})
	}
	return func() {
		close(quit)
		wg.Wait()
		r.cfg.Progress(r.status(true))
	}
}
