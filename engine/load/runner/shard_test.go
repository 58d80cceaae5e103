package runner

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/shard"
	"github.com/llmload/llmload/engine/load/trace"
)

// planLog is a Client that lists every plan it is given: seq, due time,
// source line and lengths, and when it was sent.
type planLog struct {
	epoch time.Time
	mu    sync.Mutex
	plans []string
}

func (l *planLog) Do(ctx context.Context, p *request.Plan, res *request.Result) {
	sent := time.Since(l.epoch)
	l.mu.Lock()
	l.plans = append(l.plans, fmt.Sprintf("seq %d due %v sent %v line %d prompt %d max %d", p.Seq, p.Due, sent, p.SourceLine, p.PromptTokens, p.MaxTokens))
	l.mu.Unlock()
	res.Seq, res.Sent, res.LastByte, res.Status = p.Seq, sent, sent, 200
}

// openLoopPlans runs an open-loop scenario (source and schedule made
// afresh by mk) as shard sh and returns its plans, sorted.
func openLoopPlans(t *testing.T, mk func() (trace.Source, pace.Schedule), limit int64, sh shard.Spec) []string {
	var plans []string
	synctest.Test(t, func(t *testing.T) {
		src, sched := mk()
		log := &planLog{epoch: time.Now()}
		cfg := newRun(t, src, &fakeServer{epoch: log.epoch}, 8)
		cfg.Client, cfg.Schedule, cfg.Limit, cfg.Shard = log, sched, limit, sh
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		plans = log.plans
	})
	slices.Sort(plans)
	return plans
}

// The n shards of an open-loop scenario together plan exactly the one
// process's requests: the same seqs, due times, rows and lengths.
func TestShardsOfOpenLoopAddUp(t *testing.T) {
	cases := []struct {
		name  string
		mk    func() (trace.Source, pace.Schedule)
		limit int64
	}{
		{"replayed trace", func() (trace.Source, pace.Schedule) {
			return &rows{r: trace10(23, 300*time.Millisecond)}, pace.Replay(2)
		}, 0},
		{"synthetic rows at Poisson arrivals", func() (trace.Source, pace.Schedule) {
			return trace.SynthAzureConv(trace.SynthConfig{Seed: 5}), pace.Poisson(40, 9)
		}, 50},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			one := openLoopPlans(t, c.mk, c.limit, shard.Spec{})
			if len(one) == 0 {
				t.Fatal("one process planned nothing")
			}
			for _, n := range []int64{2, 3} {
				var union []string
				for i := range n {
					part := openLoopPlans(t, c.mk, c.limit, shard.Spec{Index: i, Count: n})
					if want := (shard.Spec{Index: i, Count: n}).Share(int64(len(one))); int64(len(part)) != want {
						t.Errorf("shard %d/%d planned %d, want %d", i, n, len(part), want)
					}
					union = append(union, part...)
				}
				slices.Sort(union)
				if !slices.Equal(one, union) {
					t.Errorf("%d shards planned %d, one process %d; first: %v vs %v", n, len(union), len(one), union[:min(3, len(union))], one[:3])
				}
			}
		})
	}
}
