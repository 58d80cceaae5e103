package main

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestJitterCommand(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the probe needs Linux")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	out, err := runLLMLoad(t, ctx, "jitter", "--duration", "300ms", "--interval", "1ms", "--json")
	if err != nil {
		t.Fatalf("llmload jitter --json: %v\n%s", err, out)
	}
	var rep struct {
		Interval int64 `json:"interval_ns"`
		CPUs     []struct {
			Wakeups int64 `json:"wakeups"`
		} `json:"cpus"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Interval != int64(time.Millisecond) || len(rep.CPUs) != runtime.NumCPU() {
		t.Fatalf("interval %d, %d CPUs: %s", rep.Interval, len(rep.CPUs), out)
	}
	for i, c := range rep.CPUs {
		if c.Wakeups < 10 || c.Wakeups > 301 {
			t.Errorf("CPU %d: %d wake-ups in 300 ms at 1 ms", i, c.Wakeups)
		}
	}

	// A threshold below any real wake-up latency makes every wake-up a
	// stall: each is printed as it happens, then the table.
	out, err = runLLMLoad(t, ctx, "jitter", "--duration", "100ms", "--interval", "2ms", "--threshold", "1ns", "--stalls", "--cpus", "0")
	if err != nil {
		t.Fatalf("llmload jitter --stalls: %v\n%s", err, out)
	}
	var stalls int
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[0] == "stall" && f[1] == "0" {
			stalls++
		}
	}
	if stalls < 10 || !strings.Contains(out, "wake-ups on 1 CPUs") {
		t.Fatalf("%d stall lines for CPU 0:\n%s", stalls, out)
	}

	if out, err := runLLMLoad(t, ctx, "jitter", "--cpus", "one"); err == nil || !strings.Contains(out, `--cpus: "one" is not a CPU number`) {
		t.Fatalf("--cpus one: %v\n%s", err, out)
	}
}
