package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/llmload/llmload/engine/self/accuracy"
)

type calibrateFlags struct {
	quick, separate, noFiles bool
	probe                    bool
	out                      string
	streams, rates, sessions string
	length, ttft, itl        time.Duration
	tokens, simProcs         int
	maxTTFTError             time.Duration
}

func newCalibrateFlagSet(f *calibrateFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("llmload calibrate", flag.ContinueOnError)
	fs.BoolVar(&f.quick, "quick", false, "short calibration for CI: 1, 100 and 1000 streams and 1000 req/s, 2s each (under 30s)")
	fs.BoolVar(&f.separate, "separate-process", true, "run the simulator as a child process (false: in this process; quicker, but the numbers mix client and simulator)")
	fs.StringVar(&f.out, "out", "", "results directory (default results/calibrate-<time>): calibrate.json, calibrate.txt and each step's run files")
	fs.BoolVar(&f.noFiles, "no-request-files", false, "do not write each step's requests.jsonl/windows.jsonl/summary.json (llmload run always writes them)")
	fs.StringVar(&f.streams, "streams", "", "comma-separated stream counts to measure (default 1,10,100,1000,5000; --quick 1,100,1000; \"none\" for none)")
	fs.StringVar(&f.rates, "rates", "", "comma-separated arrival rates in req/s (default 100,1000,2000,5000; --quick 1000; \"none\" for none)")
	fs.StringVar(&f.sessions, "sessions", "", "comma-separated session counts to measure, each of 6-turn conversations resending the real answers (default 100,1000; --quick 100; none when --streams or --rates is given; \"none\" for none)")
	durationVar(fs, &f.length, "length", 0, "how long each step sends requests (default 10s; --quick 2s)")
	durationVar(fs, &f.ttft, "ttft", accuracy.DefaultTTFT, "the simulator's TTFT")
	durationVar(fs, &f.itl, "itl", 0, "the simulator's ITL for every step (default: 10ms up to 200 streams, 100ms up to 1000, 400ms above; 10ms for rate steps)")
	fs.IntVar(&f.tokens, "tokens", 0, "output tokens per request for every step (default: 4 below 10 streams, else 16; 4 for rate steps)")
	fs.BoolVar(&f.probe, "jitter-probe", runtime.GOOS == "linux", "run the jitter probe (llmload jitter) beside each step, so the simulator's late deliveries are split into its own and the machine's stalls (Linux)")
	fs.IntVar(&f.simProcs, "sim-gomaxprocs", 0, "GOMAXPROCS of the simulator child process (0: Go's default, every CPU)")
	durationVar(fs, &f.maxTTFTError, "max-ttft-error", 0, "exit 1 when a step of at most 100 streams has a mean TTFT error above this (0: no check); make test uses 5ms")
	return fs
}

