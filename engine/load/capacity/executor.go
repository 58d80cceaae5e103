package capacity

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
	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/engine/results/record"
)

// What a search varies (Config.By).
const (
	ByRate        = "rate"        // open loop: requests per second
	ByConcurrency = "concurrency" // closed loop: requests in flight, each sent when the previous answer ended
	ByUsers       = "users"       // closed loop: session users (NewUsers), each turn sent when the previous one ended
)

// Arrival processes of a rate search (Config.Arrivals).
const (
	ArrivalsConstant = "constant"
	ArrivalsPoisson  = "poisson"
	ArrivalsGamma    = "gamma"
)

// ReasonDuration: the scenario's duration ended the search.
const ReasonDuration = "duration"

// Config is a capacity search of one scenario. Zero fields take the
// defaults documented on each.
type Config struct {
	Name string // the scenario, for plans and messages

	By         string  // ByRate (default) or ByConcurrency
	Arrivals   string  // rate search: ArrivalsPoisson (default), ArrivalsConstant or ArrivalsGamma
	Burstiness float64 // gamma's shape (default 1)
	Seed       uint64  // of the random arrivals; step n draws from Seed+n

	Search SearchConfig

	SLO     record.SLO // a request is good when it meets every objective set
	Goodput float64    // fraction of a step's judged requests that must be good; default 0.99

	Warmup      time.Duration // per step: requests sent earlier in the step are not judged; default 5s
	MinTime     time.Duration // judged time a step lasts at least; default 10s
	MinRequests int64         // judged requests a step waits for (within MaxTime); default 100
	MaxTime     time.Duration // a step's longest send phase, warm-up included; default 60s
	Drain       time.Duration // longest wait for a step's last requests; default 30s
	Tick        time.Duration // how often a step is checked; default 1s

	Saturation SaturationRule // zero Windows = DefaultSaturation

	// Validity: a step whose judged requests' p99 schedule lag or client
	// queue time is above these is untrusted (default 100ms each).
	MaxLag, MaxQueue time.Duration

	// Budget ends the search when the run's clock passes it (the
	// scenario's duration); 0 = none. Limit ends it after that many
	// requests (the scenario's limit), as the end of the source does.
	Budget time.Duration
	Limit  int64
}

func (c *Config) defaults() error {
	if c.By == "" {
		c.By = ByRate
	}
	if c.Arrivals == "" {
		c.Arrivals = ArrivalsPoisson
	}
	if c.Burstiness <= 0 {
		c.Burstiness = 1
	}
	if c.Goodput <= 0 {
		c.Goodput = 0.99
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&c.Warmup, 5*time.Second)
	setDur(&c.MinTime, 10*time.Second)
	setDur(&c.MaxTime, 60*time.Second)
	setDur(&c.Drain, 30*time.Second)
	setDur(&c.Tick, time.Second)
	setDur(&c.MaxLag, 100*time.Millisecond)
	setDur(&c.MaxQueue, 100*time.Millisecond)
	if c.MinRequests <= 0 {
		c.MinRequests = 100
	}
	if c.Saturation.Windows == 0 && !c.Saturation.Off {
		c.Saturation = DefaultSaturation
	}
	c.Search.Integer = c.By == ByConcurrency || c.By == ByUsers
	switch {
	case c.By != ByRate && c.By != ByConcurrency && c.By != ByUsers:
		return fmt.Errorf("capacity: by %q: want %q, %q or %q", c.By, ByRate, ByConcurrency, ByUsers)
	case c.Arrivals != ArrivalsConstant && c.Arrivals != ArrivalsPoisson && c.Arrivals != ArrivalsGamma:
		return fmt.Errorf("capacity: arrivals %q: want %q, %q or %q", c.Arrivals, ArrivalsPoisson, ArrivalsConstant, ArrivalsGamma)
	case !(c.Search.Start > 0) || !(c.Search.Max >= c.Search.Start):
		return fmt.Errorf("capacity: start %v and max %v: want 0 < start <= max", c.Search.Start, c.Search.Max)
	case c.Goodput > 1:
		return fmt.Errorf("capacity: goodput %v: want a fraction in (0, 1], such as 0.99", c.Goodput)
	case !c.SLO.IsSet():
		return errors.New("capacity: the scenario sets no SLO (slo = {ttft = \"1s\", tpot = \"100ms\"}); a search needs one to judge its steps")
	case c.MaxTime <= c.Warmup:
		return fmt.Errorf("capacity: max_time %v must be longer than the warm-up %v", c.MaxTime, c.Warmup)
	}
	return nil
}

