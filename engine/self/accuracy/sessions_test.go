package accuracy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/session"
)

// turnResult is a measured-looking result of turn k of a session.
func turnResult(k int, sent, first time.Duration, bytes int64) *request.Result {
	r := result(sent, first, 10*time.Millisecond, 10*time.Millisecond)
	r.Session = request.SessionRef{ID: "s", User: 1, Turn: k}
	r.BytesSent = bytes
	return r
}

func TestAccumSessionTurns(t *testing.T) {
	ms := time.Millisecond
	s := SessionStep(2, 3, time.Second)
	s.Tokens, s.Think = 3, 30*ms
	a := newAccum(s)                           // warm-up one turn time: 50 + 2x10 + 30 = 100 ms; measured [100 ms, 1.1 s]
	a.add(turnResult(1, 50*ms, 100*ms, 500))   // warm-up: not measured
	a.add(turnResult(1, 200*ms, 252*ms, 600))  // turn 1: +2 ms
	a.add(turnResult(2, 400*ms, 450*ms, 900))  // later: 0
	a.add(turnResult(3, 600*ms, 651*ms, 1300)) // later: +1 ms
	a.add(turnResult(3, 700*ms, 751*ms, 1100)) // later: +1 ms
	a.add(turnResult(9, 800*ms, 850*ms, 5000)) // past Turns: in the errors, not in the bytes
	wrong := turnResult(2, 900*ms, 950*ms, 900)
	wrong.CompletionTokens = 2 // wrong length: not measured
	a.add(wrong)

	res := sessionResult(nil, a, &chatProgram{resent: 7, missing: 1})
	if f := res.FirstTurn; f.N != 1 || math.Abs(f.Mean-2) > 1e-9 {
		t.Errorf("first turn %+v", f)
	}
	if l := res.LaterTurns; l.N != 4 || math.Abs(l.Mean-0.5) > 1e-9 || math.Abs(l.Max-1) > 1e-9 {
		t.Errorf("later turns %+v", l)
	}
	if want := []float64{600, 900, 1200}; fmt.Sprint(res.RequestBytes) != fmt.Sprint(want) {
		t.Errorf("request bytes by turn %v, want %v", res.RequestBytes, want)
	}
	if a.measured != 5 || a.ttft.stats().N != 5 {
		t.Errorf("measured %d, TTFT errors %d; want 5 (every turn is a request)", a.measured, a.ttft.stats().N)
	}
	if res.AnswersResent != 7 || res.NoAnswer != 1 {
		t.Errorf("answers %d resent, %d missing", res.AnswersResent, res.NoAnswer)
	}
}

// words is a text source that names what it wrote.
type words struct{}

func (words) Text(tokens int, key string, n int64) string {
	return fmt.Sprintf("%s/%d:%d", key, n, tokens)
}

