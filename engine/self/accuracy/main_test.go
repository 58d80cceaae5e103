package accuracy

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmload/llmload/engine/self/jitter"
	"github.com/llmload/llmload/stack/sim"
)

// simEnv makes the test binary act as `llmload sim` (the child of a
// separate-process calibration) instead of running tests.
const simEnv = "LLMLOAD_CALIBRATE_TEST_SIM"

// probeEnv makes it act as `llmload jitter --stalls --json` instead.
const probeEnv = "LLMLOAD_CALIBRATE_TEST_PROBE"

func TestMain(m *testing.M) {
	if os.Getenv(simEnv) == "1" {
		os.Exit(serveSim(os.Args[1:]))
	}
	if os.Getenv(probeEnv) == "1" {
		os.Exit(runProbe())
	}
	os.Exit(m.Run())
}

// runProbe is the part of `llmload jitter` a calibration relies on: a
// stall line as each happens, the JSON report when stopped.
func runProbe() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var mu sync.Mutex
	rep, err := jitter.Run(ctx, jitter.Config{Interval: probeInterval}, func(s jitter.Stall) {
		mu.Lock()
		fmt.Printf("stall %d %d %d\n", s.CPU, s.At, int64(s.Late))
		mu.Unlock()
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	b, _ := json.Marshal(rep)
	fmt.Printf("%s\n", b)
	return 0
}

// testProbeCommand starts this test binary as the jitter probe.
func testProbeCommand(args []string) (*exec.Cmd, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), probeEnv+"=1")
	return cmd, nil
}

// serveSim is the part of `llmload sim` a calibration relies on: the
// flags, and the first line naming the URL.
func serveSim(args []string) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "")
	cfg := sim.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	srv, err := sim.New(*cfg, prometheus.NewRegistry())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	fmt.Printf("test sim: serving %s on http://%s\n", cfg.Model, ln.Addr())
	srv.Serve(ln)
	return 0
}

// testSimCommand starts this test binary as the simulator.
func testSimCommand(args []string) (*exec.Cmd, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), simEnv+"=1")
	return cmd, nil
}