// Executor runs a capacity search: one step after another on one runner,
// each at the level the Search picks from the verdicts so far. Over rate,
// a step sends source rows at the step's rate (constant, Poisson or gamma
// arrivals) whatever the server does; over concurrency, it keeps that many
// requests in flight, sending a row whenever an answer ends. After its
// send phase a step waits for its own requests (at most Drain), so each is
// judged on the requests that arrived in it, and the next step starts on
// an idle server.
//
// It implements runner.Executor: Run is called once; Report and Result
// are safe from any goroutine. The Source, Mapper and Builder are called
// only from Run's goroutine.
type Executor struct {
	cfg     Config
	src     trace.Source
	mapper  runner.Mapper
	builder runner.PlanBuilder
	search  *Search // Run's goroutine only

	seq      int64 // plans built; Run's goroutine only
	planned  atomic.Int64
	released atomic.Int64

	// By users: the session users the steps steer, and the step whose
	// turns the tap counts (nil between steps).
	users Users
	run   *usersRun // Run's goroutine only
	tap   atomic.Pointer[stepTap]

	mu     sync.Mutex
	steps  []StepResult
	level  float64 // the step under way; 0 between steps
	live   liveStep
	result *Result // set when Run returns
	began  time.Duration
}

// New checks cfg and returns the executor of a search over src's rows.
func New(cfg Config, src trace.Source, mapper runner.Mapper, builder runner.PlanBuilder) (*Executor, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if cfg.By == ByUsers {
		return nil, errors.New("capacity: by users steps session users: it needs a session scenario (session = function(s) ... end)")
	}
	if src == nil || mapper == nil || builder == nil {
		return nil, errors.New("capacity: a source, a mapper and a builder are required")
	}
	return &Executor{cfg: cfg, src: src, mapper: mapper, builder: builder, search: NewSearch(cfg.Search)}, nil
}

