package session

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/results/record"
)

// fakeServer answers every request after ttft + tokens*itl of (fake)
// time with a text naming the request, as the client would fill it.
type fakeServer struct {
	epoch     time.Time
	ttft, itl time.Duration
	tokens    int
}

func (f *fakeServer) Do(ctx context.Context, p *request.Plan, res *request.Result) {
	res.CopyPlan(p)
	res.Sent = time.Since(f.epoch)
	select {
	case <-time.After(f.ttft):
	case <-ctx.Done():
		res.Error, res.LastByte = request.ErrCanceled, time.Since(f.epoch)
		return
	}
	res.FirstToken = time.Since(f.epoch)
	time.Sleep(time.Duration(f.tokens) * f.itl)
	res.LastByte = time.Since(f.epoch)
	res.CompletionTokens = f.tokens
	if p.Capture {
		res.Answer = &request.Answer{Text: fmt.Sprintf("answer %d", p.Seq)}
	}
}

// memRecorder keeps every result.
type memRecorder struct {
	mu  sync.Mutex
	all []*request.Result
}

func (m *memRecorder) Record(res *request.Result) {
	m.mu.Lock()
	m.all = append(m.all, res)
	m.mu.Unlock()
}
func (m *memRecorder) Snapshot() *record.Snapshot      { return nil }
func (m *memRecorder) Close() (*record.Summary, error) { return &record.Summary{}, nil }

// chat is a Program: turns of one user message each, a think time
// between them, ending after turns turns. It checks that each answer it
// gets is the one of the request it sent last.
type chat struct {
	t     *testing.T
	turns int
	think time.Duration
	mu    sync.Mutex // only for the test's own checks; the executor calls from one goroutine
	calls int
}

type chatState struct {
	history []openai.Message
	waited  bool
}

func (c *chat) Begin(s *Session) (Step, error) {
	s.Data = &chatState{}
	return c.send(s), nil
}

func (c *chat) send(s *Session) Step {
	st := s.Data.(*chatState)
	st.history = append(st.history, openai.Message{Role: "user", Content: fmt.Sprintf("turn %d", s.Turn+1)})
	st.waited = false
	return Step{Kind: Send, Spec: openai.Spec{Endpoint: request.Chat, Messages: append([]openai.Message(nil), st.history...), MaxTokens: 4}}
}

func (c *chat) Next(s *Session, res *request.Result) (Step, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	st := s.Data.(*chatState)
	if res != nil {
		if res.Session.ID != s.ID || res.Session.Turn != s.Turn {
			c.t.Errorf("session %s turn %d got the answer of %s turn %d", s.ID, s.Turn, res.Session.ID, res.Session.Turn)
		}
		if res.Answer == nil {
			c.t.Errorf("no answer captured")
		} else {
			st.history = append(st.history, openai.Message{Role: "assistant", Content: res.Answer.Text})
		}
		if s.Turn >= c.turns {
			return Step{Kind: End}, nil
		}
		if c.think > 0 {
			st.waited = true
			return Step{Kind: Wait, Wait: c.think}, nil
		}
	}
	return c.send(s), nil
}

func (c *chat) Stop(s *Session) {}

