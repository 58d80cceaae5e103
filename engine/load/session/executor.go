package session

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/load/shard"
	"github.com/llmload/llmload/engine/load/trace"
)

// Stage is one leg of a ramp of closed-loop users: the user count goes
// linearly from the previous stage's (or StartUsers) to Users over Duration,
// as k6's ramping-vus stages do.
type Stage struct {
	Users    int
	Duration time.Duration
}

// DefaultSessionHeader carries the session id to the server, for routers
// with session affinity.
const DefaultSessionHeader = "X-Session-ID"

// Config describes the sessions of one scenario. Exactly one of Users,
// Stages and Starts is set.
type Config struct {
	Name    string // the scenario: session ids are "<name>-<n>"
	Program Program
	Builder runner.PlanBuilder

	// Closed loop: Users users at once, or a ramp of Stages (from
	// StartUsers). Iterations, when > 0, is the sessions each user runs.
	Users      int
	Stages     []Stage
	StartUsers int
	Iterations int
	// Steered: closed-loop users whose number is set from outside by
	// SetUsers (a capacity search steps it); none run until the first
	// SetUsers.
	Steered bool

	// Open loop: a session starts at each arrival of Starts. With Trace,
	// the sessions are the trace's, and Starts sees each one's Start (a
	// replay schedule follows the recorded start times); without, sessions
	// are numbered and Starts sees 0.
	Starts      pace.Schedule
	Trace       trace.SessionSource
	MaxSessions int64 // open loop: start at most this many; 0 = no limit

	// Duration: no session starts, and no turn is sent, after this offset
	// (sessions stop at a turn boundary); 0 = no limit. Limit: send at
	// most this many requests in all; 0 = no limit.
	Duration time.Duration
	Limit    int64

	// SessionHeader names the HTTP header that carries the session id
	// (default DefaultSessionHeader; "-" sends none). The body's "user"
	// field carries it too, unless the request sets its own.
	SessionHeader string

	// RampTick is how often a ramp of users is re-evaluated; default 100ms.
	RampTick time.Duration

	// Shard, when on, runs only this shard's part (see package shard):
	// closed-loop user u (0-based) on shard u mod n, so of each target
	// count T the shard runs Shard.Share(T) users and the shards' users
	// add up to T at every instant; open-loop session start k (0-based,
	// every start drawn in every shard) on shard k mod n; Limit split by
	// Share. Session numbers and request Seqs are the one-process ones
	// (Shard.Global), so ids and synthetic text never repeat across
	// shards, and the open-loop ones equal one process's.
	Shard shard.Spec
}

func (c *Config) validate() error {
	modes := 0
	if c.Users > 0 {
		modes++
	}
	if len(c.Stages) > 0 {
		modes++
	}
	if c.Starts != nil {
		modes++
	}
	if c.Steered {
		modes++
	}
	switch {
	case c.Program == nil || c.Builder == nil:
		return errors.New("session: a program and a builder are required")
	case modes != 1:
		return errors.New("session: set exactly one of users, user stages, session arrivals and steered users")
	case c.Users < 0 || c.StartUsers < 0 || c.Iterations < 0 || c.Limit < 0 || c.MaxSessions < 0:
		return errors.New("session: counts must be >= 0")
	}
	for i, s := range c.Stages {
		if s.Users < 0 || s.Duration < 0 {
			return fmt.Errorf("session: stage %d: users and duration must be >= 0", i+1)
		}
	}
	if c.SessionHeader == "" {
		c.SessionHeader = DefaultSessionHeader
	}
	if c.RampTick <= 0 {
		c.RampTick = 100 * time.Millisecond
	}
	return nil
}

// Executor runs sessions; it implements runner.Executor. New returns one;
// the runner calls Run once and Report from any goroutine.
type Executor struct {
	cfg Config
	d   runner.Dispatcher

	// Replies from gate workers; the driver drains them.
	mu      sync.Mutex
	replies []reply
	wake    chan struct{}

	// Driver state: touched only by the driver goroutine.
	timers   timerHeap
	users    []*userSlot           // closed loop, by user index - 1
	started  int64                 // sessions begun (also the next session number)
	arrivals int64                 // open loop: session starts drawn, every shard's
	sent     int64                 // requests released
	noMore   bool                  // open loop: the schedule or trace has ended
	next     *Session              // open loop: the next session to start, read ahead
	nextOpen time.Duration         // and its start
	rampAt   time.Duration         // the next re-evaluation of a ramp; 0 = none
	live     map[*Session]struct{} // sessions under way
	held     []heldSend            // turns held by a pause

	pause pace.Pauses
	stats *stats

	steered atomic.Int64 // Config.Steered: the user count SetUsers asked for
}

