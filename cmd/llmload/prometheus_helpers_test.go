package main

// Helpers shared by the tests that run a real Prometheus (prom_e2e_test.go,
// stack_prom_test.go): start it, start a child process and wait for a line
// of its output, and ask Prometheus' HTTP API. The binary itself is found
// with testenv.Tool, which skips (or fails under CI=true) when it is absent.

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/llmload/llmload/internal/promtest"
	"github.com/llmload/llmload/internal/testenv"
)

// freeLoopbackAddr and startPrometheus: see promtest.
func freeLoopbackAddr(t *testing.T) string { return testenv.FreeLoopbackAddr(t) }

func startPrometheus(t *testing.T, ctx context.Context, bin, cfg, tsdb string) string {
	return promtest.Start(t, ctx, bin, cfg, tsdb)
}

// syncBuffer is promtest's log: safe for concurrent use.
type syncBuffer = promtest.Log

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
