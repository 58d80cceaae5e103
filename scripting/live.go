package scripting

import (
	"sync"
	"time"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/engine/results/threshold"
)

// LiveConfig configures StartLive.
type LiveConfig struct {
	// Snapshot returns the run's current snapshot (Recorder.Snapshot).
	Snapshot func() *record.Snapshot
	// Every is how often finished windows are looked for; default 250ms.
	Every time.Duration
	// Stop is called once, from Live's goroutine, when the run must stop:
	// an abort_on_fail threshold failed on a window (err is then a
	// *threshold.AbortError) or a hook failed. It must not block (cancel
	// the run's context).
	Stop func(err error)
	// Buffer is the capacity of the on_response queue; default 65536.
	// When the hook falls that far behind, OnResult blocks the worker
	// that finished the request rather than lose a call.
	Buffer int
}

// Live runs a scenario's hooks and abort_on_fail thresholds while its run
// goes: on_response from its own goroutine, fed by a buffered channel, so
// the workers never wait on Lua; and, for each window as it finishes,
// on_window and the threshold.Watcher.
//
// OnResult is safe for concurrent use by the workers; Finish is called
// once, after the last OnResult.
type Live struct {
	sc    *Scenario
	cfg   LiveConfig
	watch *threshold.Watcher
	resp  chan *request.Result
	quit  chan struct{}
	wg    sync.WaitGroup

	next     time.Duration // start of the first window not yet given to on_window
	mu       sync.Mutex
	err      error // the first hook error or abort
	stopOnce sync.Once
}

// StartLive starts the hooks' goroutines for a run of sc. Call Hooks.Setup
// before, and Hooks.Teardown after Finish.
func (sc *Scenario) StartLive(cfg LiveConfig) *Live {
	if cfg.Every <= 0 {
		cfg.Every = 250 * time.Millisecond
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 65536
	}
	l := &Live{sc: sc, cfg: cfg, watch: threshold.NewWatcher(sc.Thresholds), quit: make(chan struct{})}
	if sc.Hooks.HasOnResponse() {
		l.resp = make(chan *request.Result, cfg.Buffer)
		l.wg.Go(l.responses)
	}
	if (sc.Hooks.HasOnWindow() || l.watch != nil) && cfg.Snapshot != nil {
		l.wg.Go(l.windows)
	}
	return l
}

// OnResult queues res for on_response (runner.Config.OnResult). It keeps
// res, which the gate allows.
func (l *Live) OnResult(res *request.Result) {
	if l.resp != nil {
		l.resp <- res
	}
}

func (l *Live) responses() {
	for res := range l.resp {
		if l.failed() {
			continue // drain, so that workers never block on a dead hook
		}
		if err := l.sc.Hooks.OnResponse(res); err != nil {
			l.fail(err)
		}
	}
}

func (l *Live) windows() {
	t := time.NewTicker(l.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.check(l.cfg.Snapshot(), false)
		case <-l.quit:
			return
		}
	}
}

// check gives the windows of snap not seen yet to the watcher and to
// on_window; final adds the run's last (partial) window.
func (l *Live) check(snap *record.Snapshot, final bool) {
	if snap == nil || l.failed() {
		return
	}
	if !final {
		if err := l.watch.Check(snap); err != nil {
			l.fail(err)
			return
		}
	}
	if !l.sc.Hooks.HasOnWindow() {
		return
	}
	wins := snap.Windows
	if final && snap.Current != nil && snap.Current.Count > 0 {
		wins = append(wins[:len(wins):len(wins)], snap.Current)
	}
	for _, w := range wins {
		if w.Start < l.next {
			continue
		}
		l.next = w.Start + max(w.Len, 1)
		if err := l.sc.Hooks.OnWindow(w); err != nil {
			l.fail(err)
			return
		}
	}
}

func (l *Live) failed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err != nil
}

func (l *Live) fail(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
	l.stopOnce.Do(func() {
		if l.cfg.Stop != nil {
			l.cfg.Stop(err)
		}
	})
}

// Finish drains the on_response queue, gives the windows not seen yet
// (the run's last one included) to on_window, stops the goroutines and
// returns the first hook error or threshold abort (nil when none). final
// is the recorder's snapshot after Close. Call it once, after the last
// OnResult (when the runner has returned).
func (l *Live) Finish(final *record.Snapshot) error {
	close(l.quit)
	if l.resp != nil {
		close(l.resp)
	}
	l.wg.Wait()
	l.check(final, true)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