type reply struct {
	s   *Session
	res *request.Result
}

// userSlot is one closed-loop user: its current session, and how many it
// ran.
type userSlot struct {
	n       int // 1-based
	s       *Session
	runs    int
	retired bool // over the ramp's target: starts no new session
}

// New checks cfg and returns the executor.
func New(cfg Config) (*Executor, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Executor{cfg: cfg, wake: make(chan struct{}, 1), stats: newStats(), live: map[*Session]struct{}{}}, nil
}

// Run implements runner.Executor.
func (e *Executor) Run(ctx context.Context, d runner.Dispatcher) error {
	// One OS thread for the driver, so that a step's CPU time can be read
	// from the thread's clock (threadCPU).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e.d = d
	// The run's clock starts at its epoch, which the runner may set a
	// moment ahead; nothing is sent before it.
	if early := -d.Now(); early > 0 {
		t := time.NewTimer(early)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
	}
	e.stats.begin(d.Now())
	defer func() { e.stats.end(d.Now()) }()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		now := d.Now()
		if err := e.step(now); err != nil {
			e.stopAll()
			return err
		}
		if e.finished() {
			return nil
		}
		var tc <-chan time.Time
		if at, ok := e.nextWake(); ok {
			wait := max(at-d.Now(), 0)
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			e.stopAll()
			return nil
		case <-e.wake:
		case <-tc:
		}
	}
}

// step does everything due at now: users to start or retire, session
// starts, answers that came back, waits that ended.
func (e *Executor) step(now time.Duration) error {
	if err := e.adjustUsers(now); err != nil {
		return err
	}
	if err := e.startOpen(now); err != nil {
		return err
	}
	if e.past(now) || e.limitReached() {
		// Over: sessions between turns stop now; those waiting for an
		// answer stop when it comes.
		for s := range e.live {
			if !s.inFlight {
				e.endSession(s, false)
			}
		}
	}
	if paused, _ := e.pause.State(); len(e.held) > 0 && !paused {
		held := e.held
		e.held = nil
		for _, h := range held {
			if _, ok := e.live[h.s]; ok {
				if err := e.do(h.s, h.st); err != nil {
					return err
				}
			}
		}
	}
	e.mu.Lock()
	rs := e.replies
	e.replies = nil
	e.mu.Unlock()
	for _, r := range rs {
		if _, ok := e.live[r.s]; !ok {
			continue
		}
		r.s.inFlight = false
		r.s.busy += r.res.LastByte - r.res.Sent
		if err := e.advance(r.s, r.res); err != nil {
			return err
		}
	}
	for len(e.timers) > 0 && e.timers[0].at <= now {
		t := heap.Pop(&e.timers).(timer)
		if _, ok := e.live[t.s]; !ok {
			continue
		}
		t.s.waiting = false
		e.stats.thinking.Add(-1)
		if err := e.advance(t.s, nil); err != nil {
			return err
		}
	}
	return nil
}

// past reports whether the run is over at now: its duration, or the end
// of its ramp of users (as k6's ramping-vus ends with its stages).
func (e *Executor) past(now time.Duration) bool {
	return (e.cfg.Duration > 0 && now >= e.cfg.Duration) || (len(e.cfg.Stages) > 0 && now >= e.rampEnd())
}

// limitReached: the shard's share of Limit is sent (a share of 0 of a
// limit > 0 sends nothing).
func (e *Executor) limitReached() bool {
	return e.cfg.Limit > 0 && e.sent >= e.cfg.Shard.Share(e.cfg.Limit)
}

// finished reports whether nothing is left to do: no session under way
// and none to start.
func (e *Executor) finished() bool {
	if len(e.live) > 0 {
		return false
	}
	now := e.d.Now()
	if e.past(now) || e.limitReached() {
		return true
	}
	switch {
	case e.cfg.Starts != nil:
		return e.noMore
	default:
		return e.usersDone()
	}
}

// usersDone: every user has run its iterations (or was retired).
func (e *Executor) usersDone() bool {
	if e.cfg.Iterations == 0 || len(e.users) == 0 {
		return false
	}
	for _, u := range e.users {
		if !u.retired && u.runs < e.cfg.Iterations {
			return false
		}
	}
	return true
}

