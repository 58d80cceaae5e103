package scripting

import (
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/session"
)

// stepper drives scenarios/chat_sessions.lua's session program over live
// sessions round robin, as the session executor's driver does, answering
// every send at once with the answer the simulator gives (answerWords
// words).
type stepper struct {
	b     *testing.B
	prog  session.Program
	ans   *request.Answer
	words int // the answer's, its completion tokens
	slots []stepSlot
}

type stepSlot struct {
	sess *session.Session
	step session.Step
	n    int64 // sessions this slot started
	res  request.Result
}

func newStepper(b *testing.B, live, answerWords int) (*stepper, func()) {
	inRoot(b)
	s, err := Load("scenarios/chat_sessions.lua", Env{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	text, err := openai.NewBuilder(openai.BuilderConfig{BaseURL: "http://127.0.0.1:8000", Model: "m", Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	answer := ""
	for i := range answerWords {
		answer += "lorem" + strconv.Itoa(i%64) + " "
	}
	st := &stepper{b: b, prog: s.SessionProgram(s.Scenarios[0], text, 1), ans: &request.Answer{Text: answer}, words: answerWords, slots: make([]stepSlot, live)}
	for i := range st.slots {
		st.begin(i)
	}
	return st, func() { s.Close() }
}

func (st *stepper) begin(i int) {
	sl := &st.slots[i]
	sl.n++
	sl.sess = &session.Session{ID: "bench-" + strconv.Itoa(i) + "-" + strconv.FormatInt(sl.n, 10), User: i + 1, Iteration: int(sl.n)}
	var err error
	if sl.step, err = st.prog.Begin(sl.sess); err != nil {
		st.b.Fatal(err)
	}
}

// step makes slot i's next call into the program (a new session's Begin
// when the last one ended) and returns its duration.
func (st *stepper) step(i int) time.Duration {
	sl := &st.slots[i]
	if sl.step.Kind == session.End {
		st.prog.Stop(sl.sess)
		t0 := time.Now()
		st.begin(i)
		return time.Since(t0)
	}
	var res *request.Result
	if sl.step.Kind == session.Send {
		sl.sess.Turn++
		// The client's result, reused: the program keeps none of it but
		// the answer's text.
		sl.res = request.Result{Status: 200, CompletionTokens: st.words, FinishReason: "length",
			Session: request.SessionRef{ID: sl.sess.ID, User: sl.sess.User, Turn: sl.sess.Turn}, Answer: st.ans}
		res = &sl.res
	}
	t0 := time.Now()
	var err error
	sl.step, err = st.prog.Next(sl.sess, res)
	d := time.Since(t0)
	if err != nil {
		st.b.Fatal(err)
	}
	return d
}

// BenchmarkSessionStep measures one session step of
// scenarios/chat_sessions.lua (6 turns of a 120-token user message, a
// 96-token answer joining the conversation, a drawn think time between
// turns): one Begin or Next call of its session.Program, what the session
// executor times as summary.json's sessions.step_cost. It steps 1,000 live
// sessions round robin, as the driver does, and reports the heap each live
// session holds (bytes/session, after a GC). The target is a p99
// step of 50 us at 5,000 sessions on 2 vCPUs (docs/performance.md,
// "Sessions"); ns/op is the typical step with warm caches, allocs/op its
// garbage. BenchmarkSessionStepCold is the same step as a run sees it.
func BenchmarkSessionStep(b *testing.B) {
	const live = 1000
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	st, done := newStepper(b, live, 96)
	defer done()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	perSession := float64(m1.HeapAlloc-m0.HeapAlloc) / live

	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		st.step(i % live)
	}
	b.ReportMetric(perSession, "bytes/session")
}

// BenchmarkSessionStepCold measures the step as it runs in a real run:
// there a session steps every few seconds at most (think times), and
// between two steps of the driver the client's and the simulator's threads
// run on the same two cores, so each step starts with caches that hold
// none of the interpreter's code and data. Before every step it writes
// over coldBytes (more than this machine's per-core L2 of 2 MB), and
// reports the steps' p50 and p99 (cold-p50-ns, cold-p99-ns); ns/op is
// the steps' own mean, the writing left out (it allocates nothing). On the
// 2-vCPU machine this reproduces the step cost of `make bench-sessions`,
// where BenchmarkSessionStep's warm loop is 5-6 times cheaper
// (docs/performance.md, "Sessions": where the step's time goes).
//
// The writing is not hidden with b.StopTimer/StartTimer: with
// ReportAllocs they read the memory statistics, which flushes every P's
// allocation cache, so each step would refill a span for every size
// class it allocates, which no real step does. The step times itself
// instead.
func BenchmarkSessionStepCold(b *testing.B) {
	const live, coldBytes = 5000, 16 << 20
	st, done := newStepper(b, live, 32)
	defer done()
	junk := make([]byte, coldBytes)
	costs := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		for j := 0; j < len(junk); j += 64 {
			junk[j]++
		}
		d := st.step(i % live)
		total += d
		costs = append(costs, d)
	}
	b.ReportMetric(float64(total)/float64(len(costs)), "ns/op")
	slices.Sort(costs)
	at := func(q float64) float64 { return float64(costs[int(q*float64(len(costs)-1))]) }
	b.ReportMetric(at(0.5), "cold-p50-ns")
	b.ReportMetric(at(0.99), "cold-p99-ns")
}
