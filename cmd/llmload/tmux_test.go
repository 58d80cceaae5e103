package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

// TestDashboardInTmux runs `llmload run` in a real terminal (tmux), waits
// for the charts to fill, pauses, stops with q, and checks the results
// files were written: the whole interactive path a user takes.
func TestDashboardInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("real-terminal test; skipped with -short")
	}
	tmux := testenv.Tool(t, "tmux")
	socket := fmt.Sprintf("llmload-test-%d", os.Getpid())
	out := t.TempDir()
	tm := func(args ...string) string {
		t.Helper()
		b, err := exec.Command(tmux, append([]string{"-L", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	cmdline := fmt.Sprintf("cd %q && %q run scenarios/azure_conv.lua --limit 100000 --speedup 4 "+
		"--sim-profile fixed --sim-ttft 20ms --sim-itl 5ms --sample-interval 1 --log-every 0.25 --out %q; echo LLMLOAD-EXIT=$?; sleep 600",
		testenv.ModuleRoot(t), binPath, out)
	tm("new-session", "-d", "-s", "dash", "-x", "160", "-y", "48", "env TERM=xterm-256color sh -c '"+strings.ReplaceAll(cmdline, "'", `'\''`)+"'")
	t.Cleanup(func() { exec.Command(tmux, "-L", socket, "kill-server").Run() })

	screen := func() string { return tm("capture-pane", "-p", "-t", "dash") }
	// waitFor polls the screen until cond holds; the bound is generous
	// because the machine is shared, and only a broken dashboard misses it.
	waitFor := func(what string, cond func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			s := screen()
			if cond(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; screen:\n%s", what, s)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	brailleDots := func(s string) int {
		n := 0
		for _, r := range s {
			if r > 0x2800 && r <= 0x28FF {
				n++
			}
		}
		return n
	}
	s := waitFor("charts with data", func(s string) bool {
		return strings.Contains(s, "Requests/s") && strings.Contains(s, "TTFT ms") && brailleDots(s) > 40
	})
	if !strings.Contains(s, "azure-conv") || !strings.Contains(s, "http://127.0.0.1:") {
		t.Fatalf("header lacks scenario or URL:\n%s", s)
	}
	tm("send-keys", "-t", "dash", "p")
	waitFor("PAUSED", func(s string) bool { return strings.Contains(s, "PAUSED") })
	tm("send-keys", "-t", "dash", "q")
	s = waitFor("exit", func(s string) bool { return strings.Contains(s, "LLMLOAD-EXIT=") })
	if !strings.Contains(s, "LLMLOAD-EXIT=130") {
		t.Fatalf("want exit code 130 after q; screen:\n%s", s)
	}
	if s = tm("capture-pane", "-p", "-t", "dash", "-S", "-400"); !strings.Contains(s, "Serving Benchmark Result") {
		t.Fatalf("no summary table after the dashboard closed:\n%s", s)
	}
	sum, lines := readResults(t, out)
	if sum.Completed == 0 || sum.Failed != 0 || len(lines) != sum.Completed {
		t.Fatalf("results: completed %d failed %d lines %d", sum.Completed, sum.Failed, len(lines))
	}
	if _, err := os.Stat(filepath.Join(out, "windows.jsonl")); err != nil {
		t.Fatal(err)
	}
}
