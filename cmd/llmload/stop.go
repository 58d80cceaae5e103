package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
)

// runStopper turns Ctrl-C (or q) once into a graceful stop: nothing new is
// sent, in-flight requests drain, results are written. Twice: in-flight
// requests are cancelled at once; results are still written.
type runStopper struct {
	ctx         context.Context
	cancel      context.CancelFunc
	abort       chan struct{}
	abortOnce   sync.Once
	interrupted atomic.Bool
	sigs        chan os.Signal
}

// interrupt, when set, is called at each signal (it ends a Lua hook stuck
// in a loop).
func catchSignals(stderr io.Writer, interrupt func()) *runStopper {
	s := &runStopper{abort: make(chan struct{}), sigs: make(chan os.Signal, 2)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	signal.Notify(s.sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		n := 0
		for range s.sigs {
			n++
			if interrupt != nil {
				interrupt()
			}
			if n > 1 {
				s.abortNow()
				return
			}
			fmt.Fprintln(stderr, "\nstopping: no new requests; in-flight ones drain (Ctrl-C again to abort)")
			s.userStop()
		}
	}()
	return s
}

func (s *runStopper) userStop() {
	s.interrupted.Store(true)
	s.cancel()
}

func (s *runStopper) abortNow() { s.abortOnce.Do(func() { close(s.abort) }) }

func (s *runStopper) release() {
	signal.Stop(s.sigs)
	s.cancel()
}