// Run implements runner.Executor.
func (e *Executor) Run(ctx context.Context, d runner.Dispatcher) (err error) {
	if early := -d.Now(); early > 0 { // the epoch may be set a moment ahead
		t := time.NewTimer(early)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	e.mu.Lock()
	e.began = d.Now()
	e.mu.Unlock()
	defer func() { e.finish(d.Now()) }()
	if e.users != nil {
		e.run = e.startUsers(ctx, d)
		defer func() {
			if uerr := e.run.stop(); err == nil {
				err = uerr
			}
		}()
	}
	for {
		if ctx.Err() != nil {
			e.search.End(ReasonStopped)
		}
		if b := e.cfg.Budget; b > 0 && d.Now() >= b {
			e.search.End(ReasonDuration)
		}
		level, ok := e.search.Next()
		if !ok {
			return nil
		}
		st, err := e.step(ctx, d, level)
		e.mu.Lock()
		e.steps = append(e.steps, st)
		e.level = 0
		e.mu.Unlock()
		switch {
		case err != nil:
			e.search.End(ReasonFailed)
			return err
		case st.Ended == EndedStopped:
			e.search.End(ReasonStopped)
		case st.Ended == EndedSource:
			e.search.End(ReasonSource)
		default:
			e.search.Observe(level, st.Verdict)
		}
	}
}

// step runs one step at level and judges it.
func (e *Executor) step(ctx context.Context, d runner.Dispatcher, level float64) (StepResult, error) {
	cfg := &e.cfg
	acc := newStepAcc(cfg.SLO)
	start := d.Now()
	lo, hi := e.search.Bracket()
	e.mu.Lock()
	n := len(e.steps) + 1
	e.level = level
	e.live = liveStep{acc: acc, start: start, lo: lo, hi: hi}
	e.mu.Unlock()
	sat := newSaturation(cfg.Saturation, cfg.By == ByRate, level, cfg.Tick, cfg.SLO.TTFT)
	ticker := time.NewTicker(cfg.Tick)
	defer ticker.Stop()
	// check is called every tick: it ends the send phase when the step has
	// what it needs, ran out of time, or the server saturated.
	check := func() (ended, why string) {
		el := d.Now() - start
		t := acc.sample()
		switch {
		case el >= cfg.MaxTime:
			return EndedMaxTime, ""
		case el >= cfg.Warmup+cfg.MinTime && t.judged >= cfg.MinRequests:
			return EndedDone, ""
		case e.cfg.Budget > 0 && d.Now() >= e.cfg.Budget:
			return EndedStopped, "the scenario's duration ended"
		}
		if el >= cfg.Warmup {
			if sat, why := sat.add(t); sat {
				return EndedSaturated, why
			}
		}
		return "", ""
	}
	var ended, why string
	var err error
	switch cfg.By {
	case ByRate:
		ended, why, err = e.sendOpen(ctx, d, acc, check, ticker.C, level, start, n)
	case ByUsers:
		ended, why, err = e.sendUsers(ctx, e.run, acc, check, ticker.C, int(level), start)
	default:
		ended, why, err = e.sendClosed(ctx, d, acc, check, ticker.C, int(level), start)
	}
	sendEnd := d.Now()
	e.mu.Lock()
	e.live.draining = true
	e.mu.Unlock()
	acc.endSending()
	drain := time.NewTimer(cfg.Drain)
	select {
	case <-acc.drained:
	case <-drain.C:
	case <-ctx.Done():
	}
	drain.Stop()
	judgedFor := sendEnd - start - cfg.Warmup
	r := acc.result(cfg.Goodput, judgedFor)
	r.N, r.Level, r.Ended, r.Why = n, level, ended, why
	r.Start, r.Duration, r.Drain = start, sendEnd-start, d.Now()-sendEnd
	r.StartS, r.SendS, r.DrainS = r.Start.Seconds(), r.Duration.Seconds(), r.Drain.Seconds()
	e.judge(&r)
	return r, err
}

// judge sets the step's verdict. When llmload lagged (schedule lag or
// client queue above its bound) the server was offered less than the
// step's level: a pass there proves nothing, so the step is untrusted,
// while a failure at less than the level is still a failure at it. A
// saturated step fails (its backlog is the server's).
func (e *Executor) judge(r *StepResult) {
	cfg := &e.cfg
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	switch {
	case r.Ended == EndedStopped || r.Ended == EndedSource:
		r.Verdict = 0
		return
	case r.Ended == EndedSaturated:
		r.Verdict, r.Clear = Fail, true
		return
	case r.Judged == 0:
		r.Verdict, r.Why = Untrusted, "no request after the warm-up"
		return
	case r.Goodput < cfg.Goodput:
		r.Verdict = Fail
		r.Why = fmt.Sprintf("goodput %.1f%% < %.1f%%", 100*r.Goodput, 100*cfg.Goodput)
		return
	}
	switch {
	case r.LagP99MS > ms(cfg.MaxLag):
		r.Verdict, r.Why = Untrusted, fmt.Sprintf("passed, but llmload lagged: schedule lag p99 %.1fms > %v", r.LagP99MS, cfg.MaxLag)
	case r.QueueP99MS > ms(cfg.MaxQueue):
		r.Verdict, r.Why = Untrusted, fmt.Sprintf("passed, but requests waited at llmload's concurrency cap: p99 %.1fms > %v (raise the scenario's concurrency)", r.QueueP99MS, cfg.MaxQueue)
	default:
		r.Verdict = Pass
	}
}

// schedule is step n's arrival process at rate.
func (e *Executor) schedule(rate float64, n int) pace.Schedule {
	seed := e.cfg.Seed + uint64(n)
	switch e.cfg.Arrivals {
	case ArrivalsConstant:
		return pace.Constant(rate)
	case ArrivalsGamma:
		return pace.Gamma(rate, e.cfg.Burstiness, seed)
	}
	return pace.Poisson(rate, seed)
}

// errSourceEnded: the source has no more rows (or the limit is reached).
var errSourceEnded = errors.New("source ended")

// build reads the next row and builds its plan, due at due (or, with a
// schedule, at start + the schedule's offset for it).
func (e *Executor) build(sch pace.Schedule, start time.Duration) (*request.Plan, error) {
	if e.cfg.Limit > 0 && e.seq >= e.cfg.Limit {
		return nil, errSourceEnded
	}
	row, err := e.src.Next()
	if errors.Is(err, io.EOF) {
		return nil, errSourceEnded
	}
	if err != nil {
		return nil, fmt.Errorf("scenario %s: reading source: %w", e.cfg.Name, err)
	}
	due := start
	if sch != nil {
		due += sch.Due(row.At)
	}
	spec, err := e.mapper.Map(row)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: request for row %d: %w", e.cfg.Name, e.seq, err)
	}
	p := &request.Plan{Seq: e.seq, Due: due, Scenario: e.cfg.Name, SourceLine: row.Line}
	if err := e.builder.Build(e.seq, &spec, p); err != nil {
		return nil, fmt.Errorf("scenario %s: request for row %d (line %d): %w", e.cfg.Name, e.seq, row.Line, err)
	}
	e.seq++
	e.planned.Add(1)
	return p, nil
}

// buildFailed ends a send phase whose next plan could not be built.
func buildFailed(err error) (ended, why string, _ error) {
	if errors.Is(err, errSourceEnded) {
		return EndedSource, "", nil
	}
	return EndedStopped, "", err
}

