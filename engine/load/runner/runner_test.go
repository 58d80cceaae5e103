package runner

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/engine/results/record"
)

// rows is a Source over a fixed slice.
type rows struct {
	r      []trace.Row
	closed bool
}

func (s *rows) Next() (trace.Row, error) {
	if len(s.r) == 0 {
		return trace.Row{}, io.EOF
	}
	r := s.r[0]
	s.r = s.r[1:]
	return r, nil
}
func (s *rows) Close() error { s.closed = true; return nil }

type mapper struct{}

func (mapper) Map(row trace.Row) (openai.Spec, error) {
	return openai.Spec{PromptTokens: row.ContextTokens, MaxTokens: row.GeneratedTokens, IgnoreEOS: true}, nil
}

type builder struct{}

func (builder) Build(seq int64, s *openai.Spec, p *request.Plan) error {
	p.MaxTokens, p.PromptTokens, p.IgnoreEOS = s.MaxTokens, s.PromptTokens, s.IgnoreEOS
	return nil
}

// fakeServer "serves" each request in a fixed time on the bubble's clock
// and records when each was sent and the peak concurrency.
type fakeServer struct {
	epoch   time.Time
	service time.Duration

	mu       sync.Mutex
	sent     map[int64]time.Duration
	inFlight int
	peak     int
}

func (f *fakeServer) Do(ctx context.Context, p *request.Plan, res *request.Result) {
	f.mu.Lock()
	f.inFlight++
	f.peak = max(f.peak, f.inFlight)
	now := time.Since(f.epoch)
	f.sent[p.Seq] = now
	f.mu.Unlock()
	res.Seq, res.Sent, res.Status = p.Seq, now, 200
	res.MaxTokens, res.PromptTokensRequested = p.MaxTokens, p.PromptTokens
	select {
	case <-time.After(f.service):
		res.FirstToken = time.Since(f.epoch)
		res.LastByte = res.FirstToken
		res.CompletionTokens, res.UsageFromServer = p.MaxTokens, true
	case <-ctx.Done():
		res.Error = request.ErrCanceled
		res.LastByte = time.Since(f.epoch)
	}
	f.mu.Lock()
	f.inFlight--
	f.mu.Unlock()
}

func trace10(n int, gap time.Duration) []trace.Row {
	out := make([]trace.Row, n)
	for i := range out {
		out[i] = trace.Row{At: time.Duration(i) * gap, ContextTokens: 100, GeneratedTokens: 10, Line: i + 2}
	}
	return out
}

func newRun(t *testing.T, src trace.Source, srv *fakeServer, conc int) Config {
	t.Helper()
	rec, err := record.New(record.Config{Name: "t", SampleInterval: time.Second, Epoch: srv.epoch})
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Name: "t", Epoch: srv.epoch, Source: src, Schedule: pace.Replay(10),
		Mapper: mapper{}, Builder: builder{}, Client: srv, Recorder: rec,
		Concurrency: conc, OnFull: pace.Queue,
	}
}

func TestRunSendsOnSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		srv := &fakeServer{epoch: epoch, service: 50 * time.Millisecond, sent: map[int64]time.Duration{}}
		src := &rows{r: trace10(20, time.Second)} // one per second, speedup 10: every 100ms
		cfg := newRun(t, src, srv, 4)
		sum, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Completed != 20 || sum.Failed != 0 {
			t.Fatalf("completed %d failed %d", sum.Completed, sum.Failed)
		}
		for seq, at := range srv.sent {
			if want := time.Duration(seq) * 100 * time.Millisecond; at != want {
				t.Errorf("request %d sent at %v, want %v", seq, at, want)
			}
		}
	})
}

func TestRunConcurrencyCapQueues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		// Each request takes 1s; they are due every 100ms; cap 3.
		srv := &fakeServer{epoch: epoch, service: time.Second, sent: map[int64]time.Duration{}}
		cfg := newRun(t, &rows{r: trace10(12, time.Second)}, srv, 3)
		sum, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if srv.peak != 3 {
			t.Fatalf("peak concurrency %d, want 3", srv.peak)
		}
		if sum.Completed != 12 {
			t.Fatalf("completed %d", sum.Completed)
		}
		// Request 3 waits for request 0 to finish at 1s.
		if srv.sent[3] != time.Second {
			t.Fatalf("request 3 sent at %v, want 1s", srv.sent[3])
		}
	})
}

func TestRunLimitAndDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		srv := &fakeServer{epoch: epoch, service: time.Millisecond, sent: map[int64]time.Duration{}}
		cfg := newRun(t, &rows{r: trace10(100, time.Second)}, srv, 8)
		cfg.Limit = 7
		sum, err := Run(context.Background(), cfg)
		if err != nil || sum.Completed != 7 {
			t.Fatalf("limit: completed %v err %v", sum, err)
		}
		srv2 := &fakeServer{epoch: epoch, service: time.Millisecond, sent: map[int64]time.Duration{}}
		cfg = newRun(t, &rows{r: trace10(100, time.Second)}, srv2, 8)
		cfg.Duration = 450 * time.Millisecond // due 0,100..400ms
		sum, err = Run(context.Background(), cfg)
		if err != nil || sum.Completed != 5 {
			t.Fatalf("duration: completed %v err %v", sum, err)
		}
	})
}

func TestRunGracefulStopDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		srv := &fakeServer{epoch: epoch, service: 300 * time.Millisecond, sent: map[int64]time.Duration{}}
		cfg := newRun(t, &rows{r: trace10(100, time.Second)}, srv, 50)
		cfg.DrainTimeout = time.Hour
		ctx, stop := context.WithCancel(context.Background())
		time.AfterFunc(550*time.Millisecond, stop) // after sends at 0..500ms
		sum, err := Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Completed != 6 || sum.Failed != 0 {
			t.Fatalf("completed %d failed %d, want the 6 sent to finish", sum.Completed, sum.Failed)
		}
	})
}

func TestRunAbortCancelsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		srv := &fakeServer{epoch: epoch, service: time.Hour, sent: map[int64]time.Duration{}}
		cfg := newRun(t, &rows{r: trace10(3, 0)}, srv, 8)
		cfg.DrainTimeout = 2 * time.Second
		ctx, stop := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, stop)
		start := time.Now()
		sum, err := Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Fatalf("run took %v, want stop (1s) + drain timeout (2s)", got)
		}
		if sum.Failed != 3 {
			t.Fatalf("failed %d, want 3 cancelled", sum.Failed)
		}
	})
}

func TestRunPauseShiftsSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		srv := &fakeServer{epoch: epoch, service: time.Millisecond, sent: map[int64]time.Duration{}}
		cfg := newRun(t, &rows{r: trace10(6, time.Second)}, srv, 4) // due 0,100..500ms
		h, err := Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
		h.Pause()
		time.Sleep(time.Second)
		if st := h.Status(); !st.Paused || st.PausedFor != time.Second || st.Due != 3 || st.Released != 3 {
			t.Fatalf("status while paused: %+v", st)
		}
		h.Resume()
		sum, err := h.Wait()
		if err != nil || sum.Completed != 6 {
			t.Fatalf("completed %v err %v", sum, err)
		}
		for seq, want := range map[int64]time.Duration{2: 200 * time.Millisecond, 3: 1300 * time.Millisecond, 5: 1500 * time.Millisecond} {
			if srv.sent[seq] != want {
				t.Errorf("request %d sent at %v, want %v", seq, srv.sent[seq], want)
			}
		}
	})
}

// A stop that comes after the executor has planned everything, while the
// gate drains its queue, sends none of the queued plans: they are unsent,
// the request in flight finishes, and every plan is accounted for once.
func TestRunStopWhileDrainingSendsNothingQueued(t *testing.T) {
	for _, c := range []struct {
		name         string
		drain        time.Duration
		completed    int64
		failed       int64
		wantDuration time.Duration
	}{
		{"in-flight finishes", 0, 1, 0, 10 * time.Second},
		{"in-flight canceled at the drain timeout", 2 * time.Second, 0, 1, 7 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				epoch := time.Now()
				srv := &fakeServer{epoch: epoch, service: 10 * time.Second, sent: map[int64]time.Duration{}}
				const n = 10
				cfg := newRun(t, &rows{r: trace10(n, 0)}, srv, 1) // all due at 0: one in flight, nine queued
				cfg.DrainTimeout = c.drain
				var final Status
				cfg.BeforeClose = func(st Status) { final = st }
				ctx, stop := context.WithCancel(context.Background())
				defer stop()
				h, err := Start(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Second)
				synctest.Wait()
				if st := h.Status(); st.Planned != n || st.Released != n || st.Queued != n-1 || st.InFlight != 1 {
					t.Fatalf("before the stop: %+v; want everything planned and released, 1 in flight, %d queued", st, n-1)
				}
				stop()
				sum, err := h.Wait()
				if err != nil {
					t.Fatal(err)
				}
				if len(srv.sent) != 1 {
					t.Fatalf("%d requests sent (%v), want only the one in flight before the stop", len(srv.sent), srv.sent)
				}
				if got := time.Since(epoch); got != c.wantDuration {
					t.Fatalf("run took %v, want %v", got, c.wantDuration)
				}
				if sum.Completed != c.completed || sum.Failed != c.failed || final.Unsent != n-1 {
					t.Fatalf("completed %d failed %d unsent %d; want %d, %d, %d",
						sum.Completed, sum.Failed, final.Unsent, c.completed, c.failed, n-1)
				}
				if got := sum.Completed + sum.Failed + final.Unsent; got != n {
					t.Fatalf("%d plans accounted for, want %d", got, n)
				}
			})
		})
	}
}

// countingRows counts the rows the planner reads.
type countingRows struct {
	rows
	read int
}

