package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestCalibrateQuick is `make test`'s calibration: the real binary runs
// `llmload calibrate --quick` with the simulator in its own process and
// fails when a step of at most 100 streams has a mean TTFT error above
// 5 ms. That bound is generous (a quiet 2-vCPU VM measures ~0.5 ms), so
// only a real regression breaks it; the precise numbers are benchmarks
// (docs/performance.md).
func TestCalibrateQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("a real calibration against a simulator process; skipped with -short")
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// How long --quick takes is a benchmark figure (docs/performance.md),
	// not a test: this shared machine's speed varies.
	text, err := runLLMLoad(t, ctx, "calibrate", "--quick", "--max-ttft-error", "5ms", "--out", out)
	if err != nil {
		t.Fatalf("llmload calibrate --quick: %v\n%s", err, text)
	}
	for _, want := range []string{"streams=1 ", "streams=100 ", "streams=1000 ", "rate=1000 ", "sessions=100x6 ", "later session turns", "targets", "separate-process simulator"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	var rep struct {
		Mode  string `json:"mode"`
		Steps []struct {
			Step struct {
				Name string `json:"name"`
			} `json:"step"`
			Requests  int64 `json:"requests"`
			Completed int64 `json:"completed"`
			TTFTError struct {
				N    int64   `json:"n"`
				Mean float64 `json:"mean_ms"`
			} `json:"ttft_error"`
			SimCPUKnown bool `json:"sim_cpu_known"`
			Machine     struct {
				Known   bool  `json:"known"`
				Wakeups int64 `json:"wakeups"`
			} `json:"machine_stalls"`
			Sim struct {
				Matched bool `json:"matched_with_stalls"`
			} `json:"sim_lag"`
		} `json:"steps"`
	}
	b, err := os.ReadFile(filepath.Join(out, "calibrate.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("calibrate.json: %v", err)
	}
	if rep.Mode != "separate-process" || len(rep.Steps) != 5 {
		t.Fatalf("mode %q, %d steps", rep.Mode, len(rep.Steps))
	}
	for _, s := range rep.Steps {
		if s.Completed != s.Requests || s.TTFTError.N == 0 || !s.SimCPUKnown {
			t.Errorf("%s: %d of %d completed, %d measured, sim CPU known %v", s.Step.Name, s.Completed, s.Requests, s.TTFTError.N, s.SimCPUKnown)
		}
		// The jitter probe is on by default on Linux: every step has the
		// machine's stalls and the simulator's overruns matched with them.
		if runtime.GOOS == "linux" && (!s.Machine.Known || s.Machine.Wakeups == 0 || !s.Sim.Matched) {
			t.Errorf("%s: machine stalls %+v, overruns matched %v", s.Step.Name, s.Machine, s.Sim.Matched)
		}
		if s.Step.Name == "streams=100" {
			t.Logf("streams=100: mean TTFT error %.3f ms", s.TTFTError.Mean)
		}
	}
	table, err := os.ReadFile(filepath.Join(out, "calibrate.txt"))
	if err != nil || !bytes.Contains(table, []byte("ttft err mean")) {
		t.Errorf("calibrate.txt: %v\n%s", err, table)
	}
	if _, err := os.Stat(filepath.Join(out, "02-streams=100", "requests.jsonl")); err != nil {
		t.Errorf("step results files: %v", err)
	}
}

// An impossible bound must fail the run with exit code 1 (a threshold).
func TestCalibrateMaxTTFTErrorFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	text, err := runLLMLoad(t, ctx, "calibrate", "--streams", "10", "--rates", "none", "--length", "1s",
		"--max-ttft-error", "1us", "--no-request-files", "--out", t.TempDir())
	if code := calibrateExitCode(err); code != exitThresholds {
		t.Fatalf("exit code %d, want %d:\n%s", code, exitThresholds, text)
	}
	if !strings.Contains(text, "--max-ttft-error: streams=10: mean TTFT error") {
		t.Errorf("output does not name the failed bound:\n%s", text)
	}
}

func TestCalibrateFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--streams", "10,x"}, `--streams: "x" is not a positive number`},
		{[]string{"--streams", "1.5"}, "--streams: 1.5 is not a whole number"},
		{[]string{"--rates", "-3"}, `--rates: "-3" is not a positive number`},
		{[]string{"--streams", "none", "--rates", "none"}, "no steps"},
		{[]string{"--sessions", "0"}, `--sessions: "0" is not a positive number`},
		{[]string{"--sessions", "2.5"}, "--sessions: 2.5 is not a whole number"},
		{[]string{"--tokens", "1", "--streams", "5"}, "streams=5: tokens must be at least 2"},
		{[]string{"--length", "10ms"}, "length must be at least 100ms"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
	} {
		var out, errb bytes.Buffer
		if code := calibrateCmd(c.args, &out, &errb); code != exitConfig {
			t.Errorf("%v: exit %d, want %d", c.args, code, exitConfig)
		}
		if !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: stderr %q does not say %q", c.args, errb.String(), c.want)
		}
	}
	var out bytes.Buffer
	if code := calibrateCmd([]string{"--help"}, &out, &out); code != exitOK || !strings.Contains(out.String(), "--separate-process") {
		t.Errorf("--help: exit %d\n%s", code, out.String())
	}

	f := calibrateFlags{quick: true, streams: "3", rates: "250", itl: 20 * time.Millisecond, ttft: 30 * time.Millisecond}
	steps, err := calibrationSteps(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].Name() != "streams=3" || steps[1].Name() != "rate=250" ||
		steps[0].ITL != 20*time.Millisecond || steps[1].TTFT != 30*time.Millisecond || steps[0].Length != 2*time.Second {
		t.Errorf("steps %+v", steps)
	}
	f = calibrateFlags{quick: true, sessions: "20", streams: "none", rates: "none", ttft: 30 * time.Millisecond}
	if steps, err = calibrationSteps(f); err != nil || len(steps) != 1 || steps[0].Name() != "sessions=20x6" || steps[0].TTFT != 30*time.Millisecond {
		t.Errorf("--sessions 20: %v %+v", err, steps)
	}
	f = calibrateFlags{quick: true, sessions: "20", ttft: 30 * time.Millisecond} // the other lists default
	if steps, err = calibrationSteps(f); err != nil || len(steps) != 5 || steps[4].Name() != "sessions=20x6" {
		t.Errorf("--sessions 20 with default streams and rates: %v %+v", err, steps)
	}
}

func calibrateExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