// sendOpen is a rate step's send phase: each plan released at its due
// time, built one ahead so that building never delays a send.
func (e *Executor) sendOpen(ctx context.Context, d runner.Dispatcher, acc *stepAcc, check func() (string, string),
	tick <-chan time.Time, rate float64, start time.Duration, n int) (ended, why string, err error) {
	sch := e.schedule(rate, n)
	warmEnd := start + e.cfg.Warmup
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	var p *request.Plan
	for {
		if p == nil {
			if p, err = e.build(sch, start); err != nil {
				return buildFailed(err)
			}
			timer.Reset(max(p.Due-d.Now(), 0))
		}
		select {
		case <-ctx.Done():
			return EndedStopped, "", nil
		case <-tick:
			if ended, why := check(); ended != "" {
				return ended, why, nil
			}
		case <-timer.C:
			if p.Due-start >= e.cfg.MaxTime { // nothing more is due in this step
				timer.Reset(time.Hour)
				continue
			}
			judged := p.Due >= warmEnd
			acc.released(judged)
			p.Reply = func(res *request.Result) { acc.record(res, judged) }
			e.released.Add(1)
			d.Release(p, d.Now())
			p = nil
		}
	}
}

// sendClosed is a concurrency step's send phase: users requests in
// flight, each answer followed at once by the next row.
func (e *Executor) sendClosed(ctx context.Context, d runner.Dispatcher, acc *stepAcc, check func() (string, string),
	tick <-chan time.Time, users int, start time.Duration) (ended, why string, err error) {
	warmEnd := start + e.cfg.Warmup
	var freed atomic.Int64
	wake := make(chan struct{}, 1)
	send := func() error {
		p, err := e.build(nil, d.Now())
		if err != nil {
			return err
		}
		judged := p.Due >= warmEnd
		acc.released(judged)
		p.Reply = func(res *request.Result) {
			acc.record(res, judged)
			freed.Add(1)
			select {
			case wake <- struct{}{}:
			default:
			}
		}
		e.released.Add(1)
		d.Release(p, d.Now())
		return nil
	}
	for range users {
		if err := send(); err != nil {
			return buildFailed(err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return EndedStopped, "", nil
		case <-tick:
			if ended, why := check(); ended != "" {
				return ended, why, nil
			}
		case <-wake:
			for k := freed.Swap(0); k > 0; k-- {
				if err := send(); err != nil {
					return buildFailed(err)
				}
			}
		}
	}
}

// Report implements runner.Executor.
func (e *Executor) Report(st *runner.Status) {
	if e.users != nil {
		e.users.Report(st)
		// The users' pauses between steps are the search's, not a
		// pause of the run.
		st.Paused, st.PausedFor = false, 0
	}
	st.Planned = e.planned.Load()
	st.Due = e.released.Load()
	st.Capacity = e.status(st.Elapsed)
}

// liveStep is the step under way, for Report.
type liveStep struct {
	acc      *stepAcc // nil before the first step
	start    time.Duration
	lo, hi   float64 // the search's bracket when the step began
	draining bool    // its send phase ended
}

// status is the search's view for the dashboard at elapsed (the run's
// clock).
func (e *Executor) status(elapsed time.Duration) *runner.CapacityStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	cs := &runner.CapacityStatus{By: e.cfg.By, Unit: unit(e.cfg.By), Target: e.cfg.Goodput}
	live := e.live
	if k := len(e.steps); k > 0 {
		last := e.steps[k-1]
		cs.Last, cs.LastLevel = last.Verdict.String(), last.Level
		cs.Step, cs.Level = last.N, last.Level
	}
	lo, hi := live.lo, live.hi
	if live.acc != nil && e.level > 0 {
		cs.Step, cs.Level = len(e.steps)+1, e.level
		cs.StepFor = max(elapsed-live.start, 0)
		switch {
		case live.draining:
			cs.Part = "draining"
		case cs.StepFor < e.cfg.Warmup:
			cs.Part = "warm-up"
		default:
			cs.Part = "measuring"
		}
		c := live.acc.counts()
		cs.Judged, cs.Finished, cs.Good = c.judged, c.finished, c.good
	}
	cs.Phase = "bracketing"
	if lo > 0 && hi > 0 {
		cs.Phase = "bisecting"
	}
	switch {
	case e.result != nil:
		lo, hi = e.result.BracketLow, 0
		if e.result.BracketHigh != nil {
			hi = *e.result.BracketHigh
		}
		cs.Phase = "done"
	case cs.Part == "" && cs.Step > 0:
		cs.Part = "judging" // between a step's verdict and the next step
	}
	cs.Low, cs.High = lo, hi
	return cs
}

// Level is the level of the step under way (0 between steps) and the
// number of steps finished.
func (e *Executor) Level() (level float64, steps int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.level, len(e.steps)
}

// finish computes the result once Run ends.
func (e *Executor) finish(now time.Duration) {
	lo, hi := e.search.Bracket()
	reason := e.search.Reason()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.result = newResult(&e.cfg, e.steps, lo, hi, reason, now-e.began)
}

// Result is the search's outcome for summary.json; nil before Run
// returned.
func (e *Executor) Result() *Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.result
}
