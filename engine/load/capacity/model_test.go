package capacity

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/engine/results/record"
)

// endless is a Source of identical rows that never ends.
type endless struct{}

func (endless) Next() (trace.Row, error) {
	return trace.Row{ContextTokens: 100, GeneratedTokens: 10}, nil
}
func (endless) Close() error { return nil }

type mapper struct{}

func (mapper) Map(row trace.Row) (openai.Spec, error) {
	return openai.Spec{PromptTokens: row.ContextTokens, MaxTokens: row.GeneratedTokens}, nil
}

type builder struct{}

func (builder) Build(_ int64, s *openai.Spec, p *request.Plan) error {
	p.PromptTokens, p.MaxTokens = s.PromptTokens, s.MaxTokens
	return nil
}

// queueServer is a synthetic server with a known knee: Slots requests
// are served at once, each for Service (the first token after Prefill),
// the rest wait in FIFO order. Its capacity is exactly Slots/Service
// requests per second: below it, constant arrivals never wait; above it
// the queue, and so TTFT, grows without bound. With Slots users in a
// closed loop nobody waits; with one more, every request waits. It runs on
// the bubble's clock (testing/synctest).
type queueServer struct {
	epoch            time.Time
	slots            int
	service, prefill time.Duration

	mu   sync.Mutex
	free []time.Duration // per slot: when it is next free, since epoch
}

func (s *queueServer) Do(ctx context.Context, p *request.Plan, res *request.Result) {
	now := time.Since(s.epoch)
	res.Sent = now
	s.mu.Lock()
	if s.free == nil {
		s.free = make([]time.Duration, s.slots)
	}
	best := 0
	for i, f := range s.free {
		if f < s.free[best] {
			best = i
		}
	}
	begin := max(now, s.free[best])
	s.free[best] = begin + s.service
	s.mu.Unlock()
	wait := func(at time.Duration) bool {
		t := time.NewTimer(at - time.Since(s.epoch))
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !wait(begin + s.prefill) {
		res.Error = request.ErrCanceled
		return
	}
	res.FirstToken = time.Since(s.epoch)
	if !wait(begin + s.service) {
		res.Error = request.ErrCanceled
		return
	}
	res.LastByte = time.Since(s.epoch)
	res.CompletionTokens = p.MaxTokens
	res.Status = 200
}

func (s *queueServer) capacity() float64 { return float64(s.slots) / s.service.Seconds() }

// runSearch runs a capacity search against srv on a real runner; call it
// inside a synctest bubble.
func runSearch(t *testing.T, srv *queueServer, cfg Config) *Result {
	t.Helper()
	exec, err := New(cfg, endless{}, mapper{}, builder{})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := runExec(t, srv, exec, cfg.SLO)
	return res
}

// runExec runs exec against srv on a real runner, inside a synctest
// bubble, and returns its result and the requests the recorder saw.
func runExec(t *testing.T, srv *queueServer, exec *Executor, slo record.SLO) (*Result, int64) {
	t.Helper()
	epoch := time.Now()
	srv.epoch = epoch
	rec, err := record.New(record.Config{Name: "cap", Epoch: epoch, SLO: slo})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := runner.Run(context.Background(), runner.Config{
		Name: "cap", Epoch: epoch, Executor: exec, Client: srv, Recorder: rec,
		Concurrency: 1024, OnFull: pace.Queue,
	})
	if err != nil {
		t.Fatal(err)
	}
	res := exec.Result()
	if res == nil {
		t.Fatal("no result after Run")
	}
	return res, sum.Completed + sum.Failed
}
