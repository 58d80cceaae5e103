package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/results/rundir"
)

// turnLine is what a session request line says about its place in the
// run: whose turn it was and what it asked for.
type turnLine struct {
	User      int `json:"user_id"`
	Turn      int `json:"turn"`
	Prompt    int `json:"prompt_tokens"`
	MaxTokens int `json:"max_tokens"`
}

func readTurns(t *testing.T, dir string) []turnLine {
	t.Helper()
	var out []turnLine
	err := rundir.EachLine(filepath.Join(dir, rundir.RequestsFile), func(b []byte, _ int, _ int64) error {
		var l turnLine
		err := json.Unmarshal(b, &l)
		out = append(out, l)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b turnLine) int { return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Turn, b.Turn)) })
	return out
}

// Closed-loop chat users as one process and as 2 shards (users split
// (u-1) mod 2), each user one conversation of 3 turns, merged: the merged
// run holds every user's turns as one process sent them (the answers, a
// function of the request, make the later turns' prompts), by_turn counts
// every turn and is the shards' lines in one recorder, the session
// counters add up, and the figures that are each shard's machine's stay
// per shard and are marked so.
func TestMergeSessionShards(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three simulated runs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const users, turns = 5, 3
	one, dirs, merged, _ := oneAndShards(t, ctx, t.TempDir(), 2, exitOK, "scenarios/chat_sessions.lua",
		"--users", fmt.Sprint(users), "--turns", fmt.Sprint(turns), "--iterations", "1", "--duration", "0", "--think", "0.05",
		"--answer", "32", "--seed", "3", "--prompt-seed", "5", "--no-ui", "--log-every", "0", "--server-metrics", "off",
		"--sim-profile", "fixed", "--sim-ttft", "5ms", "--sim-itl", "1ms")
	for i, d := range dirs {
		for _, l := range readTurns(t, d) {
			if (l.User-1)%2 != i {
				t.Errorf("shard %d/2 ran user %d", i, l.User)
			}
		}
	}
	single, m := summaryOf(t, one), summaryOf(t, merged)
	for _, k := range []string{"completed", "failed", "total_input_tokens", "total_output_tokens"} {
		if single[k] != m[k] || m[k] == nil {
			t.Errorf("%s: merged %v, one process %v", k, m[k], single[k])
		}
	}
	if got, want := readTurns(t, merged), readTurns(t, one); !slices.Equal(got, want) {
		t.Errorf("merged turns %v\none process %v", got, want)
	}
	var file struct {
		ByTurn []struct {
			Turn      int `json:"turn"`
			Completed int `json:"completed"`
			TTFT      struct {
				P50 float64 `json:"p50_ms"`
				P99 float64 `json:"p99_ms"`
			} `json:"ttft"`
		} `json:"by_turn"`
	}
	if b, err := os.ReadFile(filepath.Join(merged, "summary.json")); err != nil || json.Unmarshal(b, &file) != nil {
		t.Fatalf("merged summary.json: %v", err)
	}
	byTurn := file.ByTurn
	want := recordShards(t, dirs).ByTurn
	if len(byTurn) != turns || len(want) != turns {
		t.Fatalf("by_turn %+v, the shards' lines in one recorder %+v: want %d turns", byTurn, want, turns)
	}
	for i, b := range byTurn {
		if b.Turn != i+1 || b.Completed != users || b.TTFT.P50 != want[i].TTFT.P50 || b.TTFT.P99 != want[i].TTFT.P99 {
			t.Errorf("by_turn[%d] %+v, want turn %d of %d users, ttft as %+v", i, b, i+1, users, want[i].TTFT)
		}
	}
	ss, _ := m["sessions"].(map[string]any)
	ws, _ := single["sessions"].(map[string]any)
	for _, k := range []string{"started", "completed", "turns"} {
		if ss[k] != ws[k] || ss[k] == nil {
			t.Errorf("sessions.%s: merged %v, one process %v", k, ss[k], ws[k])
		}
	}
	if ss["not_merged"] == nil || ss["think_time"] != nil {
		t.Errorf("merged sessions %v: want the per-shard figures left out and named in not_merged", ss)
	}
	for i, sh := range m["shards"].([]any) {
		if sh.(map[string]any)["sessions"].(map[string]any)["think_time"] == nil {
			t.Errorf("shards[%d].sessions has no think_time", i)
		}
	}
}
