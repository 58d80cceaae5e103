package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The fault matrix (docs/faults.md): `llmload run` against `llmload sim
// --fault ...`, one misbehaviour per case. For each: the run ends within
// its bound with the documented exit code, every request is in exactly one
// class (requests.jsonl and summary.json agree, line for line and class by
// class), and the run's peak RSS stays under a bound.

type faultCase struct {
	name    string
	sim     []string // --fault flags for the simulator
	run     []string // extra flags for the run
	classes []string // the classes requests may end in ("" = completed); each must occur
	maybe   []string // classes that may occur as well
	exit    int
	bound   time.Duration // wall time of the run, generous for a loaded 2-core machine
	maxRSS  int64         // peak RSS of the run, KiB
	restart bool          // kill -9 the simulator mid-run and start it again on the same port
	speedup string        // the scenario's --speedup; default 50
}

const faultLimit = 8

var faultMatrix = []faultCase{
	{name: "http500", sim: []string{"--fault", "http500@0.5"}, classes: []string{"", "http_status"}, exit: exitOK},
	{name: "http429", sim: []string{"--fault", "http429:1s"}, classes: []string{"http_status"}, exit: exitAllFailed},
	{name: "http503", sim: []string{"--fault", "http503:2s@0.5"}, classes: []string{"", "http_status"}, exit: exitOK},
	{name: "content-type", sim: []string{"--fault", "content-type"}, classes: []string{"protocol"}, exit: exitAllFailed},
	{name: "reset", sim: []string{"--fault", "reset:1@0.5"}, classes: []string{"", "protocol"}, exit: exitOK},
	{name: "stall-first", sim: []string{"--fault", "stall-first@0.5"}, classes: []string{"", "stall"}, exit: exitOK},
	{name: "stall-mid", sim: []string{"--fault", "stall-mid"}, classes: []string{"stall"}, exit: exitAllFailed},
	{name: "trickle", sim: []string{"--fault", "trickle:20ms"}, run: []string{"--timeout", "2s"}, classes: []string{"timeout"}, exit: exitAllFailed},
	{name: "malformed", sim: []string{"--fault", "malformed@0.5"}, classes: []string{"", "protocol"}, exit: exitOK},
	{name: "oversized", sim: []string{"--fault", "oversized"}, classes: []string{"protocol"}, exit: exitAllFailed, maxRSS: 384 << 10},
	{name: "endless", sim: []string{"--fault", "endless"}, classes: []string{"overrun"}, exit: exitAllFailed},
	{name: "tokenize-stall", sim: []string{"--fault", "tokenize-stall:1s"}, run: []string{"--calibrate", "auto"}, classes: []string{""}, exit: exitOK, bound: 40 * time.Second},
	{name: "models-stall", sim: []string{"--fault", "models-stall"}, exit: exitConfig, bound: 30 * time.Second},
	{name: "restart", restart: true, speedup: "4", classes: []string{""}, maybe: []string{"protocol", "connect"}, exit: exitOK, bound: 60 * time.Second},
}

func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs llmload against a misbehaving simulator")
	}
	for _, c := range faultMatrix {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runFaultCase(t, c)
		})
	}
}

