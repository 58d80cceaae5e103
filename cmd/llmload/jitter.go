package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/llmload/llmload/engine/self/jitter"
)

// jitterCmd measures the machine's wake-up latency (docs/calibrate.md,
// "Machine stalls"). With --stalls it also prints each stall as it happens
// in a line format llmload calibrate reads from its child.
func jitterCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("llmload jitter", flag.ContinueOnError)
	var cfg jitter.Config
	var duration time.Duration
	durationVar(fs, &duration, "duration", 10*time.Second, "how long to measure (0: until Ctrl-C)")
	durationVar(fs, &cfg.Interval, "interval", 500*time.Microsecond, "time between two deadlines of one thread")
	durationVar(fs, &cfg.Threshold, "threshold", time.Millisecond, "lateness from which a wake-up counts as a stall")
	cpus := fs.String("cpus", "", "comma-separated CPU numbers to probe (default: every CPU this process may use)")
	stalls := fs.Bool("stalls", false, "print each stall as it happens: \"stall CPU AT_NS LATE_NS\" (AT_NS on CLOCK_MONOTONIC)")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a table")
	pos, code, done := parseCommandFlags(fs, args, "Measures how late this machine wakes a thread that asks to run at a given instant: one\nthread per CPU, pinned, sleeping to absolute deadlines (as cyclictest does). A load\ngenerator's timing error cannot be smaller than this (see docs/calibrate.md).", stdout, stderr)
	if done {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "llmload jitter: unexpected argument %q\n", pos[0])
		return exitConfig
	}
	if duration < 0 || cfg.Interval <= 0 || cfg.Threshold <= 0 {
		fmt.Fprintln(stderr, "llmload jitter: --duration must be >= 0, --interval and --threshold > 0")
		return exitConfig
	}
	if *cpus != "" {
		for _, f := range strings.Split(*cpus, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 0 {
				fmt.Fprintf(stderr, "llmload jitter: --cpus: %q is not a CPU number (want e.g. 0,1)\n", f)
				return exitConfig
			}
			cfg.CPUs = append(cfg.CPUs, n)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	var onStall func(jitter.Stall)
	if *stalls {
		var mu sync.Mutex
		onStall = func(s jitter.Stall) {
			mu.Lock()
			fmt.Fprintf(stdout, "stall %d %d %d\n", s.CPU, s.At, int64(s.Late))
			mu.Unlock()
		}
	}
	rep, err := jitter.Run(ctx, cfg, onStall)
	if err != nil {
		fmt.Fprintf(stderr, "llmload jitter: %v\n", err)
		return exitConfig
	}
	if *asJSON {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	writeJitterTable(stdout, rep)
	return exitOK
}

func writeJitterTable(w io.Writer, rep *jitter.Report) {
	us := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e3, 'f', 0, 64) }
	fmt.Fprintf(w, "wake-up latency over %v, one thread per CPU, deadlines every %v; a stall is >= %v late\n",
		rep.Elapsed.Round(time.Millisecond), rep.Interval, rep.Threshold)
	fmt.Fprintf(w, "%-4s %9s %8s %8s %8s %8s %7s %11s\n", "cpu", "wake-ups", "p50 us", "p99 us", "max us", "stalls", "stall%", "stalled ms")
	for _, c := range rep.CPUs {
		fmt.Fprintf(w, "%-4d %9d %8s %8s %8s %8d %6.3f%% %11.1f\n", c.CPU, c.Wakeups, us(c.P50), us(c.P99), us(c.Max),
			c.Stalls, c.StallPercent(), float64(c.Stalled)/1e6)
	}
	fmt.Fprintln(w, rep.String())
}