func newBuilder(t *testing.T) *openai.Builder {
	b, err := openai.NewBuilder(openai.BuilderConfig{BaseURL: "http://127.0.0.1:1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runSessions runs cfg to its end against a fake server inside the
// caller's synctest bubble and returns every result in send order.
func runSessions(t *testing.T, cfg Config, srv *fakeServer, concurrency int) (*Executor, []*request.Result) {
	t.Helper()
	epoch := time.Now()
	srv.epoch = epoch
	cfg.Builder = newBuilder(t)
	if cfg.Name == "" {
		cfg.Name = "chat"
	}
	ex, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &memRecorder{}
	if _, err := runner.Run(context.Background(), runner.Config{
		Name: cfg.Name, Epoch: epoch, Executor: ex, Client: srv, Recorder: rec, Concurrency: concurrency,
	}); err != nil {
		t.Fatal(err)
	}
	sort.Slice(rec.all, func(i, j int) bool { return rec.all[i].Seq < rec.all[j].Seq })
	return ex, rec.all
}

// bySession groups results by session id, in turn order.
func bySession(all []*request.Result) map[string][]*request.Result {
	m := map[string][]*request.Result{}
	for _, r := range all {
		m[r.Session.ID] = append(m[r.Session.ID], r)
	}
	for _, rs := range m {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Session.Turn < rs[j].Session.Turn })
	}
	return m
}

// A user's turn k+1 starts no earlier than turn k's end plus its think
// time, and per-user iteration counts are exact.
func TestClosedLoopTurnsFollowAnswersAndThink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const users, iterations, turns = 3, 4, 5
		think := 700 * time.Millisecond
		prog := &chat{t: t, turns: turns, think: think}
		ex, all := runSessions(t, Config{Program: prog, Users: users, Iterations: iterations},
			&fakeServer{ttft: 50 * time.Millisecond, itl: 10 * time.Millisecond, tokens: 8}, users)
		if got, want := len(all), users*iterations*turns; got != want {
			t.Fatalf("%d requests, want %d", got, want)
		}
		sessions := bySession(all)
		perUser := map[int]int{}
		for id, rs := range sessions {
			if len(rs) != turns {
				t.Errorf("session %s has %d turns, want %d", id, len(rs), turns)
			}
			perUser[rs[0].Session.User]++
			for k := 1; k < len(rs); k++ {
				prev, cur := rs[k-1], rs[k]
				if cur.Session.Turn != k+1 {
					t.Errorf("session %s: turn %d at position %d", id, cur.Session.Turn, k+1)
				}
				if earliest := prev.LastByte + think; cur.Sent < earliest {
					t.Errorf("session %s turn %d sent at %v, before turn %d ended (%v) + think %v", id, k+1, cur.Sent, k, prev.LastByte, think)
				}
			}
		}
		for u := 1; u <= users; u++ {
			if perUser[u] != iterations {
				t.Errorf("user %d ran %d sessions, want %d", u, perUser[u], iterations)
			}
		}
		sum := ex.Summary()
		if sum.Started != users*iterations || sum.Completed != users*iterations || sum.Stopped != 0 {
			t.Errorf("summary %+v", sum)
		}
		if sum.TurnsPerSession.P50 != turns || sum.Think.Count != int64(users*iterations*(turns-1)) {
			t.Errorf("turns per session %+v, think %+v", sum.TurnsPerSession, sum.Think)
		}
		if sum.ServerWaitShare <= 0 || sum.ServerWaitShare >= 1 || sum.ZeroLatencyTurnRate <= sum.TurnRate {
			t.Errorf("server wait share %v, turn rate %v, zero-latency %v", sum.ServerWaitShare, sum.TurnRate, sum.ZeroLatencyTurnRate)
		}
	})
}

// Ramping users change at turn boundaries: a user over the target stops
// before its next request, never in the middle of one, and the number of
// users follows the stages.
func TestRampingUsersChangeAtTurnBoundaries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prog := &chat{t: t, turns: 1000, think: 300 * time.Millisecond}
		stages := []Stage{{Users: 6, Duration: 3 * time.Second}, {Users: 6, Duration: 2 * time.Second}, {Users: 2, Duration: 2 * time.Second}}
		var peak, last int
		srv := &fakeServer{ttft: 100 * time.Millisecond, itl: 20 * time.Millisecond, tokens: 10}
		epoch := time.Now()
		srv.epoch = epoch
		ex, err := New(Config{Name: "ramp", Program: prog, Builder: newBuilder(t), Stages: stages})
		if err != nil {
			t.Fatal(err)
		}
		rec := &memRecorder{}
		_, err = runner.Run(context.Background(), runner.Config{
			Name: "ramp", Epoch: epoch, Executor: ex, Client: srv, Recorder: rec, Concurrency: 8,
			Every: 50 * time.Millisecond, Progress: func(st runner.Status) {
				if st.Sessions != nil && st.Elapsed < 7*time.Second { // the ramp ends at 7 s, and the users with it
					peak = max(peak, st.Sessions.Users)
					last = st.Sessions.Users
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if peak != 6 || last != 2 {
			t.Errorf("users peaked at %d and were %d at the ramp's end; want 6 and 2", peak, last)
		}
		for _, r := range rec.all {
			if r.Failed() {
				t.Errorf("request %d of %s failed (%s): a ramp-down must not cut a request", r.Seq, r.Session.ID, r.Error)
			}
		}
		users := map[int]bool{}
		for _, rs := range bySession(rec.all) {
			users[rs[0].Session.User] = true
			for k := 1; k < len(rs); k++ {
				if rs[k].Sent < rs[k-1].LastByte {
					t.Errorf("session %s: turn %d overlaps turn %d", rs[k].Session.ID, k+1, k)
				}
			}
		}
		if len(users) != 6 {
			t.Errorf("%d distinct users, want 6", len(users))
		}
		sum := ex.Summary()
		if sum.Stopped != 6 || sum.Completed != 0 {
			t.Errorf("stopped %d completed %d; want 6 stopped (4 by the ramp-down, 2 at the end)", sum.Stopped, sum.Completed)
		}
	})
}

// Open-loop session starts follow the arrival schedule whatever the
// server does; turns inside each session stay closed-loop.
func TestOpenLoopSessionStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prog := &chat{t: t, turns: 3, think: time.Second}
		ex, all := runSessions(t, Config{Program: prog, Starts: pace.Constant(4), Duration: 2500 * time.Millisecond},
			&fakeServer{ttft: 2 * time.Second, itl: 10 * time.Millisecond, tokens: 5}, 64)
		sessions := bySession(all)
		// Starts at 0, 0.25, ..., 2.25 s (none at the end, 2.5 s): 10
		// sessions, each sending its first turn at its start even though
		// the server takes 2 s per answer.
		if len(sessions) != 10 {
			t.Fatalf("%d sessions, want 10", len(sessions))
		}
		for id, rs := range sessions {
			first := rs[0]
			if lag := first.Sent - first.Scheduled; lag != 0 {
				t.Errorf("session %s started %v late", id, lag)
			}
		}
		sum := ex.Summary()
		if sum.Mode != "arrivals" || sum.Started != 10 {
			t.Errorf("summary %+v", sum)
		}
	})
}