func TestChatProgramResendsAnswers(t *testing.T) {
	step := SessionStep(1, 3, time.Second)
	p := &chatProgram{step: step, text: words{}}
	s := &session.Session{ID: "u1"}
	answer := func(text string) *request.Result {
		s.Turn++
		return &request.Result{Status: 200, CompletionTokens: step.Tokens, Answer: &request.Answer{Text: text},
			Session: request.SessionRef{ID: s.ID, Turn: s.Turn}}
	}
	st, err := p.Begin(s)
	if err != nil || st.Kind != session.Send {
		t.Fatalf("Begin: %+v %v", st, err)
	}
	if sp := st.Spec; sp.Endpoint != request.Chat || sp.MaxTokens != step.Tokens || !sp.IgnoreEOS || len(sp.Messages) != 1 ||
		sp.Messages[0].Role != "user" || sp.Messages[0].Content != "u1/1:64" {
		t.Fatalf("first turn %+v", sp)
	}
	for turn, text := range []string{"first answer", "second answer"} {
		st, err = p.Next(s, answer(text))
		if err != nil || st.Kind != session.Send {
			t.Fatalf("turn %d: %+v %v", turn+2, st, err)
		}
		m := st.Spec.Messages
		if len(m) != 2*turn+3 || m[len(m)-2].Role != "assistant" || m[len(m)-2].Content != text ||
			m[len(m)-1].Content != fmt.Sprintf("u1/%d:64", turn+2) {
			t.Fatalf("turn %d does not resend the conversation with the answer: %+v", turn+2, m)
		}
	}
	if st, err = p.Next(s, answer("third answer")); err != nil || st.Kind != session.End {
		t.Fatalf("after the last turn: %+v %v", st, err)
	}
	if p.resent != 2 || p.missing != 0 {
		t.Errorf("resent %d missing %d, want 2 and 0", p.resent, p.missing)
	}
	p.Stop(s)
	if s.Data != nil {
		t.Error("Stop kept the session's conversation")
	}

	// Think time: a wait after each answer, then the next turn.
	step.Think = 20 * time.Millisecond
	p = &chatProgram{step: step, text: words{}}
	s = &session.Session{ID: "u2"}
	if _, err := p.Begin(s); err != nil {
		t.Fatal(err)
	}
	if st, _ = p.Next(s, answer("a")); st.Kind != session.Wait || st.Wait != step.Think {
		t.Fatalf("after an answer with think time: %+v", st)
	}
	if st, _ = p.Next(s, nil); st.Kind != session.Send || len(st.Spec.Messages) != 3 {
		t.Fatalf("after the wait: %+v", st)
	}

	// An answer without text, or a failed turn, ends the conversation.
	for name, res := range map[string]*request.Result{
		"no text": {Status: 200, Answer: &request.Answer{}},
		"no body": {Status: 200},
		"failed":  {Status: 500, Error: request.ErrHTTPStatus},
	} {
		p = &chatProgram{step: step, text: words{}}
		s = &session.Session{ID: "u3"}
		if _, err := p.Begin(s); err != nil {
			t.Fatal(err)
		}
		s.Turn = 1
		if st, _ = p.Next(s, res); st.Kind != session.End {
			t.Errorf("%s: %+v, want the end", name, st)
		}
		if want := int64(1); name == "failed" {
			if p.missing != 0 {
				t.Errorf("%s: counted as a missing answer", name)
			}
		} else if p.missing != want {
			t.Errorf("%s: missing %d, want 1", name, p.missing)
		}
	}
}

func TestSessionStepJudgeTargetsRegressions(t *testing.T) {
	mk := func(n int, mod func(*SessionResult)) *StepResult {
		ss := &SessionResult{LaterTurns: ErrStats{N: 500, Mean: 0.7}, FirstTurn: ErrStats{N: 100, Mean: 0.8},
			RequestBytes: []float64{900, 1500, 2000}, AnswersResent: 500}
		mod(ss)
		return &StepResult{Step: SessionStep(n, 3, time.Second), Measured: 600, Trusted: true, Sessions: ss}
	}
	one := &StepResult{Step: StreamStep(100, time.Second), Measured: 600, Trusted: true}
	one.TTFTError.Mean = 0.5
	steps := []*StepResult{one,
		mk(100, func(*SessionResult) {}),
		mk(1000, func(s *SessionResult) { s.LaterTurns.Mean = 6 }),
		mk(20000, func(*SessionResult) {}), // no bound that many streams: no target
	}
	var got []TargetCheck
	for _, c := range CheckTargets(steps) {
		if strings.Contains(c.Target, "session") {
			got = append(got, c)
		}
	}
	if len(got) != 2 || !got[0].Pass || got[1].Pass ||
		got[0].Target != "mean TTFT error of later session turns <= 1 ms at 100 sessions (the one-shot bound at as many streams)" ||
		!strings.Contains(got[0].Measured, "one-shot at the same streams: 0.500 ms") || !strings.Contains(got[1].Target, "<= 5 ms at 1000 sessions") {
		t.Errorf("session targets %+v", got)
	}

	rep := &Report{Steps: []*StepResult{
		mk(100, func(s *SessionResult) { s.LaterTurns.Mean = 6 }),
		mk(50, func(s *SessionResult) { s.LaterTurns.N = 0 }),
		mk(1000, func(s *SessionResult) { s.LaterTurns.Mean = 9 }), // not checked: > 100 sessions
		mk(10, func(*SessionResult) {}),
	}}
	bad := rep.TTFTRegressions(5 * time.Millisecond)
	if len(bad) != 2 || !strings.Contains(bad[0], "sessions=100x3: mean TTFT error of later turns 6.000 ms exceeds the bound 5ms") ||
		!strings.Contains(bad[1], "sessions=50x3: no later turn was measured") {
		t.Errorf("regressions %q", bad)
	}

	for name, c := range map[string]struct {
		mod  func(*SessionResult)
		want string
	}{
		"no text":  {func(s *SessionResult) { s.NoAnswer = 3 }, "3 answers came back without text"},
		"few":      {func(s *SessionResult) { s.LaterTurns.N = 4 }, "only 4 turns after the first"},
		"no grow":  {func(s *SessionResult) { s.RequestBytes = []float64{900, 900, 900} }, "the conversation did not grow"},
		"all good": {func(*SessionResult) {}, ""},
	} {
		r := mk(100, c.mod)
		r.judge()
		got := strings.Join(r.Problems, "|")
		if (c.want == "") != r.Trusted || !strings.Contains(got, c.want) {
			t.Errorf("%s: trusted %v, problems %q, want %q", name, r.Trusted, got, c.want)
		}
	}
}

