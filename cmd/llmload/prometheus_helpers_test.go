package main

// Helpers shared by the tests that run a real Prometheus (prom_e2e_test.go,
// stack_prom_test.go): start it, start a child process and wait for a line
// of its output, and ask Prometheus' HTTP API. The binary itself is found
// with testenv.Tool, which skips (or fails under CI=true) when it is absent.

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// freeLoopbackAddr asks the kernel for a free port on 127.0.0.1. Another
// process could take it before the caller binds it; Prometheus then exits
// and startPrometheus says so.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startPrometheus runs the Prometheus binary bin with the config file cfg
// and its TSDB in tsdb on a free loopback port, and returns its URL once
// /-/ready answers. Cleanup stops it (SIGTERM, then SIGKILL after 10 s).
func startPrometheus(t *testing.T, ctx context.Context, bin, cfg, tsdb string) string {
	t.Helper()
	addr := freeLoopbackAddr(t)
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfg, "--storage.tsdb.path="+tsdb,
		"--web.listen-address="+addr, "--log.level=warn")
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	base := "http://" + addr
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-exited:
			t.Fatalf("prometheus exited before it was ready:\n%s", log.String())
		case <-ctx.Done():
			t.Fatalf("prometheus not ready: %v\n%s", ctx.Err(), log.String())
		case <-time.After(100 * time.Millisecond): // polling an external process
		}
		if resp, err := client.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
	}
}

// syncBuffer is a log that a process's output goroutines write while the
// test reads it; all methods are safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// childProcess collects a started process's output lines and lets the test
// wait for one, or for the process to exit: it owns the one cmd.Wait call,
// so callers use wait, never cmd.Wait. Its methods are safe for concurrent
// use.
type childProcess struct {
	log     syncBuffer
	mu      sync.Mutex
	lines   []string
	more    chan struct{} // closed and replaced at each new line
	done    bool
	exited  chan struct{} // closed when the process has exited
	waitErr error         // cmd.Wait's result, set before exited closes
}

// startChild starts cmd with its stdout and stderr collected; cleanup kills
// it if it is still running.
func startChild(t *testing.T, cmd *exec.Cmd) *childProcess {
	t.Helper()
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cp := &childProcess{more: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		cp.waitErr = cmd.Wait()
		close(cp.exited)
		w.Close()
	}()
	t.Cleanup(func() {
		select {
		case <-cp.exited:
		default:
			cmd.Process.Kill()
			<-cp.exited
		}
	})
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			cp.log.Write([]byte(sc.Text() + "\n"))
			cp.mu.Lock()
			cp.lines = append(cp.lines, sc.Text())
			close(cp.more)
			cp.more = make(chan struct{})
			cp.mu.Unlock()
		}
		cp.mu.Lock()
		cp.done = true
		close(cp.more)
		cp.mu.Unlock()
	}()
	return cp
}

// waitFor returns the first output line containing substr, failing the
// test when the process ends without one or ctx ends first.
func (cp *childProcess) waitFor(t *testing.T, ctx context.Context, substr string) string {
	t.Helper()
	for seen := 0; ; {
		cp.mu.Lock()
		lines, more, done := cp.lines, cp.more, cp.done
		cp.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if strings.Contains(lines[seen], substr) {
				return lines[seen]
			}
		}
		if done {
			t.Fatalf("the process ended without printing %q:\n%s", substr, cp.String())
		}
		select {
		case <-more:
		case <-ctx.Done():
			t.Fatalf("waiting for %q: %v\n%s", substr, ctx.Err(), cp.String())
		}
	}
}

// String returns all output so far.
func (cp *childProcess) String() string { return cp.log.String() }

// wait returns the process's exit error once it has exited.
func (cp *childProcess) wait(ctx context.Context) error {
	select {
	case <-cp.exited:
		return cp.waitErr
	case <-ctx.Done():
		return ctx.Err()
	}
}
