package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// shardRun is what one results directory says about its shard.
type shardRun struct {
	sum  summaryFile
	meta struct {
		Seed   uint64         `json:"seed"`
		SHA256 string         `json:"scenario_sha256"`
		Shard  map[string]any `json:"shard"`
	}
	sends []string // "seq scheduled_ms", sorted
}

func readShardRun(t *testing.T, dir string) shardRun {
	t.Helper()
	var r shardRun
	r.sum, _ = readResults(t, dir)
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Meta json.RawMessage `json:"meta"`
	}
	if err := json.Unmarshal(b, &s); err != nil || json.Unmarshal(s.Meta, &r.meta) != nil {
		t.Fatalf("summary.json meta: %v", err)
	}
	f, err := os.Open(filepath.Join(dir, "requests.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l struct {
			Seq       int64   `json:"seq"`
			Scheduled float64 `json:"scheduled_ms"`
			Prompt    int     `json:"prompt_tokens"`
			MaxTokens int     `json:"max_tokens"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		r.sends = append(r.sends, fmt.Sprintf("seq %d at %.3f ms prompt %d max %d", l.Seq, l.Scheduled, l.Prompt, l.MaxTokens))
	}
	slices.Sort(r.sends)
	return r
}

// One process and 4 shards of it (started together with --start-at, each
// with its own built-in simulator) send the same requests at the same
// offsets: completed and token totals add up to the one process's.
func TestShardsAddUpToOneRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	common := []string{"scenarios/azure_conv.lua", "--limit", "40", "--speedup", "40", "--no-ui", "--log-every", "0",
		"--seed", "11", "--prompt-seed", "5", "--server-metrics", "off",
		"--sim-profile", "fixed", "--sim-ttft", "5ms", "--sim-itl", "1ms"}
	dir := t.TempDir()
	run := func(out string, extra ...string) {
		args := append(append([]string{"run"}, common...), append(extra, "--out", out)...)
		if log, err := runLLMLoad(t, ctx, args...); err != nil {
			t.Errorf("llmload %s: %v\n%s", strings.Join(args, " "), err, log)
		}
	}
	run(filepath.Join(dir, "one"))
	const n = 4
	at := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			run(filepath.Join(dir, fmt.Sprint("s", i)), "--shard", fmt.Sprintf("%d/%d", i, n), "--start-at", at)
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	one := readShardRun(t, filepath.Join(dir, "one"))
	if one.meta.Shard != nil || one.meta.SHA256 == "" {
		t.Errorf("unsharded run: meta.shard %v, scenario_sha256 %q", one.meta.Shard, one.meta.SHA256)
	}
	var sum summaryFile
	var sends []string
	for i := range n {
		s := readShardRun(t, filepath.Join(dir, fmt.Sprint("s", i)))
		sum.Completed += s.sum.Completed
		sum.Failed += s.sum.Failed
		sum.TotalInputTokens += s.sum.TotalInputTokens
		sum.TotalOutputTokens += s.sum.TotalOutputTokens
		sends = append(sends, s.sends...)
		sh := s.meta.Shard
		if sh["index"] != float64(i) || sh["count"] != float64(n) || sh["start_at"] != at || sh["clock_offset_method"] == nil ||
			s.meta.Seed != 11 || s.meta.SHA256 != one.meta.SHA256 {
			t.Errorf("shard %d: meta seed %d sha %q shard %v", i, s.meta.Seed, s.meta.SHA256, sh)
		}
	}
	slices.Sort(sends)
	if sum.Completed != 40 || sum.Completed != one.sum.Completed || sum.Failed != 0 ||
		sum.TotalInputTokens != one.sum.TotalInputTokens || sum.TotalOutputTokens != one.sum.TotalOutputTokens {
		t.Errorf("shards add up to %+v, one process %+v", sum, one.sum)
	}
	if !slices.Equal(sends, one.sends) {
		t.Errorf("shards sent %d requests, one process %d; first %v vs %v", len(sends), len(one.sends), sends[:min(3, len(sends))], one.sends[:min(3, len(one.sends))])
	}
}

// Bad --shard and --start-at values are refused before anything starts,
// naming the flag.
func TestShardFlagErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range []struct{ flag, value, want string }{
		{"--shard", "8/8", "--shard \"8/8\": want 0 <= i < n"},
		{"--shard", "x", "--shard \"x\": want i/n"},
		{"--start-at", "tomorrow", "--start-at \"tomorrow\": want an RFC 3339 instant"},
		{"--start-at", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "in the past"},
		{"--start-at", time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339), "more than 24h0m0s"},
	} {
		log, err := runLLMLoad(t, ctx, "run", "scenarios/azure_conv.lua", c.flag, c.value, "--out", t.TempDir())
		if err == nil || !strings.Contains(log, c.want) {
			t.Errorf("%s %s: err %v, output %q; want it to say %q", c.flag, c.value, err, log, c.want)
		}
	}
}
