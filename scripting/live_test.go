package scripting

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/engine/results/threshold"
)

// finished makes a completed result that finished at end with the given
// TTFT (and 2 tokens, E2E = TTFT + 10ms).
func finished(seq int64, end, ttft time.Duration) *request.Result {
	r := &request.Result{Seq: seq, CompletionTokens: 2, Status: 200}
	r.LastByte = end
	r.FirstToken = end - 10*time.Millisecond
	r.Sent = r.FirstToken - ttft
	r.Scheduled, r.Released, r.Dispatched = r.Sent, r.Sent, r.Sent
	return r
}

// TestLiveWindowsAndAbort runs the live hooks on the bubble's clock: each
// window reaches on_window once, when it has finished, and a window that
// fails an abort_on_fail threshold stops the run.
func TestLiveWindowsAndAbort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		s, _ := loadSrc(t, head+`
local n = 0
return llm.scenario { source = llm.synth.azure_conv(),
  thresholds = { { "ttft p95 < 100ms", abort_on_fail = true, delay_abort_eval = "1s" }, "ttft p99 < 1ms" },
  on_response = function(r) n = n + 1 end,
  on_window = function(w) print(string.format("window %g-%g count %d responses %d", w.start_s, w.end_s, w.count, n)) end,
}`, Env{Print: &out})
		sc := s.Scenarios[0]
		epoch := time.Now()
		rec, err := record.New(record.Config{Epoch: epoch, SampleInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var stopErr error
		var stops int
		var mu sync.Mutex
		live := sc.StartLive(LiveConfig{Snapshot: rec.Snapshot, Every: 100 * time.Millisecond, Stop: func(err error) {
			mu.Lock()
			defer mu.Unlock()
			stopErr, stops = err, stops+1
		}})
		record := func(r *request.Result) {
			rec.Record(r)
			live.OnResult(r)
		}
		// Window 0 is slow, but before delay_abort_eval; window 1 is fast.
		time.Sleep(500 * time.Millisecond)
		record(finished(0, 400*time.Millisecond, 300*time.Millisecond))
		time.Sleep(time.Second)
		record(finished(1, 1400*time.Millisecond, 20*time.Millisecond))
		record(finished(2, 1450*time.Millisecond, 30*time.Millisecond))
		time.Sleep(time.Second) // 2.5 s: windows 0 and 1 have finished
		synctest.Wait()
		if stopErr != nil {
			t.Fatalf("stopped early: %v", stopErr)
		}
		if want := "window 0-1 count 1 responses 1\nwindow 1-2 count 2 responses 3\n"; out.String() != want {
			t.Fatalf("on_window output %q, want %q", out.String(), want)
		}
		// Window 2 fails the threshold: the run is told to stop.
		record(finished(3, 2600*time.Millisecond, 250*time.Millisecond))
		time.Sleep(time.Second)
		synctest.Wait()
		mu.Lock()
		var abort *threshold.AbortError
		if stops != 1 || !errors.As(stopErr, &abort) || abort.Window.Start != 2*time.Second || abort.Result.Observed != 250 {
			t.Fatalf("stop %d times with %v", stops, stopErr)
		}
		mu.Unlock()
		// After an abort no more hooks run; Finish reports the abort.
		record(finished(4, 3100*time.Millisecond, 20*time.Millisecond))
		if _, err := rec.Close(); err != nil {
			t.Fatal(err)
		}
		if err := live.Finish(rec.Snapshot()); !errors.As(err, &abort) {
			t.Errorf("Finish = %v, want the abort", err)
		}
		if strings.Count(out.String(), "window") != 2 {
			t.Errorf("on_window ran after the abort:\n%s", out.String())
		}
	})
}

// TestLiveFinishDeliversTheRest checks that Finish drains on_response and
// gives the run's last, partial window to on_window.
func TestLiveFinishDeliversTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		s, _ := loadSrc(t, head+`
local c = llm.counter("responses")
return llm.scenario { source = llm.synth.azure_conv(),
  on_response = function(r) c:add() end,
  on_window = function(w) print(w.start_s, w.count, w.partial, c:value()) end }`, Env{Print: &out})
		sc := s.Scenarios[0]
		rec, _ := record.New(record.Config{Epoch: time.Now(), SampleInterval: time.Second})
		live := sc.StartLive(LiveConfig{Snapshot: rec.Snapshot, Buffer: 4})
		for i := range 50 {
			r := finished(int64(i), 1200*time.Millisecond+time.Duration(i)*time.Millisecond, time.Millisecond)
			rec.Record(r)
			live.OnResult(r) // more than the buffer: the worker waits, nothing is lost
		}
		time.Sleep(1300 * time.Millisecond)
		if _, err := rec.Close(); err != nil {
			t.Fatal(err)
		}
		if err := live.Finish(rec.Snapshot()); err != nil {
			t.Fatal(err)
		}
		if n := s.CustomMetrics()["responses"].(map[string]any)["value"]; n != 50.0 {
			t.Errorf("on_response ran %v times, want 50", n)
		}
		// Window 0 (empty) during the run, window 1 (partial, 50 results) at Finish.
		if want := "0\t0\tfalse\t50\n1\t50\ttrue\t50\n"; out.String() != want {
			t.Errorf("on_window output %q, want %q", out.String(), want)
		}
	})
}

func TestLiveHookErrorStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := loadSrc(t, head+`
return llm.scenario { source = llm.synth.azure_conv(),
  on_response = function(r) if r.seq == 3 then error("no " .. r.seq) end end }`, Env{})
		var stopped error
		live := s.Scenarios[0].StartLive(LiveConfig{Stop: func(err error) { stopped = err }})
		for i := range 10 {
			live.OnResult(finished(int64(i), time.Second, time.Millisecond))
		}
		err := live.Finish(nil)
		if err == nil || !strings.Contains(err.Error(), "on_response hook") || !strings.Contains(err.Error(), ":4: no 3") || stopped != err {
			t.Errorf("Finish = %v, Stop got %v", err, stopped)
		}
	})
}

func TestLiveWithoutHooks(t *testing.T) {
	s, _ := loadSrc(t, head+`return llm.scenario { source = llm.synth.azure_conv(), thresholds = {"ttft p95 < 1s"} }`, Env{})
	live := s.Scenarios[0].StartLive(LiveConfig{})
	live.OnResult(finished(0, time.Second, time.Millisecond)) // nothing to do, never blocks
	if err := live.Finish(nil); err != nil {
		t.Error(err)
	}
}
