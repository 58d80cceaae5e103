package scripting

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// signalWriter closes started at the first write: a script's print says
// that its code is running.
type signalWriter struct {
	once    sync.Once
	started chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.started) })
	return len(p), nil
}

// A setup hook stuck in a loop ends at Interrupt (the run's Ctrl-C), not
// at the load time limit; the script stays usable for the teardown.
func TestInterruptStopsLongHook(t *testing.T) {
	w := &signalWriter{started: make(chan struct{})}
	s, _ := loadSrc(t, head+`
return llm.scenario { name = "s", source = llm.synth.azure_conv(),
  setup = function() print("looping") while true do end end,
  teardown = function(sum) end,
}`, Env{Print: w, LoadTimeout: time.Hour})
	h := s.Scenarios[0].Hooks
	done := make(chan error, 1)
	go func() { done <- h.Setup() }()
	<-w.started
	s.Interrupt()
	err := <-done
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("Setup = %v, want ErrInterrupted", err)
	}
	if err := h.Teardown(nil); err != nil {
		t.Fatalf("teardown after an interrupt: %v", err)
	}
}

// Calls bounded by CallTimeout are not interrupted: a stop must not turn
// an on_response hook that happens to be running into a script error.
func TestInterruptLeavesShortCalls(t *testing.T) {
	w := &signalWriter{started: make(chan struct{})}
	s, _ := loadSrc(t, head+`
return llm.scenario { name = "s", source = llm.synth.azure_conv(),
  on_response = function(r) print("looping") while true do end end,
}`, Env{Print: w, CallTimeout: 50 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- s.Scenarios[0].Hooks.OnResponse(&request.Result{}) }()
	<-w.started
	s.Interrupt()
	err := <-done
	if err == nil || errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "was stopped after 50ms") {
		t.Fatalf("OnResponse = %v, want the call time limit's error", err)
	}
}
