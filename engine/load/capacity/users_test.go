package capacity

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/load/session"
	"github.com/llmload/llmload/engine/results/record"
)

// chat is a session Program of turns back-to-back turns (no think time),
// so that against queueServer the knee is exactly its slots: with one
// user more than slots, some turn always waits a whole service time.
type chat struct{ turns, prompt, output int }

func (c chat) Begin(s *session.Session) (session.Step, error) { return c.send(), nil }

func (c chat) Next(s *session.Session, res *request.Result) (session.Step, error) {
	if s.Turn >= c.turns || res.Failed() {
		return session.Step{Kind: session.End}, nil
	}
	return c.send(), nil
}

func (chat) Stop(*session.Session) {}

func (c chat) send() session.Step {
	return session.Step{Kind: session.Send, Spec: openai.Spec{Endpoint: request.Chat, PromptTokens: c.prompt, MaxTokens: c.output, IgnoreEOS: true}}
}

// runUsersSearch runs a search over session users against srv on a real
// runner; call it inside a synctest bubble. It returns the result, the
// users and how many requests the recorder saw.
func runUsersSearch(t *testing.T, srv *queueServer, cfg Config, turns int) (*Result, *session.Executor, int64) {
	t.Helper()
	users, exec := newUsersSearch(t, cfg, turns)
	res, n := runExec(t, srv, exec, cfg.SLO)
	return res, users, n
}

func newUsersSearch(t *testing.T, cfg Config, turns int) (*session.Executor, *Executor) {
	t.Helper()
	users, err := session.New(session.Config{Name: "cap", Program: chat{turns, 100, 10}, Builder: builder{}, Steered: true})
	if err != nil {
		t.Fatal(err)
	}
	exec, err := NewUsers(cfg, users)
	if err != nil {
		t.Fatal(err)
	}
	return users, exec
}

// TestSearchUsersSynthetic: closed-loop session users against a server
// whose knee is its slots. The answer is the knee exactly, in a
// logarithmic number of steps; every turn counts towards exactly one step
// (the users pause at turn boundaries between steps, nothing is sent
// outside a step); users carry their sessions across steps, and the users
// over a lower step's count stop at a turn boundary.
func TestSearchUsersSynthetic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &queueServer{slots: 12, service: 300 * time.Millisecond, prefill: 20 * time.Millisecond}
		cfg := quickSteps(Config{
			Name:   "cap",
			Search: SearchConfig{Start: 1, Max: 256, Precision: 0.05},
			SLO:    record.SLO{TTFT: 50 * time.Millisecond},
		})
		res, users, requests := runUsersSearch(t, srv, cfg, 4)
		for _, s := range res.Steps {
			t.Logf("step %d: %v users %s (%s) sent %d judged %d goodput %.3f", s.N, s.Level, s.Verdict, s.Ended, s.Sent, s.Judged, s.Goodput)
		}
		if res.Answer != 12 || res.Reason != ReasonConverged || res.By != ByUsers || res.Unit != "users" {
			t.Errorf("answer %v %s by %s (%s), want 12 users converged", res.Answer, res.Unit, res.By, res.Reason)
		}
		if bound := StepsFor(1, 12, 2, 0.05); len(res.Steps) > bound {
			t.Errorf("%d steps, bound %d", len(res.Steps), bound)
		}
		var sent int64
		for _, s := range res.Steps {
			sent += s.Sent
			if s.Unfinished != 0 || s.Judged < cfg.MinRequests {
				t.Errorf("step %d: %d unfinished, %d judged", s.N, s.Unfinished, s.Judged)
			}
		}
		if sent != requests {
			t.Errorf("the steps counted %d turns, the run sent %d", sent, requests)
		}
		sum := users.Summary()
		if sum.Mode != "steered_users" || sum.Stopped == 0 || sum.Completed == 0 {
			t.Errorf("sessions: %+v; want steered users with sessions completed and stopped (ramp-down, end)", sum)
		}
	})
}

// Report shows the step under way: its level, part and running goodput,
// the bracket so far; with users, the users' pauses between steps are not
// a pause of the run.
func TestReportLiveStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &queueServer{slots: 4, service: 300 * time.Millisecond, prefill: 20 * time.Millisecond}
		epoch := time.Now()
		srv.epoch = epoch
		_, exec := newUsersSearch(t, quickSteps(Config{
			Search: SearchConfig{Start: 2, Max: 64, Precision: 0.05},
			SLO:    record.SLO{TTFT: 50 * time.Millisecond},
		}), 3)
		rec, err := record.New(record.Config{Name: "cap", Epoch: epoch, SLO: record.SLO{TTFT: 50 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background())
		h, err := runner.Start(ctx, runner.Config{
			Name: "cap", Epoch: epoch, Executor: exec, Client: srv, Recorder: rec, Concurrency: 64, OnFull: pace.Queue,
		})
		if err != nil {
			t.Fatal(err)
		}
		var st runner.Status
		time.Sleep(time.Second) // step 1, in its 2 s warm-up
		synctest.Wait()
		st.Elapsed = time.Since(epoch)
		exec.Report(&st)
		c := st.Capacity
		if c == nil || c.Step != 1 || c.Level != 2 || c.Part != "warm-up" || c.Phase != "bracketing" || c.Unit != "users" || st.Paused {
			t.Fatalf("in step 1's warm-up: %+v paused %v", c, st.Paused)
		}
		// Step 1 (2 users) lasts the 2 s warm-up and 8 s min time; step 2
		// is 4 users, step 3 (8 users) fails; 5 s into step 3's measuring:
		for c.Step < 3 || c.Part != "measuring" {
			time.Sleep(250 * time.Millisecond)
			synctest.Wait()
			st.Elapsed = time.Since(epoch)
			exec.Report(&st)
			c = st.Capacity
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		st.Elapsed = time.Since(epoch)
		exec.Report(&st)
		c = st.Capacity
		if c.Step != 3 || c.Level != 8 || c.Last != "pass" || c.LastLevel != 4 || c.Low != 4 || c.High != 0 {
			t.Errorf("in step 3: %+v", c)
		}
		if c.Finished == 0 || float64(c.Good)/float64(c.Finished) > 0.9 {
			t.Errorf("step 3 at twice the knee: %d of %d finished judged turns good", c.Good, c.Finished)
		}
		stop()
		if _, err := h.Wait(); err != nil {
			t.Fatal(err)
		}
		st = runner.Status{}
		exec.Report(&st)
		if c := st.Capacity; c.Part != "" || c.Step != 3 || c.Last != "fail" && c.Last != "none" {
			t.Errorf("after the run: %+v", c)
		}
	})
}