// nextWake is the next instant the driver must act without being woken.
func (e *Executor) nextWake() (time.Duration, bool) {
	at, ok := time.Duration(0), false
	if len(e.timers) > 0 {
		at, ok = e.timers[0].at, true
	}
	if e.rampAt > 0 && (!ok || e.rampAt < at) {
		at, ok = e.rampAt, true
	}
	paused, shift := e.pause.State()
	if open := e.nextOpen + shift; e.cfg.Starts != nil && !e.noMore && !paused && (!ok || open < at) {
		at, ok = open, true
	}
	if e.cfg.Duration > 0 && len(e.live) > 0 && (!ok || e.cfg.Duration < at) && e.d.Now() < e.cfg.Duration {
		at, ok = e.cfg.Duration, true
	}
	return at, ok
}

// begin starts a session and runs it to its first request or wait.
func (e *Executor) begin(s *Session) error {
	e.started++
	e.live[s] = struct{}{}
	s.Started = e.d.Now()
	if s.ID == "" {
		s.ID = e.cfg.Name + "-" + strconv.FormatInt(e.cfg.Shard.Global(e.started-1)+1, 10)
	}
	e.stats.started.Add(1)
	t0 := time.Now()
	st, err := e.cfg.Program.Begin(s)
	e.stats.startCost(time.Since(t0))
	if err != nil {
		e.endSession(s, false)
		return err
	}
	return e.do(s, st)
}

// advance resumes s after its last step ended.
func (e *Executor) advance(s *Session, res *request.Result) error {
	if s.stopping || e.limitReached() {
		e.endSession(s, false)
		return nil
	}
	// The thread's CPU clock is a system call: read outside the wall
	// clock's window, so step_cost holds none of it.
	c0, cpuOK := threadCPU()
	t0 := time.Now()
	st, err := e.cfg.Program.Next(s, res)
	e.stats.stepCost(time.Since(t0))
	if c1, ok := threadCPU(); ok && cpuOK {
		e.stats.stepCPU(c1 - c0)
	}
	if err != nil {
		e.endSession(s, false)
		return err
	}
	return e.do(s, st)
}

// do carries out one step of s.
func (e *Executor) do(s *Session, st Step) error {
	now := e.d.Now()
	switch st.Kind {
	case End:
		return e.endSession(s, true)
	case Wait:
		w := max(st.Wait, 0)
		s.think += w
		e.stats.think(w)
		heap.Push(&e.timers, timer{at: now + w, s: s})
		s.waiting = true
		e.stats.thinking.Add(1)
		return nil
	}
	if s.stopping || e.past(now) || e.limitReached() {
		e.endSession(s, false)
		return nil
	}
	if paused, _ := e.pause.State(); paused {
		e.held = append(e.held, heldSend{s, st})
		return nil
	}
	seq := e.cfg.Shard.Global(e.sent)
	p := &request.Plan{
		Seq: seq, Due: now, Scenario: e.cfg.Name,
		Session: request.SessionRef{ID: s.ID, User: s.User, Turn: s.Turn + 1},
		Capture: true, Reply: e.replyTo(s),
	}
	spec := e.identify(st.Spec, s)
	if err := e.cfg.Builder.Build(seq, &spec, p); err != nil {
		e.endSession(s, false)
		return fmt.Errorf("scenario %s: session %s turn %d: %w", e.cfg.Name, s.ID, s.Turn+1, err)
	}
	s.Turn++
	s.inFlight = true
	e.sent++
	e.stats.turns.Add(1)
	e.d.Release(p, e.d.Now())
	return nil
}

// identify adds the session id to the request: the body's "user" field
// (unless the request sets one) and the session header. The spec's maps
// may be the program's: they are copied, never changed. A spec without
// maps of its own (the common turn) gets the session's, made once and
// only read afterwards (by the builder and the client).
func (e *Executor) identify(sp openai.Spec, s *Session) openai.Spec {
	if _, ok := sp.Extra["user"]; !ok && sp.Endpoint == request.Chat {
		if len(sp.Extra) == 0 {
			if s.idExtra == nil {
				s.idExtra = map[string]any{"user": s.ID}
			}
			sp.Extra = s.idExtra
		} else {
			x := make(map[string]any, len(sp.Extra)+1)
			maps.Copy(x, sp.Extra)
			x["user"] = s.ID
			sp.Extra = x
		}
	}
	if h := e.cfg.SessionHeader; h != "-" {
		if len(sp.Headers) == 0 {
			if s.idHeaders == nil {
				s.idHeaders = map[string]string{h: s.ID}
			}
			sp.Headers = s.idHeaders
		} else {
			hs := make(map[string]string, len(sp.Headers)+1)
			maps.Copy(hs, sp.Headers)
			hs[h] = s.ID
			sp.Headers = hs
		}
	}
	return sp
}

