package session

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/shard"
)

// sends lists every request as "session/user/turn@sent", sorted: what
// was sent, by whom and when.
func sends(all []*request.Result, withID bool) []string {
	out := make([]string, 0, len(all))
	for _, r := range all {
		id := "-"
		if withID {
			id = r.Session.ID
		}
		out = append(out, fmt.Sprintf("%s/u%d/t%d@%v", id, r.Session.User, r.Session.Turn, r.Sent))
	}
	slices.Sort(out)
	return out
}

// shardedRuns runs cfg as one process and as n shards (each in its own
// bubble, from the same epoch) and fails unless the shards together sent
// exactly what the one process did. Closed-loop session ids are numbered
// in start order, which only one process has, so they are compared only
// for open-loop starts (withID). Request seqs are numbered in send order
// across sessions: the shards' must only never repeat.
func shardedRuns(t *testing.T, cfg func() Config, n int64, withID bool) {
	t.Helper()
	srv := func() *fakeServer {
		return &fakeServer{ttft: 70 * time.Millisecond, itl: 10 * time.Millisecond, tokens: 6}
	}
	var one []string
	synctest.Test(t, func(t *testing.T) {
		_, all := runSessions(t, cfg(), srv(), 256)
		one = sends(all, withID)
	})
	var union []string
	seqs := map[int64]bool{}
	for i := range n {
		synctest.Test(t, func(t *testing.T) {
			c := cfg()
			c.Shard = shard.Spec{Index: i, Count: n}
			_, all := runSessions(t, c, srv(), 256)
			for _, r := range all {
				if u := int64(r.Session.User); u > 0 && (u-1)%n != i {
					t.Errorf("shard %d/%d ran user %d", i, n, u)
				}
			}
			for _, r := range all {
				if seqs[r.Seq] || r.Seq%n != i {
					t.Errorf("shard %d/%d sent seq %d (repeated, or another shard's)", i, n, r.Seq)
				}
				seqs[r.Seq] = true
			}
			union = append(union, sends(all, withID)...)
		})
	}
	slices.Sort(union)
	if len(one) == 0 {
		t.Fatal("the one-process run sent nothing")
	}
	if !slices.Equal(one, union) {
		t.Errorf("%d shards sent %d requests, one process %d; they differ:\none:   %v\nunion: %v", n, len(union), len(one), head(one), head(union))
	}
}

func head(l []string) []string { return l[:min(len(l), 8)] }

func TestShardsOfFixedUsersAddUp(t *testing.T) {
	shardedRuns(t, func() Config {
		return Config{Program: &chat{t: t, turns: 3, think: 130 * time.Millisecond}, Users: 7, Iterations: 2}
	}, 3, false)
}

func TestShardsOfARampAddUp(t *testing.T) {
	shardedRuns(t, func() Config {
		return Config{Program: &chat{t: t, turns: 1000, think: 90 * time.Millisecond},
			Stages: []Stage{{Users: 9, Duration: 1500 * time.Millisecond}, {Users: 9, Duration: 500 * time.Millisecond}, {Users: 3, Duration: time.Second}}}
	}, 4, false)
}

func TestShardsOfSessionStartsAddUp(t *testing.T) {
	shardedRuns(t, func() Config {
		return Config{Program: &chat{t: t, turns: 3, think: 200 * time.Millisecond},
			Starts: pace.Poisson(12, 7), MaxSessions: 23}
	}, 3, true)
}

// Each shard runs its share of every target: the shares add up.
func TestRampShareAddsUp(t *testing.T) {
	for total := int64(0); total < 20; total++ {
		var sum int64
		for i := range int64(6) {
			sum += shard.Spec{Index: i, Count: 6}.Share(total)
		}
		if sum != total {
			t.Errorf("shares of %d add up to %d", total, sum)
		}
	}
}