func calibrateCmd(args []string, stdout, stderr io.Writer) int {
	var f calibrateFlags
	fs := newCalibrateFlagSet(&f)
	pos, code, done := parseCommandFlags(fs, args, "Measures llmload's own timing error on this machine against the simulator's fixed profile\n(see docs/calibrate.md).", stdout, stderr)
	if done {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "llmload calibrate: unexpected argument %q (see llmload calibrate --help)\n", pos[0])
		return exitConfig
	}
	steps, err := calibrationSteps(f)
	if err != nil {
		fmt.Fprintf(stderr, "llmload calibrate: %v\n", err)
		return exitConfig
	}
	out := f.out
	if out == "" {
		out = filepath.Join("results", "calibrate-"+time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		fmt.Fprintf(stderr, "llmload calibrate: --out: %v\n", err)
		return exitConfig
	}
	stepDir := out
	if f.noFiles {
		stepDir = ""
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opt := accuracy.Options{
		Steps: steps, InProcess: !f.separate, SimGOMAXPROCS: f.simProcs,
		OutDir: stepDir, Progress: stdout, Version: version,
	}
	if f.probe {
		opt.ProbeCommand = accuracy.SelfProbeCommand
	}
	rep, runErr := accuracy.Run(ctx, opt)
	if rep == nil {
		fmt.Fprintf(stderr, "llmload calibrate: %v\n", runErr)
		return exitConfig
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	fmt.Fprintln(stdout)
	stdout.Write(table.Bytes())
	if err := writeCalibration(out, rep, table.Bytes()); err != nil {
		fmt.Fprintf(stderr, "llmload calibrate: %v\n", err)
		return exitConfig
	}
	fmt.Fprintf(stdout, "\nresults: %s/calibrate.json, %s/calibrate.txt\n", out, out)
	if runErr != nil {
		if errors.Is(runErr, context.Canceled) {
			fmt.Fprintln(stderr, "llmload calibrate: stopped; the steps that finished are written")
			return exitInterrupted
		}
		fmt.Fprintf(stderr, "llmload calibrate: %v\n", runErr)
		return exitConfig
	}
	if f.maxTTFTError > 0 {
		if bad := rep.TTFTRegressions(f.maxTTFTError); len(bad) > 0 {
			for _, b := range bad {
				fmt.Fprintf(stderr, "llmload calibrate: --max-ttft-error: %s\n", b)
			}
			return exitThresholds
		}
	}
	return exitOK
}

func writeCalibration(dir string, rep *accuracy.Report, table []byte) error {
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		return fmt.Errorf("encoding the report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "calibrate.json"), js.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "calibrate.txt"), table, 0o644)
}

// calibrationSteps turns the flags into the list of steps.
func calibrationSteps(f calibrateFlags) ([]accuracy.Step, error) {
	length := f.length
	if length == 0 {
		length = 10 * time.Second
		if f.quick {
			length = 2 * time.Second
		}
	}
	var steps []accuracy.Step
	if f.streams == "" && f.rates == "" && f.sessions == "" {
		steps = accuracy.DefaultSteps(f.quick)
		for i := range steps {
			steps[i].Length = length
		}
	} else {
		streams, err := parseCounts("--streams", "streams", f.streams, f.quick, "1,10,100,1000,5000", "1,100,1000")
		if err != nil {
			return nil, err
		}
		rates, err := parseList("--rates", f.rates, f.quick, "100,1000,2000,5000", "1000")
		if err != nil {
			return nil, err
		}
		if f.sessions == "" && (f.streams != "" || f.rates != "") {
			f.sessions = "none" // chosen steps: sessions only when asked for
		}
		sessions, err := parseCounts("--sessions", "sessions", f.sessions, f.quick, "100,1000", "100")
		if err != nil {
			return nil, err
		}
		for _, n := range streams {
			steps = append(steps, accuracy.StreamStep(n, length))
		}
		for _, r := range rates {
			steps = append(steps, accuracy.RateStep(r, length))
		}
		for _, n := range sessions {
			steps = append(steps, accuracy.SessionStep(n, accuracy.DefaultTurns, length))
		}
	}
	for i := range steps {
		steps[i].TTFT = f.ttft
		if f.itl > 0 {
			steps[i].ITL = f.itl
		}
		if f.tokens > 0 {
			steps[i].Tokens = f.tokens
		}
		if err := steps[i].Validate(); err != nil {
			return nil, fmt.Errorf("%w (check --ttft, --itl, --tokens, --length)", err)
		}
	}
	if len(steps) == 0 {
		return nil, errors.New("no steps: --streams, --rates and --sessions are all none")
	}
	return steps, nil
}

// parseCounts is parseList for whole numbers of what.
func parseCounts(name, what, s string, quick bool, def, quickDef string) ([]int, error) {
	list, err := parseList(name, s, quick, def, quickDef)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(list))
	for i, n := range list {
		if n != float64(int(n)) || n < 1 {
			return nil, fmt.Errorf("%s: %v is not a whole number of %s", name, n, what)
		}
		out[i] = int(n)
	}
	return out, nil
}

// parseList reads a comma-separated list of positive numbers; "" gives
// the default (full or quick), "none" an empty list.
func parseList(name, s string, quick bool, def, quickDef string) ([]float64, error) {
	switch s {
	case "none":
		return nil, nil
	case "":
		s = def
		if quick {
			s = quickDef
		}
	}
	var out []float64
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(v > 0) {
			return nil, fmt.Errorf("%s: %q is not a positive number (want e.g. %s)", name, p, def)
		}
		out = append(out, v)
	}
	return out, nil
}