// replyTo is the Plan.Reply of s's requests: it queues the answer for the
// driver and wakes it, without blocking the gate worker.
func (e *Executor) replyTo(s *Session) func(*request.Result) {
	return func(res *request.Result) {
		e.mu.Lock()
		e.replies = append(e.replies, reply{s, res})
		e.mu.Unlock()
		e.poke()
	}
}

// endSession ends s: completed when its program returned, stopped when it
// was cut short.
func (e *Executor) endSession(s *Session, completed bool) error {
	e.cfg.Program.Stop(s)
	delete(e.live, s)
	if s.waiting {
		s.waiting = false
		e.stats.thinking.Add(-1)
	}
	e.stats.ended(s, e.d.Now(), completed)
	if s.User == 0 {
		return nil
	}
	u := e.users[(int64(s.User)-1-e.cfg.Shard.Index)/max(e.cfg.Shard.Count, 1)]
	u.s = nil
	u.runs++
	if e.past(e.d.Now()) || e.limitReached() || u.retired || (e.cfg.Iterations > 0 && u.runs >= e.cfg.Iterations) {
		return nil
	}
	if s.Turn == 0 && s.think == 0 {
		// Restarting at once would spin without end.
		u.retired = true
		return fmt.Errorf("scenario %s: the session of user %d ended without sending a request or waiting; a closed-loop user would loop without end (send at least one request, or wait, per session)", e.cfg.Name, u.n)
	}
	return e.startUser(u) // the next iteration starts at once, as in k6
}

// stopAll cuts short every session under way (the run was stopped, or a
// step failed): requests in flight still finish and reach the sinks, but
// their sessions send nothing more.
func (e *Executor) stopAll() {
	for _, u := range e.users {
		u.retired = true
	}
	for s := range e.live {
		e.endSession(s, false)
	}
}

// adjustUsers brings the closed-loop users to the target at now: new users
// start a session at once; users over the target are retired and their
// sessions stop at the next turn boundary (k6's graceful ramp-down).
func (e *Executor) adjustUsers(now time.Duration) error {
	if paused, _ := e.pause.State(); e.cfg.Starts != nil || paused {
		return nil
	}
	target := e.cfg.Users
	if e.cfg.Steered {
		target = int(e.steered.Load())
	}
	if len(e.cfg.Stages) > 0 {
		// The ramp moves in whole ticks from the epoch, not at whatever
		// instant an answer woke the driver: users start at the same
		// instants in every run and in every shard.
		tick := e.cfg.RampTick
		at := now / tick * tick
		target = e.targetUsers(at)
		e.rampAt = 0
		if now < e.rampEnd() {
			e.rampAt = min(at+tick, e.rampEnd())
		}
	}
	target = int(e.cfg.Shard.Share(int64(target)))
	if e.past(now) || e.limitReached() {
		target = 0
	}
	running := 0
	for _, u := range e.users {
		if !u.retired {
			running++
		}
	}
	for i := len(e.users) - 1; i >= 0 && running > target; i-- {
		if u := e.users[i]; !u.retired {
			u.retired = true
			running--
			if u.s != nil {
				u.s.stopping = true
			}
		}
	}
	for _, u := range e.users {
		if running >= target {
			break
		}
		if u.retired && u.s == nil && (e.cfg.Iterations == 0 || u.runs < e.cfg.Iterations) {
			u.retired = false
			running++
			if err := e.startUser(u); err != nil {
				return err
			}
		}
	}
	for running < target {
		u := &userSlot{n: int(e.cfg.Shard.Global(int64(len(e.users)))) + 1}
		e.users = append(e.users, u)
		running++
		if err := e.startUser(u); err != nil {
			return err
		}
	}
	e.stats.users.Store(int64(running))
	return nil
}

// startUser begins the user's next session.
func (e *Executor) startUser(u *userSlot) error {
	u.s = &Session{User: u.n, Iteration: u.runs + 1}
	return e.begin(u.s)
}

// targetUsers is the ramp's user count at now: linear within a stage,
// rounded down, as k6's ramping-vus.
func (e *Executor) targetUsers(now time.Duration) int {
	from, t0 := e.cfg.StartUsers, time.Duration(0)
	for _, st := range e.cfg.Stages {
		if now < t0+st.Duration {
			frac := float64(now-t0) / float64(st.Duration)
			return from + int(math.Floor(float64(st.Users-from)*frac+1e-9))
		}
		from, t0 = st.Users, t0+st.Duration
	}
	return from
}