func runFaultCase(t *testing.T, c faultCase) {
	if c.bound == 0 {
		c.bound = 30 * time.Second
	}
	if c.speedup == "" {
		c.speedup = "50"
	}
	if c.maxRSS == 0 {
		c.maxRSS = 192 << 10
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	simArgs := append([]string{"--profile", "fixed", "--ttft", "5ms", "--itl", "1ms"}, c.sim...)
	simCtx, killSim := context.WithCancel(ctx)
	defer killSim()
	url := startSim(t, simCtx, simArgs...)

	out := filepath.Join(t.TempDir(), "out")
	args := []string{"run", "scenarios/azure_conv.lua", "--url", url, "--limit", fmt.Sprint(faultLimit),
		"--speedup", c.speedup, "--concurrency", "4", "--timeout", "10s", "--stall-timeout", "1s", "--drain-timeout", "5s",
		"--calibrate", "off", "--server-metrics", "off", "--log-every", "0", "--out", out}
	if c.name != "models-stall" {
		args = append(args, "--model", "meta-llama/Llama-3.1-8B-Instruct")
	}
	args = append(args, c.run...) // later flags win

	var restarted chan bool
	runCtx, runDone := context.WithCancel(ctx)
	if c.restart {
		restarted = make(chan bool, 1)
		go func() {
			if !waitRunning(runCtx, url) {
				restarted <- false
				return
			}
			killSim() // SIGKILL: streams end without [DONE], the port refuses until the new one listens
			startSim(t, ctx, append(simArgs, "--addr", strings.TrimPrefix(url, "http://"))...)
			restarted <- true
		}()
	}
	r := runMeasured(t, ctx, args...)
	runDone()
	if restarted != nil && !<-restarted {
		t.Fatalf("the run ended before a request was in flight at the simulator: nothing to kill\n%s", r.out)
	}
	t.Logf("%s: exit %d in %v, peak RSS %d KiB", c.name, r.code, r.wall.Round(time.Millisecond), r.maxRSS)
	if r.code != c.exit {
		t.Fatalf("exit %d, want %d\n%s", r.code, c.exit, r.out)
	}
	if r.wall > c.bound {
		t.Errorf("the run took %v, over its bound %v", r.wall, c.bound)
	}
	if r.maxRSS > c.maxRSS {
		t.Errorf("peak RSS %d KiB, over the bound %d KiB", r.maxRSS, c.maxRSS)
	}
	if c.exit == exitConfig {
		if !strings.Contains(r.out, "/v1/models") || !strings.Contains(r.out, "--model") {
			t.Fatalf("output does not say what failed and what to do:\n%s", r.out)
		}
		if _, err := os.Stat(filepath.Join(out, "requests.jsonl")); err == nil {
			t.Fatal("requests were logged by a run that could not start")
		}
		return
	}
	checkAccounting(t, out, c)
}

// waitRunning returns true once the simulator at url has a request in
// flight, false if ctx ends first.
func waitRunning(ctx context.Context, url string) bool {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "vllm:num_requests_running{") && !strings.HasSuffix(l, " 0") {
				resp.Body.Close()
				return true
			}
		}
		resp.Body.Close()
	}
}

type measuredRun struct {
	out    string
	code   int
	wall   time.Duration
	maxRSS int64 // KiB, from the child's rusage
}

// runMeasured runs the binary from the module root and measures it: exit
// code, wall time and peak RSS.
func runMeasured(t *testing.T, ctx context.Context, args ...string) measuredRun {
	t.Helper()
	cmd, out := llmloadCmd(t, ctx, args...)
	start := time.Now()
	err := cmd.Run()
	r := measuredRun{out: out.String(), wall: time.Since(start)}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running llmload: %v", err)
	}
	r.code = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss // KiB on Linux
	}
	return r
}

// checkAccounting asserts that every planned request is in requests.jsonl
// exactly once, in one of the case's classes, and that summary.json says
// the same.
func checkAccounting(t *testing.T, out string, c faultCase) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Completed, Failed, Sent, Dropped int
		ErrorsByClass                    map[string]int `json:"errors_by_class"`
		RequestsLogDropped               int            `json:"requests_log_dropped"`
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	_, lines := readResults(t, out)
	seqs := map[int64]bool{}
	byClass := map[string]int{}
	for _, l := range lines {
		if seqs[l.Seq] {
			t.Fatalf("request %d logged twice", l.Seq)
		}
		seqs[l.Seq] = true
		byClass[l.Error]++
	}
	if len(lines) != faultLimit || sum.Completed+sum.Failed != faultLimit || sum.Sent+sum.Dropped != len(lines) || sum.RequestsLogDropped != 0 {
		t.Fatalf("requests.jsonl %d lines; summary completed %d failed %d sent %d dropped %d log-dropped %d; want %d requests, each once",
			len(lines), sum.Completed, sum.Failed, sum.Sent, sum.Dropped, sum.RequestsLogDropped, faultLimit)
	}
	t.Logf("%s: classes %v", c.name, byClass)
	if byClass[""] != sum.Completed {
		t.Fatalf("requests.jsonl has %d completed, summary %d", byClass[""], sum.Completed)
	}
	for class, n := range byClass {
		if class != "" && sum.ErrorsByClass[class] != n {
			t.Fatalf("class %s: %d in requests.jsonl, %d in summary.json errors_by_class %v", class, n, sum.ErrorsByClass[class], sum.ErrorsByClass)
		}
		allowed := false
		for _, k := range append(append([]string{}, c.classes...), c.maybe...) {
			allowed = allowed || k == class
		}
		if !allowed {
			t.Errorf("%d requests in class %q, which this fault must not produce (want %q, maybe %q)", n, class, c.classes, c.maybe)
		}
	}
	for _, k := range c.classes {
		if byClass[k] == 0 {
			t.Errorf("no request in class %q (classes %v)", k, byClass)
		}
	}
	for class, n := range sum.ErrorsByClass {
		if byClass[class] != n {
			t.Fatalf("summary.json class %s: %d, requests.jsonl %d", class, n, byClass[class])
		}
	}
}
