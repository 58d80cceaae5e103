// Package session is the closed-loop executor: sessions that send a turn,
// wait for the whole answer, think, and send the next turn, as a chat user
// or an agent does. It drives load in two ways, with k6's meanings:
//
//   - closed-loop users (k6's constant-vus and ramping-vus): a number of
//     users, fixed or following stages, each running sessions one after
//     another, optionally a fixed number of iterations (sessions) each;
//   - open-loop sessions (k6's arrival-rate executors, per session): session
//     starts follow an arrival schedule (constant, Poisson, stages, a trace's
//     start times) whatever the server does; inside a session the turns are
//     closed-loop.
//
// What a session says is a Program's business (the scenario's Lua session
// function): the executor asks it for the next Step (send a request, wait,
// end) and hands it each answer. One driver goroutine makes every Program
// call, never while a response is being read; gate workers hand answers
// back through Plan.Reply without blocking.
package session

import (
	"time"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/trace"
)

// Session is one conversation. The executor owns it; a Program may keep
// its own state in Data.
type Session struct {
	ID        string
	User      int            // 1-based closed-loop user; 0 for open-loop sessions
	Iteration int            // 1-based session of this user (closed loop); 1 for open-loop sessions
	Turn      int            // requests sent so far
	Started   time.Duration  // on the run's clock
	Trace     *trace.Session // the recorded conversation it replays; nil for scripted ones
	Data      any            // the Program's

	busy     time.Duration // time spent waiting for answers
	think    time.Duration // time spent in waits
	stopping bool          // cut short at its next turn boundary (ramp-down, end of run)
	inFlight bool          // a request of it is out
	waiting  bool          // in a wait

	// The session id as request fields, made once (identify).
	idExtra   map[string]any
	idHeaders map[string]string
}

// StepKind says what a session does next.
type StepKind uint8

const (
	// Send sends Step.Spec and waits for the whole answer.
	Send StepKind = iota
	// Wait waits Step.Wait (a think time, a tool's latency).
	Wait
	// End ends the session.
	End
)

// Step is what a session does next.
type Step struct {
	Kind StepKind
	Spec openai.Spec   // Send: the request
	Wait time.Duration // Wait: how long
}

// Program is the logic of a session: the scenario's Lua session function,
// or Go in tests.
//
// Concurrency: the executor calls a Program from its one driver goroutine
// only; a Program need not be safe for concurrent use. Begin starts a
// session and returns its first step; Next returns the step after the last
// one ended, with res the answer after a Send (the whole Result, Answer
// included) and nil after a Wait. Stop is called once per session when it
// ends for any reason (it returned End, the run or a ramp-down cut it
// short, or a step failed) so the Program can free its state. An error
// from Begin or Next stops the run.
type Program interface {
	Begin(s *Session) (Step, error)
	Next(s *Session, res *request.Result) (Step, error)
	Stop(s *Session)
}