func TestSessionStepValidateAndName(t *testing.T) {
	s := SessionStep(100, 6, 2*time.Second)
	if s.Name() != "sessions=100x6" || s.InFlight() != 100 || s.ArrivalRate() != 500 || s.warmup() != 200*time.Millisecond {
		t.Errorf("%s: in flight %v, turn rate %v, warm-up %v", s.Name(), s.InFlight(), s.ArrivalRate(), s.warmup())
	}
	s.Think = 200 * time.Millisecond // half of each turn thinking
	if s.InFlight() != 50 || s.ArrivalRate() != 250 || s.warmup() != 400*time.Millisecond || s.span() != 2400*time.Millisecond {
		t.Errorf("with think: in flight %v, turn rate %v, warm-up %v", s.InFlight(), s.ArrivalRate(), s.warmup())
	}
	for want, mod := range map[string]func(*Step){
		"sessions must be at least 1": func(s *Step) { s.Sessions = 0 },
		"turns must be at least 2":    func(s *Step) { s.Turns = 1 },
		"think time must be >= 0":     func(s *Step) { s.Think = -time.Second },
	} {
		s := SessionStep(10, 6, time.Second)
		mod(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", s, err, want)
		}
	}
}

// TestSessionStepInProcess runs a small Sessions step against an
// in-process simulator: conversations grow with the real answers, the
// later turns are measured apart from the first, and the report shows it.
func TestSessionStepInProcess(t *testing.T) {
	step := SessionStep(10, 3, 800*time.Millisecond)
	dir := t.TempDir()
	rep, err := Run(context.Background(), Options{Steps: []Step{step}, InProcess: true, OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Steps[0]
	ss := s.Sessions
	if ss == nil {
		t.Fatal("no sessions figures")
	}
	if s.Failed != 0 || s.WrongTokens != 0 || ss.NoAnswer != 0 {
		t.Fatalf("failed %d, wrong tokens %d, answers without text %d: %v", s.Failed, s.WrongTokens, ss.NoAnswer, s.Errors)
	}
	// 10 users over 1 s of 200 ms turns: about 50 turns, the first 10 in the warm-up.
	if ss.Started < 10 || ss.LaterTurns.N < 20 || ss.FirstTurn.N+ss.LaterTurns.N != s.Measured {
		t.Errorf("sessions %d, turns measured %d first + %d later of %d", ss.Started, ss.FirstTurn.N, ss.LaterTurns.N, s.Measured)
	}
	// Every turn resends the answers before it: turn 3's request carries
	// two more user messages and two answers than turn 1's.
	if b := ss.RequestBytes; len(b) != 3 || !(b[0] > 0 && b[1] > b[0] && b[2] > b[1]) {
		t.Errorf("request bytes by turn %v: the conversation did not grow", b)
	}
	if ss.AnswersResent < ss.LaterTurns.N || ss.StepCost.Count == 0 {
		t.Errorf("answers resent %d for %d later turns; step cost %+v", ss.AnswersResent, ss.LaterTurns.N, ss.StepCost)
	}
	// The TTFT error must be real: positive and well under a TTFT.
	if l := ss.LaterTurns; l.Mean < -0.05 || l.Mean > 25 {
		t.Errorf("later turns' TTFT error %+v", l)
	}
	var table, js bytes.Buffer
	rep.WriteTable(&table)
	if !strings.Contains(table.String(), "sessions=10x3") || !strings.Contains(table.String(), "later turns n") {
		t.Errorf("table has no sessions row:\n%s", table.String())
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Steps []struct {
			Step struct {
				Kind  string `json:"kind"`
				Turns int    `json:"turns"`
			} `json:"step"`
			Sessions struct {
				Later ErrStats `json:"later_turns_ttft_error"`
			} `json:"sessions"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Steps) != 1 || back.Steps[0].Step.Kind != "sessions" ||
		back.Steps[0].Step.Turns != 3 || back.Steps[0].Sessions.Later.N != ss.LaterTurns.N {
		t.Errorf("report JSON: %v %+v", err, back)
	}
	t.Logf("\n%s", table.String())
}
