package scripting

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/session"
)

// BenchmarkSessionStep measures one session step of
// scenarios/chat_sessions.lua (6 turns of a 120-token user message, a
// 96-token answer joining the conversation, a drawn think time between
// turns): one Begin or Next call of its session.Program, what the session
// executor times as summary.json's sessions.step_cost. It steps 1,000 live
// sessions round robin, as the driver does, and reports the heap each live
// session holds (bytes/session, after a GC). The target is a p99
// step of 50 us at 5,000 sessions on 2 vCPUs (docs/performance.md,
// "Sessions"); ns/op is the typical step, allocs/op its garbage.
func BenchmarkSessionStep(b *testing.B) {
	inRoot(b)
	s, err := Load("scenarios/chat_sessions.lua", Env{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sc := s.Scenarios[0]
	text, err := openai.NewBuilder(openai.BuilderConfig{BaseURL: "http://127.0.0.1:8000", Model: "m", Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	prog := s.SessionProgram(sc, text, 1)

	// The answer the simulator gives a 96-token request: 96 words.
	answer := ""
	for i := range 96 {
		answer += "lorem" + strconv.Itoa(i%64) + " "
	}
	const live = 1000
	type slot struct {
		sess *session.Session
		step session.Step
		n    int64 // sessions this slot started
		res  request.Result
	}
	ans := &request.Answer{Text: answer}
	slots := make([]slot, live)
	begin := func(i int) {
		sl := &slots[i]
		sl.n++
		sl.sess = &session.Session{ID: "bench-" + strconv.Itoa(i) + "-" + strconv.FormatInt(sl.n, 10), User: i + 1, Iteration: int(sl.n)}
		if sl.step, err = prog.Begin(sl.sess); err != nil {
			b.Fatal(err)
		}
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for i := range slots {
		begin(i)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	perSession := float64(m1.HeapAlloc-m0.HeapAlloc) / live

	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sl := &slots[i%live]
		switch sl.step.Kind {
		case session.End:
			prog.Stop(sl.sess)
			begin(i % live)
			continue
		case session.Send:
			sl.sess.Turn++
			// The client's result, reused: the program keeps none of it but
			// the answer's text.
			sl.res = request.Result{Status: 200, CompletionTokens: 96, FinishReason: "length",
				Session: request.SessionRef{ID: sl.sess.ID, User: sl.sess.User, Turn: sl.sess.Turn}, Answer: ans}
			sl.step, err = prog.Next(sl.sess, &sl.res)
		default:
			sl.step, err = prog.Next(sl.sess, nil)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(perSession, "bytes/session")
}
