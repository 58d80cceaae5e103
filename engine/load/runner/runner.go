// Package runner runs one scenario: an Executor decides what is sent and
// when, a concurrency gate and the client send it, and every result flows
// to the sinks, the first of which (the Recorder) writes the summary:
//
//	executor --plans--> gate --workers/client--> results --> recorder, sinks --> plan.Reply
//
// The open-loop schedule (OpenLoop: source rows at arrival times) is the
// executor when Config.Executor is nil; closed-loop users and sessions are
// another (package session). The runner knows nothing of terminals or
// Prometheus: callers watch a run through Status values and sinks.
package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/shard"
	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/engine/results/record"
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

// Client performs one request and fills res. It must be safe for
// concurrent use by Concurrency goroutines and must return promptly once
// ctx is done.
type Client interface {
	Do(ctx context.Context, p *request.Plan, res *request.Result)
}

// TokenCounter is a Client that counts output tokens as they arrive, in
// flight requests included (client.Client does, once per token-bearing
// event). The runner puts the count in Status.StreamedTokens, so progress
// shows the tokens being received rather than those of finished requests,
// which lag by a whole response. StreamedTokens must be safe for
// concurrent use with Do.
type TokenCounter interface {
	StreamedTokens() int64
}

// Executor decides which requests are sent and when, as k6's executors
// do: the open-loop schedule sends each planned request at its due time
// whatever the server does; closed-loop users send their next request only
// after the previous answer.
//
// Concurrency: Run is called once, on its own goroutine. It releases plans
// through d and returns when it has nothing more to send or once ctx is
// done (a graceful stop: it releases nothing after that). Report is called
// from other goroutines while Run runs and after it returned, so it must be
// safe for concurrent use with Run. An executor that also implements
// Pauser is paused and resumed by Handle.Pause and Resume.
type Executor interface {
	Run(ctx context.Context, d Dispatcher) error
	// Report adds the executor's own view of the run to st: plans built
	// and due, sessions, users.
	Report(st *Status)
}

// Pauser is an executor that can hold its releases (the dashboard's p).
// Time spent paused is not held against the schedule.
type Pauser interface {
	Pause()
	Resume()
}

// Dispatcher is the runner's side of an Executor. Its methods are safe
// for concurrent use.
type Dispatcher interface {
	// Now is the run's clock: the time since the epoch.
	Now() time.Duration
	// Release hands p to the concurrency gate, released at the given
	// instant (normally Now()). Its result goes to the sinks, then to
	// p.Reply. Release never blocks on a busy worker.
	Release(p *request.Plan, released time.Duration)
}