// A limit on requests stops sessions at a turn boundary, exactly.
func TestLimitCountsRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prog := &chat{t: t, turns: 10}
		_, all := runSessions(t, Config{Program: prog, Users: 4, Limit: 17},
			&fakeServer{ttft: 10 * time.Millisecond, itl: time.Millisecond, tokens: 3}, 4)
		if len(all) != 17 {
			t.Fatalf("%d requests, want 17", len(all))
		}
	})
}

// A session that neither sends nor waits would make its user spin: it is
// an error that names the scenario.
func TestEmptySessionIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex, err := New(Config{Name: "empty", Program: emptyProgram{}, Builder: newBuilder(t), Users: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = runner.Run(context.Background(), runner.Config{
			Name: "empty", Epoch: time.Now(), Executor: ex, Client: &fakeServer{}, Recorder: &memRecorder{}, Concurrency: 1,
		})
		if err == nil {
			t.Fatal("no error")
		}
	})
}

type emptyProgram struct{}

func (emptyProgram) Begin(*Session) (Step, error)                 { return Step{Kind: End}, nil }
func (emptyProgram) Next(*Session, *request.Result) (Step, error) { return Step{Kind: End}, nil }
func (emptyProgram) Stop(*Session)                                {}

// A pause holds every next turn (and new sessions) until the resume;
// requests in flight finish. No request is sent while paused.
func TestPauseHoldsTurns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prog := &chat{t: t, turns: 1000, think: 100 * time.Millisecond}
		srv := &fakeServer{ttft: 50 * time.Millisecond, itl: 10 * time.Millisecond, tokens: 5}
		epoch := time.Now()
		srv.epoch = epoch
		ex, err := New(Config{Name: "p", Program: prog, Builder: newBuilder(t), Users: 3, Duration: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		rec := &memRecorder{}
		h, err := runner.Start(context.Background(), runner.Config{
			Name: "p", Epoch: epoch, Executor: ex, Client: srv, Recorder: rec, Concurrency: 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		h.Pause()
		pausedAt := time.Since(epoch)
		time.Sleep(2 * time.Second)
		if st := h.Status(); !st.Paused {
			t.Error("status does not say paused")
		}
		resumedAt := time.Since(epoch)
		h.Resume()
		if _, err := h.Wait(); err != nil {
			t.Fatal(err)
		}
		var before, after int
		for _, r := range rec.all {
			switch {
			case r.Sent > pausedAt && r.Sent < resumedAt:
				t.Errorf("request %d sent at %v, during the pause (%v to %v)", r.Seq, r.Sent, pausedAt, resumedAt)
			case r.Sent <= pausedAt:
				before++
			default:
				after++
			}
		}
		if before == 0 || after == 0 {
			t.Errorf("%d requests before the pause, %d after; want some of each", before, after)
		}
	})
}

// recordingServer keeps every plan it was sent.
type recordingServer struct {
	fakeServer
	mu    sync.Mutex
	plans []*request.Plan
}

func (r *recordingServer) Do(ctx context.Context, p *request.Plan, res *request.Result) {
	r.mu.Lock()
	r.plans = append(r.plans, p)
	r.mu.Unlock()
	r.fakeServer.Do(ctx, p, res)
}

// Every request of a session carries its id in the session header and the
// body's "user" field.
func TestRequestsCarryTheSessionID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &recordingServer{fakeServer: fakeServer{ttft: 10 * time.Millisecond, itl: time.Millisecond, tokens: 2}}
		srv.epoch = time.Now()
		ex, err := New(Config{Name: "id", Program: &chat{t: t, turns: 3}, Builder: newBuilder(t), Users: 2, Iterations: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := runner.Run(context.Background(), runner.Config{
			Name: "id", Epoch: srv.epoch, Executor: ex, Client: srv, Recorder: &memRecorder{}, Concurrency: 2,
		}); err != nil {
			t.Fatal(err)
		}
		if len(srv.plans) != 6 {
			t.Fatalf("%d requests, want 6", len(srv.plans))
		}
		for _, p := range srv.plans {
			id := p.Session.ID
			if p.Headers[DefaultSessionHeader] != id || !strings.Contains(string(p.Body), `"user":"`+id+`"`) {
				t.Errorf("request of %s: header %q, body %s", id, p.Headers[DefaultSessionHeader], p.Body)
			}
		}
	})
}
