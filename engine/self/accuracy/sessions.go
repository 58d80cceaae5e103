package accuracy

import (
	"time"

	"github.com/llmload/llmload/engine/launch"
	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/session"
	"github.com/llmload/llmload/engine/results/record"
)

// textSource writes the synthetic user messages of a conversation
// (openai.Builder.Text); called from the session driver only.
type textSource interface {
	Text(tokens int, key string, n int64) string
}

// chatProgram is the conversation of a Sessions step, in Go (the same
// shape as scenarios/chat_sessions.lua): Turns turns, each a user message
// of PromptTokens synthetic words followed by the simulator's whole
// answer, which joins the conversation, so turn k resends everything said
// so far. Every request asks for exactly Tokens tokens (ignore_eos), so
// its timing is the fixed profile's. Think, when > 0, is waited after each
// answer but the last.
//
// Concurrency: the session executor calls it from its one driver
// goroutine; its counters are read after the run has ended.
type chatProgram struct {
	step Step
	text textSource

	resent  int64 // answers carried into a later turn
	missing int64 // successful answers without text: the conversation could not go on
}

// chatState is one session's conversation.
type chatState struct{ history []openai.Message }

// Begin implements session.Program.
func (p *chatProgram) Begin(s *session.Session) (session.Step, error) {
	st := &chatState{history: make([]openai.Message, 0, 2*p.step.Turns)}
	s.Data = st
	return p.turn(s, st), nil
}

// Next implements session.Program.
func (p *chatProgram) Next(s *session.Session, res *request.Result) (session.Step, error) {
	st := s.Data.(*chatState)
	if res == nil { // a think time ended
		return p.turn(s, st), nil
	}
	if res.Failed() {
		return session.Step{Kind: session.End}, nil // counted as failed by the step
	}
	if res.Answer == nil || res.Answer.Text == "" {
		p.missing++
		return session.Step{Kind: session.End}, nil
	}
	if s.Turn >= p.step.Turns {
		return session.Step{Kind: session.End}, nil
	}
	st.history = append(st.history, openai.Message{Role: "assistant", Content: res.Answer.Text})
	p.resent++
	if p.step.Think > 0 {
		return session.Step{Kind: session.Wait, Wait: p.step.Think}, nil
	}
	return p.turn(s, st), nil
}

// Stop implements session.Program.
func (p *chatProgram) Stop(s *session.Session) { s.Data = nil }

// turn adds the next user message and sends the conversation. The
// builder encodes the body before the history is appended to again, so
// the request may share its backing array.
func (p *chatProgram) turn(s *session.Session, st *chatState) session.Step {
	st.history = append(st.history, openai.Message{Role: "user",
		Content: p.text.Text(p.step.PromptTokens, s.ID, int64(s.Turn+1))})
	return session.Step{Kind: session.Send, Spec: openai.Spec{
		Endpoint: request.Chat, Messages: st.history,
		MaxTokens: p.step.Tokens, IgnoreEOS: true,
	}}
}

// sessionSpec is how a Sessions step runs through engine/launch: its
// users start evenly over the warm-up (one turn time), so they stay out of
// phase as a Streams step's requests do, then hold for Length. prog
// receives the program once the scenario's prompt builder exists.
func sessionSpec(s Step, prog **chatProgram) *launch.SessionSpec {
	tick := max(s.warmup()/time.Duration(s.Sessions), time.Millisecond)
	return &launch.SessionSpec{
		Config: session.Config{
			Stages:   []session.Stage{{Users: s.Sessions, Duration: s.warmup()}, {Users: s.Sessions, Duration: s.Length}},
			RampTick: tick,
		},
		Program: func(text *openai.Builder) session.Program {
			*prog = &chatProgram{step: s, text: text}
			return *prog
		},
	}
}

// SessionResult is what a Sessions step measured beyond a Streams step's
// figures: the TTFT error of the first turns and of the turns after them
// (measured ones, after the warm-up), the request bytes by turn (the
// conversation growing), and the executor's own accounting.
type SessionResult struct {
	FirstTurn  ErrStats `json:"first_turn_ttft_error"`
	LaterTurns ErrStats `json:"later_turns_ttft_error"`
	// RequestBytes is the mean size of the measured requests of turn
	// k+1 (request line, headers and body); 0 where none was measured.
	RequestBytes []float64 `json:"request_bytes_by_turn"`
	// AnswersResent counts answers carried into a later turn; NoAnswer
	// successful answers without text, which end their conversation.
	AnswersResent int64 `json:"answers_resent"`
	NoAnswer      int64 `json:"answers_without_text"`

	Started   int64 `json:"sessions_started"`
	Completed int64 `json:"sessions_completed"`
	Stopped   int64 `json:"sessions_stopped"` // cut at the step's end
	// StepCost is the executor's time in one call of the (Go) session
	// program, as summary.json's sessions.step_cost.
	StepCost record.StatsMS `json:"step_cost"`
}

// sessionResult gathers a Sessions step's figures once its run ended.
func sessionResult(sum *record.Summary, acc *accum, prog *chatProgram) *SessionResult {
	r := &SessionResult{}
	acc.mu.Lock()
	r.FirstTurn, r.LaterTurns = acc.first.stats(), acc.later.stats()
	r.RequestBytes = make([]float64, len(acc.turnBytes))
	for i, b := range acc.turnBytes {
		if n := acc.turnCount[i]; n > 0 {
			r.RequestBytes[i] = float64(b) / float64(n)
		}
	}
	acc.mu.Unlock()
	if prog != nil {
		r.AnswersResent, r.NoAnswer = prog.resent, prog.missing
	}
	if sum != nil {
		if ss, ok := sum.Extra["sessions"].(*session.Summary); ok {
			r.Started, r.Completed, r.Stopped, r.StepCost = ss.Started, ss.Completed, ss.Stopped, ss.StepCost
		}
	}
	return r
}

// judge adds a Sessions step's own reasons not to trust it.
func (r *SessionResult) judge(res *StepResult) {
	if r.NoAnswer > 0 {
		res.problem("%d answers came back without text, so their conversations could not carry them into the next turn", r.NoAnswer)
	}
	if r.LaterTurns.N < minMeasured {
		res.problem("only %d turns after the first were measured: lengthen the step or lower the turn time", r.LaterTurns.N)
	}
	if n := len(r.RequestBytes); n >= 2 && r.RequestBytes[0] > 0 && r.RequestBytes[n-1] > 0 && r.RequestBytes[n-1] <= r.RequestBytes[0] {
		res.problem("the last turn's requests (%.0f bytes) are not larger than the first's (%.0f): the conversation did not grow", r.RequestBytes[n-1], r.RequestBytes[0])
	}
}