// rampEnd is the end of the last stage.
func (e *Executor) rampEnd() time.Duration {
	var t time.Duration
	for _, st := range e.cfg.Stages {
		t += st.Duration
	}
	return t
}

// startOpen starts the open-loop sessions whose arrival has come.
func (e *Executor) startOpen(now time.Duration) error {
	if e.cfg.Starts == nil {
		return nil
	}
	paused, shift := e.pause.State()
	if paused {
		return nil
	}
	now -= shift // a pause moves every later start by its length
	for !e.noMore {
		if e.next == nil {
			if err := e.readNext(); err != nil {
				return err
			}
			if e.noMore {
				break
			}
		}
		if e.nextOpen > now {
			break
		}
		s := e.next
		e.next = nil
		if err := e.begin(s); err != nil {
			return err
		}
	}
	return nil
}

// readNext reads the next open-loop session of this shard and its start:
// every start is drawn (trace and schedule in order, as one process
// does), another shard's passed over.
func (e *Executor) readNext() error {
	for {
		s, due, err := e.drawNext()
		if err != nil || e.noMore {
			return err
		}
		k := e.arrivals
		e.arrivals++
		if e.cfg.Shard.Owns(k) {
			e.next, e.nextOpen = s, due
			return nil
		}
	}
}

// drawNext draws the next session start of the run, whichever shard's;
// it sets noMore when there is none.
func (e *Executor) drawNext() (*Session, time.Duration, error) {
	if (e.cfg.MaxSessions > 0 && e.arrivals >= e.cfg.MaxSessions) || e.past(e.d.Now()) || e.limitReached() {
		e.noMore = true
		return nil, 0, nil
	}
	s := &Session{Iteration: 1}
	var at time.Duration
	if e.cfg.Trace != nil {
		ts, err := e.cfg.Trace.NextSession()
		if errors.Is(err, io.EOF) {
			e.noMore = true
			return nil, 0, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("scenario %s: reading sessions: %w", e.cfg.Name, err)
		}
		s.ID, s.Trace, at = ts.ID, &ts, ts.Start
	}
	due := e.cfg.Starts.Due(at)
	if due == pace.End {
		if f, ok := e.cfg.Starts.(runner.ScheduleError); ok && f.Err() != nil {
			return nil, 0, fmt.Errorf("scenario %s: session arrivals: %w", e.cfg.Name, f.Err())
		}
		e.noMore = true
		return nil, 0, nil
	}
	if e.cfg.Duration > 0 && due >= e.cfg.Duration {
		e.noMore = true
		return nil, 0, nil
	}
	return s, due, nil
}

// Report implements runner.Executor.
func (e *Executor) Report(st *runner.Status) {
	ss := e.stats.status()
	st.Sessions = &ss
	st.Paused, _ = e.pause.State()
	st.PausedFor = e.pause.Total()
	st.Planned, st.Due, st.Total = ss.Turns, ss.Turns, e.cfg.Shard.Share(e.cfg.Limit)
}

// Summary is the sessions' part of summary.json; call it after Run.
func (e *Executor) Summary() *Summary {
	mode := "users"
	switch {
	case e.cfg.Steered:
		mode = "steered_users"
	case e.cfg.Starts != nil:
		mode = "arrivals"
	case len(e.cfg.Stages) > 0:
		mode = "ramping_users"
	}
	return e.stats.summary(mode)
}

// Pause implements runner.Pauser: no session starts and no turn is sent
// until Resume (requests in flight go on, waits run out); open-loop
// session starts move by the time spent paused.
func (e *Executor) Pause() { e.pause.Pause() }

// Resume implements runner.Pauser.
func (e *Executor) Resume() {
	e.pause.Resume()
	e.poke()
}

// SetUsers sets the number of closed-loop users of a Config.Steered
// executor; safe from any goroutine. New users start a session at once
// (unless paused); users over the number stop at their next turn
// boundary, as a ramp's do.
func (e *Executor) SetUsers(n int) {
	e.steered.Store(int64(max(n, 0)))
	e.poke()
}

// poke wakes the driver without blocking.
func (e *Executor) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

type heldSend struct {
	s  *Session
	st Step
}

// timer wakes a session whose wait ended.
type timer struct {
	at time.Duration
	s  *Session
}

type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