// Sink receives every result of a run: the recorder, the requests.jsonl
// writer inside it, the exporter, the scenario's on_response hook, the
// prompt calibrator.
//
// Concurrency: Record is called once per request, from many gate workers
// at once, after the request ended; it must be safe for concurrent use and
// return promptly (the worker takes its next request only after every sink
// returned). res is never modified after it reaches the sinks; a sink may
// keep it.
type Sink interface {
	Record(res *request.Result)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(*request.Result)

// Record implements Sink.
func (f SinkFunc) Record(res *request.Result) { f(res) }

// Recorder is the sink the run's summary comes from (a *record.Recorder).
// Snapshot is safe for concurrent use with Record; Close is called once,
// after the last Record.
type Recorder interface {
	Sink
	Snapshot() *record.Snapshot
	Close() (*record.Summary, error)
}

// ScheduleError is implemented by arrival schedules that can fail while
// they run (stages, custom Lua functions): Err says why the schedule
// ended early.
type ScheduleError interface {
	Err() error
}

// Config describes one run of one scenario.
type Config struct {
	Name  string
	Epoch time.Time // due offsets, and every Result instant, count from here

	// Executor decides what is sent and when. When nil, the open-loop
	// executor is built from Source, Schedule, Mapper, Builder, Limit,
	// Duration and Lookahead (see OpenLoop).
	Executor Executor
	Source   trace.Source
	Schedule pace.Schedule
	Mapper   Mapper
	Builder  PlanBuilder
	Limit    int64         // stop after this many plans; 0 = the whole source
	Duration time.Duration // plan nothing due after this offset; 0 = no limit
	// Lookahead is how far ahead of its due time a plan may be built;
	// default 2s.
	Lookahead time.Duration
	// Shard, when on, makes the open-loop executor send only this
	// shard's rows (OpenLoopConfig.Shard).
	Shard shard.Spec

	Client   Client
	Recorder Recorder
	// Sinks see every result after the Recorder, in order.
	Sinks []Sink

	Concurrency int
	OnFull      pace.OnFull

	// DrainTimeout bounds how long in-flight requests may run after a
	// graceful stop (ctx cancelled) before they are cancelled; 0 = wait for
	// them. Abort, when closed, cancels them at once.
	DrainTimeout time.Duration
	Abort        <-chan struct{}

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
	Released    int64 // plans released to the gate
	InFlight    int
	Queued      int
	Dropped     int64
	Total       int64         // plans expected in all (the limit), 0 when unknown
	PlannerLate int64         // plans built after their due time
	PlannerLag  time.Duration // the worst such lateness
	Due         int64         // plans whose due time has come (the target count)
	Unsent      int64         // plans queued at the gate but never sent because the run was stopped
	// Stopping is true once a graceful stop came (the run's ctx is
	// done): nothing new is sent, requests in flight drain. It stays true
	// in the final status of a stopped run.
	Stopping bool
	// ScheduleEnd is when the executor expects to release its last
	// request, since the epoch and with pauses counted; 0 = unknown (see
	// OpenLoop.Report).
	ScheduleEnd time.Duration
	// StreamedTokens counts the output tokens received so far, as they
	// arrive, requests in flight included; StreamCounted is false when the
	// Client does not count them (not a TokenCounter).
	StreamedTokens int64
	StreamCounted  bool
	Paused         bool
	PausedFor      time.Duration // total time paused so far
	Done           bool          // the final status
	Snapshot       *record.Snapshot
	// Sessions is the closed-loop executor's view; nil for open-loop runs.
	Sessions *SessionStatus
	// Capacity is a capacity search's view; nil for other runs.
	Capacity *CapacityStatus
}

// CapacityStatus is what a capacity search reports: the step under way
// (or the last one, once the search ended) and the bracket so far.
type CapacityStatus struct {
	By, Unit string  // "rate", "concurrency" or "users"; "req/s", ...
	Step     int     // 1-based; 0 before the first step
	Level    float64 // the step's rate, concurrency or users
	// Phase is "bracketing" (growing, or shrinking, until a step fails,
	// or passes), "bisecting" (between a passing and a failing level) or
	// "done".
	Phase string
	// Part is "warm-up", "measuring", "draining" (waiting for the step's
	// last requests) or "judging" (between steps); "" once the search
	// ended.
	Part    string
	StepFor time.Duration // since the step began
	// The step's judged requests so far: sent, finished, met every SLO.
	Judged, Finished, Good int64
	Target                 float64 // the goodput a step needs to pass
	Low, High              float64 // highest passing, lowest failing level so far; 0 = none
	// Last is the verdict of the step before ("pass", "fail",
	// "untrusted"; "" before the first ended), at LastLevel.
	Last      string
	LastLevel float64
}

// SessionStatus is what a session executor reports.
type SessionStatus struct {
	Active    int   // sessions under way (closed loop: users busy in a session)
	Users     int   // closed-loop users running now (the target of a ramp); 0 for open-loop session starts
	Thinking  int   // sessions waiting out a think time or a tool's latency
	Started   int64 // sessions begun
	Completed int64 // sessions that ended on their own (returned)
	Stopped   int64 // sessions cut short by the end of the run
	Turns     int64 // model calls sent
}

// Run executes the scenario until the executor has nothing more to send or
// ctx is cancelled (a graceful stop: nothing new is sent, in-flight
// requests drain). It returns the recorder's summary; results measured
// before an error are still written.
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
	if cfg.Executor == nil {
		cfg.Executor = NewOpenLoop(OpenLoopConfig{
			Name: cfg.Name, Epoch: cfg.Epoch, Source: cfg.Source, Schedule: cfg.Schedule, Mapper: cfg.Mapper, Builder: cfg.Builder,
			Limit: cfg.Limit, Duration: cfg.Duration, Lookahead: cfg.Lookahead,
			Shard: cfg.Shard,
		})
	}
	r := &run{cfg: cfg, stop: ctx}
	r.execCtx, r.cancelExec = context.WithCancel(context.Background())
	h := &Handle{r: r, done: make(chan struct{})}
	r.gate = pace.NewGate(cfg.Concurrency, cfg.OnFull, cfg.Epoch, r.exec, r.record)
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

// Pause stops releasing requests when the executor can pause (Pauser);
// time spent paused is excluded from the schedule. In-flight requests go
// on.
func (h *Handle) Pause() {
	if p, ok := h.r.cfg.Executor.(Pauser); ok {
		p.Pause()
	}
}

// Resume releases requests again.
func (h *Handle) Resume() {
	if p, ok := h.r.cfg.Executor.(Pauser); ok {
		p.Resume()
	}
}

// Status returns the run's current status.
func (h *Handle) Status() Status { return h.r.status(false) }

func (c *Config) validate() error {
	switch {
	case c.Executor == nil && c.Source == nil:
		return errors.New("runner: no source")
	case c.Executor == nil && c.Schedule == nil:
		return errors.New("runner: no arrival schedule")
	case c.Executor == nil && (c.Mapper == nil || c.Builder == nil):
		return errors.New("runner: mapper, builder, client and recorder are all required")
	case c.Client == nil || c.Recorder == nil:
		return errors.New("runner: mapper, builder, client and recorder are all required")
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency must be at least 1, got %d", c.Concurrency)
	}
	return nil
}

type run struct {
	cfg  Config
	gate *pace.Gate

	// stop is the run's ctx: once it is done nothing new is sent.
	stop       context.Context
	execCtx    context.Context
	cancelExec context.CancelFunc

	// withheld holds the results of plans a worker took from the queue
	// after the stop: they were not sent, so they are not results either.
	withheld sync.Map // *request.Result -> struct{}

	unsent   atomic.Int64 // plans discarded from the gate's queue at a stop, or withheld
	released atomic.Int64
}

func (r *run) Now() time.Duration { return time.Since(r.cfg.Epoch) }

func (r *run) Release(p *request.Plan, released time.Duration) {
	r.released.Add(1)
	r.gate.Submit(p, released)
}

// exec sends p unless the run was stopped. The discard at a stop empties
// the queue, but a worker may take a plan in the instant between the stop
// and the discard: that plan is withheld, and counted as unsent.
func (r *run) exec(_ context.Context, p *request.Plan, res *request.Result) {
	if r.stop.Err() != nil {
		res.Error, res.ErrorMsg = request.ErrCanceled, "not sent: the run was stopped"
		r.withheld.Store(res, struct{}{})
		return
	}
	r.cfg.Client.Do(r.execCtx, p, res)
}

func (r *run) record(res *request.Result) {
	if r.stop.Err() != nil {
		if _, ok := r.withheld.LoadAndDelete(res); ok {
			r.unsent.Add(1) // its Reply still runs, with class canceled
			return
		}
	}
	r.cfg.Recorder.Record(res)
	for _, s := range r.cfg.Sinks {
		s.Record(res)
	}
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

	stopProgress := r.startProgress()
	err := cfg.Executor.Run(ctx, r)
	r.closeGate(ctx)
	cancelExec()
	stopProgress()
	if cfg.BeforeClose != nil {
		cfg.BeforeClose(r.status(true))
	}

	sum, closeErr := cfg.Recorder.Close()
	if err == nil {
		err = closeErr
	}
	return sum, err
}

// closeGate waits for the gate to send what it holds and for every request
// to end. A stop sends nothing new, including plans waiting at the gate:
// whether it came while the executor ran or comes while the gate drains
// after the executor has planned everything, the queue is discarded and
// only requests in flight go on.
func (r *run) closeGate(ctx context.Context) {
	if ctx.Err() != nil {
		r.unsent.Add(int64(r.gate.Discard()))
		r.gate.Close()
		return
	}
	drained, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-ctx.Done():
			r.unsent.Add(int64(r.gate.Discard()))
		case <-drained:
		}
	}()
	r.gate.Close()
	close(drained)
	<-watched
}

func (r *run) status(done bool) Status {
	st := Status{
		Elapsed:  r.Now(),
		Released: r.released.Load(),
		InFlight: r.gate.InFlight(),
		Queued:   r.gate.Queued(),
		Dropped:  r.gate.Dropped(),
		Unsent:   r.unsent.Load(),
		Stopping: r.stop.Err() != nil,
		Done:     done,
		Snapshot: r.cfg.Recorder.Snapshot(),
	}
	if tc, ok := r.cfg.Client.(TokenCounter); ok {
		st.StreamedTokens, st.StreamCounted = tc.StreamedTokens(), true
	}
	r.cfg.Executor.Report(&st)
	return st
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
