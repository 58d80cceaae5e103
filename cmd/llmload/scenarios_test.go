package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

// TestScenarioLibrary runs every scenario under scenarios/ briefly against
// the built-in simulator, so each example users copy from keeps working.
func TestScenarioLibrary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario end to end; skipped with -short")
	}
	files, err := filepath.Glob(filepath.Join(testenv.ModuleRoot(t), "scenarios", "*.lua"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios found: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".lua")
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			args := []string{"run", filepath.Join("scenarios", name+".lua"), "--limit", "20", "--no-ui",
				"--sim-profile", "fixed", "--sim-ttft", "5ms", "--sim-itl", "1ms", "--out", out, "--log-every", "0"}
			log, err := runLLMLoad(t, ctx, args...)
			if err != nil {
				t.Fatalf("llmload %s: %v\n%s", strings.Join(args, " "), err, log)
			}
			// One results directory per scenario of the script.
			var summaries []string
			filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Name() == "summary.json" {
					summaries = append(summaries, p)
				}
				return nil
			})
			if len(summaries) == 0 {
				t.Fatalf("no summary.json written:\n%s", log)
			}
			for _, p := range summaries {
				s, lines := readResults(t, filepath.Dir(p))
				// Warm-up requests are logged but left out of the summary.
				if s.Completed == 0 || s.Failed != 0 || len(lines) != s.Completed+s.WarmupExcluded {
					t.Fatalf("%s: completed %d failed %d lines %d\n%s", p, s.Completed, s.Failed, len(lines), log)
				}
			}
		})
	}
}

// TestScenarioShard runs a library scenario as its usage comment shows:
// two shards started together with --start-at, each sending its half of
// the rows (with their one-process seq), then `llmload merge` making them
// one run's results, numbered as one process numbers them.
func TestScenarioShard(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run; skipped with -short")
	}
	root := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dirs, _ := startShards(t, ctx, root, 2, exitOK, "scenarios/azure_conv.lua", "--limit", "20", "--speedup", "20", "--no-ui",
		"--sim-profile", "fixed", "--sim-ttft", "5ms", "--sim-itl", "1ms", "--log-every", "0")
	if t.Failed() {
		return
	}
	for i, d := range dirs {
		s, lines := readResults(t, d)
		checkComplete(t, s, lines, 10)
		for _, l := range lines {
			if l.Seq%2 != int64(i) {
				t.Errorf("shard %d/2 sent row %d", i, l.Seq)
			}
		}
	}
	merged := filepath.Join(root, "merged")
	runWant(t, ctx, exitOK, append(append([]string{"merge"}, dirs...), "--out", merged)...)
	s, lines := readResults(t, merged)
	checkComplete(t, s, lines, 20)
	seqs := make([]int64, len(lines))
	for i, l := range lines {
		seqs[i] = l.Seq
	}
	slices.Sort(seqs)
	for i, seq := range seqs {
		if seq != int64(i) {
			t.Fatalf("merged seqs %v, want 0 to 19 once each", seqs)
		}
	}
}