func (c *countingRows) Next() (trace.Row, error) {
	c.read++
	return c.rows.Next()
}

// A schedule that does not follow the rows' instants is asked before a row
// is read, so the source is read exactly once per request: a Lua source
// counting its rows counts the requests.
func TestRunReadsNoRowPastTheEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			schedule pace.Schedule
			duration time.Duration
		}{
			{"duration", pace.Constant(10), 450 * time.Millisecond},
			{"stages", stages(t, pace.Stage{Rate: 10, Duration: 450 * time.Millisecond}), 0},
		} {
			epoch := time.Now()
			srv := &fakeServer{epoch: epoch, service: time.Millisecond, sent: map[int64]time.Duration{}}
			src := &countingRows{rows: rows{r: trace10(100, time.Second)}}
			cfg := newRun(t, src, srv, 8)
			cfg.Schedule, cfg.Duration = tc.schedule, tc.duration
			sum, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if int64(src.read) != sum.Completed || sum.Completed == 0 {
				t.Errorf("%s: read %d rows for %d requests", tc.name, src.read, sum.Completed)
			}
		}
	})
}

func stages(t *testing.T, st ...pace.Stage) pace.Schedule {
	t.Helper()
	s, err := pace.Stages(10, st)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// countingServer is a fakeServer that counts tokens as a streaming client
// would: all of a request's tokens as soon as it is sent.
type countingServer struct {
	*fakeServer
	tokens atomic.Int64
}

func (c *countingServer) Do(ctx context.Context, p *request.Plan, res *request.Result) {
	c.tokens.Add(int64(p.MaxTokens))
	c.fakeServer.Do(ctx, p, res)
}

func (c *countingServer) StreamedTokens() int64 { return c.tokens.Load() }

// Status says when the schedule ends (the duration, or a limit at a known
// rate), whether a stop came, and how many tokens the client has received.
func TestStatusScheduleEndStoppingAndTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		epoch := time.Now()
		srv := &countingServer{fakeServer: &fakeServer{epoch: epoch, service: 2 * time.Second, sent: map[int64]time.Duration{}}}
		cfg := newRun(t, &rows{r: trace10(100, 0)}, srv.fakeServer, 100)
		cfg.Client = srv
		cfg.Schedule, cfg.Limit, cfg.Duration = pace.Constant(10), 50, 0 // due at 0, 0.1s, ... 4.9s
		var final Status
		cfg.BeforeClose = func(st Status) { final = st }
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		h, err := Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		st := h.Status()
		// 11 due by 1s (0 to 1.0s), 39 to come at 10/s: the last at 4.9s.
		if st.Due != 11 || st.ScheduleEnd != 4900*time.Millisecond {
			t.Errorf("at 1s: due %d, schedule end %v; want 11 and 4.9s", st.Due, st.ScheduleEnd)
		}
		if !st.StreamCounted || st.StreamedTokens != 11*10 || st.Stopping {
			t.Errorf("at 1s: streamed %d (counted %v) stopping %v; want 110 tokens, counted, not stopping", st.StreamedTokens, st.StreamCounted, st.Stopping)
		}
		h.Pause()
		time.Sleep(time.Second)
		synctest.Wait()
		// Paused: the 39 left still take 3.9s, from now.
		if st := h.Status(); st.ScheduleEnd != 5900*time.Millisecond {
			t.Errorf("paused at 2s: schedule end %v, want 5.9s", st.ScheduleEnd)
		}
		h.Resume()
		stop()
		synctest.Wait()
		if st := h.Status(); !st.Stopping {
			t.Errorf("after the stop: Stopping false")
		}
		if _, err := h.Wait(); err != nil {
			t.Fatal(err)
		}
		if !final.Stopping || final.StreamedTokens != 110 {
			t.Errorf("final status: stopping %v streamed %d; want true, 110", final.Stopping, final.StreamedTokens)
		}
	})
}

func TestScheduleEndOfDuration(t *testing.T) {
	o := NewOpenLoop(OpenLoopConfig{Schedule: pace.Constant(10), Limit: 1000, Duration: 30 * time.Second})
	// The limit alone would end at 100s: the duration ends first, moved by
	// the time paused.
	if got := o.scheduleEnd(10*time.Second, 100, 2*time.Second); got != 32*time.Second {
		t.Errorf("duration and limit: %v, want 32s", got)
	}
	o = NewOpenLoop(OpenLoopConfig{Schedule: pace.Constant(10), Limit: 100, Duration: 30 * time.Second})
	if got := o.scheduleEnd(5*time.Second, 50, 0); got != 10*time.Second {
		t.Errorf("limit first: %v, want 10s", got)
	}
	o = NewOpenLoop(OpenLoopConfig{Schedule: pace.Replay(1), Limit: 100})
	if got := o.scheduleEnd(5*time.Second, 50, 0); got != 0 {
		t.Errorf("replayed trace with a limit: %v, want 0 (unknown)", got)
	}
}
