package main

import (
	"context"
	"os"
	"path/filepath"
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

// TestScenarioShard runs a library scenario as one shard of two, as its
// usage comment shows: the shard sends its half of the rows.
func TestScenarioShard(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run; skipped with -short")
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"run", "scenarios/azure_conv.lua", "--shard", "1/2", "--limit", "20", "--speedup", "20", "--no-ui",
		"--sim-profile", "fixed", "--sim-ttft", "5ms", "--sim-itl", "1ms", "--out", out, "--log-every", "0"}
	log, err := runLLMLoad(t, ctx, args...)
	if err != nil {
		t.Fatalf("llmload %s: %v\n%s", strings.Join(args, " "), err, log)
	}
	s, lines := readResults(t, out)
	checkComplete(t, s, lines, 10)
	for _, l := range lines {
		if l.Seq%2 != 1 {
			t.Errorf("shard 1/2 sent row %d", l.Seq)
		}
	}
}
