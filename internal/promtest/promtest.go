// Package promtest runs a real Prometheus (Debian's binary, found on PATH
// with testenv.Tool) on a loopback port for tests.
package promtest

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

// Start runs the Prometheus binary bin with the config file cfg and its
// TSDB in tsdb on a free loopback port, and returns its URL once /-/ready
// answers. Cleanup stops it (SIGTERM, then SIGKILL after 10 s).
func Start(t testing.TB, ctx context.Context, bin, cfg, tsdb string) string {
	t.Helper()
	addr := testenv.FreeLoopbackAddr(t)
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfg, "--storage.tsdb.path="+tsdb,
		"--web.listen-address="+addr, "--log.level=warn")
	var log Log
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

// Log is a process's output that its output goroutines write while the
// test reads it; all methods are safe for concurrent use.
type Log struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
