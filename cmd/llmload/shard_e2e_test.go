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
	runWant(t, ctx, exitOK, append(append([]string{"run"}, common...), "--out", filepath.Join(dir, "one"))...)
	const n = 4
	shards, at := startShards(t, ctx, dir, n, exitOK, common...)
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
		s := readShardRun(t, shards[i])
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

// Every shard reads, times and maps every row of the source and builds
// only its own, so each shard skips the malformed rows one process skips,
// and the merged run reports them once, as one process does.
func TestShardSkippedRows(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	one, dirs, merged, _ := oneAndShards(t, ctx, t.TempDir(), 2, exitOK, "scenarios/azure_conv.lua",
		"--csv", "engine/load/trace/testdata/azure_bad_rows.csv", "--skip-bad-rows",
		"--speedup", "20", "--no-ui", "--log-every", "0", "--server-metrics", "off")
	skipped := func(dir string) string {
		b, _ := json.Marshal(summaryOf(t, dir)["skipped_rows"])
		return string(b)
	}
	want := skipped(one)
	if !strings.Contains(want, `"malformed":7`) {
		t.Fatalf("one process skipped_rows %s; want the 7 malformed rows of the file", want)
	}
	for _, d := range append(dirs, merged) {
		if got := skipped(d); got != want {
			t.Errorf("%s: skipped_rows %s, one process %s", d, got, want)
		}
	}
}

// startAhead is how far ahead startShards sets --start-at: every shard's
// probes (its built-in simulator, /v1/models, /tokenize) must end before
// it, on two shared cores.
const startAhead = 3 * time.Second

// startShards runs `llmload run args...` as n shards at once, each with
// --shard i/n, one --start-at startAhead from now and --out root/s<i>, and
// returns their directories and the instant. A shard whose exit code is
// not wantCode fails t.
func startShards(t *testing.T, ctx context.Context, root string, n, wantCode int, args ...string) (dirs []string, at string) {
	t.Helper()
	at = time.Now().Add(startAhead).UTC().Format(time.RFC3339Nano)
	dirs = make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		dirs[i] = filepath.Join(root, fmt.Sprint("s", i))
		a := append(append([]string{"run"}, args...), "--shard", fmt.Sprintf("%d/%d", i, n), "--start-at", at, "--out", dirs[i])
		wg.Go(func() { runWant(t, ctx, wantCode, a...) })
	}
	wg.Wait()
	return dirs, at
}

// runWant runs the binary with args; an exit code other than wantCode
// fails t (Errorf: safe from several goroutines) and shows the output.
func runWant(t *testing.T, ctx context.Context, wantCode int, args ...string) {
	t.Helper()
	if log, err := runLLMLoad(t, ctx, args...); calibrateExitCode(err) != wantCode {
		t.Errorf("llmload %s: %v, want exit %d\n%s", strings.Join(args, " "), err, wantCode, log)
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
