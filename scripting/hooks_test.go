package scripting

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/engine/results/record"
)

func loadSrc(t *testing.T, src string, env Env) (*Script, string) {
	t.Helper()
	p := script(t, src)
	return mustLoad(t, p, env), p
}

func loadErr(t *testing.T, src string) string {
	t.Helper()
	p := script(t, src)
	s, err := Load(p, Env{})
	if err == nil {
		s.Close()
		t.Fatalf("Load succeeded; want an error")
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is %T, not an *Error", err, err)
	}
	return strings.TrimPrefix(err.Error(), p+":")
}

func dueList(s pace.Schedule, n int) []time.Duration {
	out := make([]time.Duration, 0, n)
	for range n {
		d := s.Due(0)
		if d == pace.End {
			break
		}
		out = append(out, d)
	}
	return out
}

func TestStagesFromLua(t *testing.T) {
	s, _ := loadSrc(t, head+`
return {
  llm.scenario { name = "k6", source = llm.synth.azure_conv(),
    arrivals = llm.arrivals.stages { start_rate = 2, {rate = 10, duration = "2s"}, {target = 10, duration = 1}, {rate = 0, duration = "500ms"} } },
  llm.scenario { name = "random", source = llm.synth.azure_conv(),
    arrivals = llm.arrivals.stages { {rate = 100, duration = "10s"}, poisson = true, seed = 4 } },
}`, Env{Seed: 1})
	k6, random := s.Scenarios[0], s.Scenarios[1]
	if want := "stages{start_rate=2, {rate=2, duration=2s}, {rate=10, duration=1s}, {rate=0, duration=500ms}}"; k6.Arrivals == want {
		t.Fatal("stages read out of order")
	}
	if want := "stages{start_rate=2, {rate=10, duration=2s}, {rate=10, duration=1s}, {rate=0, duration=500ms}}"; k6.Arrivals != want {
		t.Errorf("Arrivals = %q, want %q", k6.Arrivals, want)
	}
	ref, _ := pace.Stages(2, []pace.Stage{{Rate: 10, Duration: 2 * time.Second}, {Rate: 10, Duration: time.Second}, {Rate: 0, Duration: 500 * time.Millisecond}})
	got, want := dueList(k6.Schedule, 100), dueList(ref, 100)
	// ∫ = 12 + 10 + 2.5: 24 arrivals, the last at 3.5 - sqrt(0.1) s.
	if len(got) != 24 || len(want) != 24 {
		t.Fatalf("%d arrivals, reference %d; want 24", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("arrival %d at %v, want %v", i+1, got[i], want[i])
		}
	}
	// r(t) = 2 + 4t: ∫ = 2t + 2t² reaches 1 at t = (sqrt(12) - 2) / 4.
	if want := time.Duration(math.Round((math.Sqrt(12) - 2) / 4 * 1e9)); got[0] != want {
		t.Errorf("first arrival at %v, want %v", got[0], want)
	}
	if random.Arrivals != "stages{start_rate=0, {rate=100, duration=10s}, poisson=true, seed=4}" {
		t.Errorf("poisson Arrivals = %q", random.Arrivals)
	}
	if n := len(dueList(random.Schedule, 2000)); n < 400 || n > 600 {
		t.Errorf("poisson ramp 0→100/s over 10 s gave %d arrivals, want about 500", n)
	}
}

func TestCustomArrivals(t *testing.T) {
	s, p := loadSrc(t, head+`
local calls = {}
return llm.scenario { source = llm.synth.azure_conv(),
  arrivals = llm.arrivals.custom(function(n, t)
    if n == 5 then return nil end
    return 0.25 * (n + 1) + t * 0   -- gaps 0.25, 0.5, ...
  end) }`, Env{})
	sc := s.Scenarios[0]
	if !strings.HasPrefix(sc.Arrivals, "custom(function at line 5)") {
		t.Errorf("Arrivals = %q", sc.Arrivals)
	}
	ms := time.Millisecond
	got := dueList(sc.Schedule, 10)
	want := []time.Duration{250 * ms, 750 * ms, 1500 * ms, 2500 * ms, 3750 * ms}
	if len(got) != len(want) {
		t.Fatalf("dues %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("due %d = %v, want %v", i, got[i], want[i])
		}
	}
	if err := sc.Schedule.(*pace.Func).Err(); err != nil {
		t.Errorf("a nil gap ended with error %v", err)
	}

	for _, c := range []struct{ body, want string }{
		{`return "soon"`, `:3: arrival function of the scenario at line 2 returned string "soon" for arrival 0; it must return the gap in seconds (a number) or nil to end`},
		{`return -1`, `:3: arrival function of the scenario at line 2 returned -1 for arrival 0; a gap is a finite number of seconds >= 0`},
		{`return nil + 1`, `:4: cannot perform add operation between nil and number`},
		{`while true do end`, `:4: arrival function of the scenario at line 2 was stopped after 50ms (an endless loop?)`},
	} {
		s, _ := loadSrc(t, head+"return llm.scenario { source = llm.synth.azure_conv(),\n arrivals = llm.arrivals.custom(function(n, t)\n"+c.body+"\n end) }", Env{CallTimeout: 50 * time.Millisecond})
		sch := s.Scenarios[0].Schedule
		if d := sch.Due(0); d != pace.End {
			t.Errorf("%s: Due = %v, want End", c.body, d)
		}
		err := sch.(*pace.Func).Err()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Err = %v, want ...%s", c.body, err, c.want)
		}
	}
	_ = p
}

func TestArrivalErrors(t *testing.T) {
	src := func(arr string) string {
		return head + "return llm.scenario { source = llm.synth.azure_conv(),\n arrivals = " + arr + " }"
	}
	for _, c := range []struct{ arr, want string }{
		{`llm.arrivals.stages{}`, `3: llm.arrivals.stages needs at least one stage`},
		{`llm.arrivals.stages{ {rate = 1} }`, `3: llm.arrivals.stages: stage 1 needs rate and duration`},
		{`llm.arrivals.stages{ {rate = 1, duration = "1s", ramp = 2} }`, `3: llm.arrivals.stages: stage 1: unknown field ramp (fields: rate, duration)`},
		{`llm.arrivals.stages{ {rate = 1, target = 2, duration = 1} }`, `3: llm.arrivals.stages: stage 1 sets its rate twice`},
		{`llm.arrivals.stages{ {rate = -1, duration = 1} }`, `3: llm.arrivals.stages: stage 1 rate must be a number >= 0, got number -1`},
		{`llm.arrivals.stages{ 5 }`, `3: llm.arrivals.stages: stage 1 must be a table {rate = 10, duration = "30s"}, got number 5`},
		{`llm.arrivals.stages{ {rate = 1, duration = 1}, seed = 3 }`, `3: llm.arrivals.stages: seed only matters with poisson = true`},
		{`llm.arrivals.stages{ {rate = 1, duration = 1}, start = 3 }`, `3: llm.arrivals.stages: unknown field start (did you mean start_rate?)`},
		{`llm.arrivals.custom(5)`, `3: llm.arrivals.custom takes a function(n, t) returning the next gap in seconds (or nil to end), got number 5`},
	} {
		if got := loadErr(t, src(c.arr)); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %s...", c.arr, got, c.want)
		}
	}
}

func TestThresholdsSLOWarmupFromLua(t *testing.T) {
	s, _ := loadSrc(t, head+`
return {
  llm.scenario { name = "a", source = llm.synth.azure_conv(),
    thresholds = { "ttft p95 < 2s", { "error_rate < 1%", abort_on_fail = true, delay_abort_eval = "10s" }, { "completed >= 10" } },
    slo = { ttft = "1s", tpot = "50ms", e2el = "1m" }, warmup = "15s" },
  llm.scenario { name = "b", source = llm.synth.azure_conv(), slo = { e2e = "2s" }, warmup = 50 },
}`, Env{})
	a, b := s.Scenarios[0], s.Scenarios[1]
	if len(a.Thresholds) != 3 {
		t.Fatalf("thresholds %v", a.Thresholds)
	}
	t0, t1, t2 := a.Thresholds[0], a.Thresholds[1], a.Thresholds[2]
	if t0.Metric != "ttft" || t0.Stat != "p95" || t0.Value != 2000 || t0.AbortOnFail {
		t.Errorf("threshold 0 %+v", t0)
	}
	if t1.Metric != "error_rate" || t1.Value != 0.01 || !t1.AbortOnFail || t1.DelayAbortEval != 10*time.Second {
		t.Errorf("threshold 1 %+v", t1)
	}
	if t2.Expr != "completed >= 10" || t2.AbortOnFail {
		t.Errorf("threshold 2 %+v", t2)
	}
	if a.SLO != (record.SLO{TTFT: time.Second, TPOT: 50 * time.Millisecond, E2E: time.Minute}) || a.WarmupDuration != 15*time.Second || a.WarmupRequests != 0 {
		t.Errorf("a: slo %+v warmup %v/%d", a.SLO, a.WarmupDuration, a.WarmupRequests)
	}
	if b.SLO != (record.SLO{E2E: 2 * time.Second}) || b.WarmupRequests != 50 || b.WarmupDuration != 0 || len(b.Thresholds) != 0 {
		t.Errorf("b: slo %+v warmup %v/%d", b.SLO, b.WarmupDuration, b.WarmupRequests)
	}

	src := func(field string) string {
		return head + "return llm.scenario { source = llm.synth.azure_conv(),\n" + field + " }"
	}
	for _, c := range []struct{ field, want string }{
		{`thresholds = { "ttft p95 < 2x" }`, `2: llm.scenario: thresholds[1]: threshold "ttft p95 < 2x": unit "x" does not fit ttft, a latency: use ms, s, us or m (a bare number is ms) (column 13)`},
		{`thresholds = { "ok", "ttfb p95 < 1s" }`, `2: llm.scenario: thresholds[1]: threshold "ok": unknown metric "ok"`},
		{`thresholds = { " " }`, `2: llm.scenario: thresholds[1] is empty; write an expression like "ttft p95 < 2s"`},
		{`thresholds = { { abort_on_fail = true } }`, `2: llm.scenario: thresholds[1][1] must be the expression, a string like "ttft p95 < 2s", got nil`},
		{`thresholds = { { "ttft p95 < 1s", abort = true } }`, `2: llm.scenario: thresholds[1]: unknown field abort (did you mean abort_on_fail?)`},
		{`thresholds = { { "ttft p95 < 1s", delay_abort_eval = "5s" } }`, `2: llm.scenario: thresholds[1]: delay_abort_eval only matters with abort_on_fail = true`},
		{`thresholds = { { "itl p99 < 1s", abort_on_fail = true } }`, `2: llm.scenario: thresholds[1]: "itl p99 < 1s" cannot abort the run: windows do not keep itl p99`},
		{`thresholds = { { "completed > 5", abort_on_fail = true } }`, `2: llm.scenario: thresholds[1]: "completed > 5" cannot abort the run`},
		{`slo = { ttft = 1 }`, `2: llm.scenario: slo.ttft must be a duration with a unit ("1s", "50ms"), got number 1`},
		{`slo = { ttft = "200" }`, `2: llm.scenario: slo.ttft "200" needs a unit: write "200ms" or "200s"`},
		{`slo = { ttft = "0s" }`, `2: llm.scenario: slo.ttft must be more than 0`},
		{`slo = { ttfb = "1s" }`, `2: llm.scenario: slo: unknown field ttfb (did you mean ttft?) (fields: ttft, tpot, e2el)`},
		{`slo = "1s"`, `2: llm.scenario: slo must be a table {ttft = "1s", tpot = "50ms", e2el = "10s"}, got string "1s"`},
		{`warmup = "10"`, `2: llm.scenario: warmup "10" is ambiguous: write a duration with a unit ("10s") or a number of requests (warmup = 10)`},
		{`warmup = 2.5`, `2: llm.scenario: warmup must be a whole number >= 0, got number 2.5`},
		{`warmup = true`, `2: llm.scenario: warmup must be a duration ("10s") or a number of requests (50), got boolean true`},
		{`on_response = 5`, `2: llm.scenario: on_response must be a function, got number 5`},
	} {
		if got := loadErr(t, src(c.field)); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %s...", c.field, got, c.want)
		}
	}
}

func result(seq int64, ttft, e2e time.Duration, tokens int, failed bool) *request.Result {
	r := &request.Result{Seq: seq, Scenario: "s", Scheduled: time.Second, Released: time.Second, Dispatched: time.Second,
		Sent: time.Second + time.Millisecond, Status: 200, CompletionTokens: tokens, PromptTokensRequested: 100,
		MaxTokens: tokens, FinishReason: "length", Tags: map[string]string{"kind": "code"}}
	r.FirstToken = r.Sent + ttft
	r.LastByte = r.Sent + e2e
	r.TokenTimes = make([]time.Duration, tokens)
	if failed {
		r.Error, r.ErrorMsg, r.Status, r.FirstToken = request.ErrHTTPStatus, "HTTP 503", 503, 0
	}
	return r
}

func TestHooks(t *testing.T) {
	var out bytes.Buffer
	s, p := loadSrc(t, head+`
local seen = llm.counter("seen")
local ttft = llm.trend("ttft_ms")
return llm.scenario { name = "s", source = llm.synth.azure_conv(), slo = { ttft = "100ms" },
  arrivals = llm.arrivals.poisson { rate = 4 },
  setup = function()
    print("setup")
    return { started = true, good = 0, windows = 0 }
  end,
  on_response = function(r, data)
    assert(data.started)
    seen:add()
    if r.ok then ttft:add(r.ttft_ms) end
    if r.good then data.good = data.good + 1 end
    if r.seq == 0 then
      assert(r.ttft_ms == 50 and r.e2el_ms == 250 and r.tpot_ms == 50 and r.status == 200 and r.error == nil, "fields of r")
      assert(r.scheduled_ms == 1000 and r.client_queue_time_ms == 0 and r.completion_tokens == 5 and r.tags.kind == "code")
      assert(r.prompt_tokens == nil and r.prompt_tokens_requested == 100 and r.finish_reason == "length")
      assert(llm.set_rate(8) == 4 and llm.get_rate() == 8)
    end
    if r.seq == 2 then assert(r.error == "http_status" and r.error_msg == "HTTP 503" and not r.ok and not r.good and r.ttft_ms == nil) end
  end,
  on_window = function(w, data)
    data.windows = data.windows + 1
    assert(w.count == 3 and w.good == 1 and w.p95_ttft_ms == 150 and w.mean_ttft_ms == 100 and w.errors_by_class.http_status == 1)
    assert(w.start_s == 0 and w.end_s == 5 and w.ttft_count == 2 and w.request_goodput == 0.2)
    if w.tpot_count > 0 then assert(w.p50_tpot_ms ~= nil) end
  end,
  teardown = function(sum, data)
    print("teardown", sum.completed, sum.failed, sum.good_requests, sum.name, data.good, data.windows, seen:value())
  end,
}`, Env{Print: &out})
	sc := s.Scenarios[0]
	h := sc.Hooks
	if !h.HasSetup() || !h.HasOnResponse() || !h.HasOnWindow() || !h.HasTeardown() {
		t.Fatal("hooks not set")
	}
	if err := h.Setup(); err != nil {
		t.Fatal(err)
	}
	rec, err := record.New(record.Config{Name: "s", Epoch: time.Now(), SampleInterval: 5 * time.Second, SLO: sc.SLO})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*request.Result{
		result(0, 50*time.Millisecond, 250*time.Millisecond, 5, false),
		result(1, 150*time.Millisecond, 300*time.Millisecond, 5, false),
		result(2, 0, 20*time.Millisecond, 0, true),
	} {
		rec.Record(r)
		if err := h.OnResponse(r); err != nil {
			t.Fatalf("OnResponse(%d): %v", r.Seq, err)
		}
	}
	if got := sc.Schedule.(pace.RateSetter).Rate(); got != 8 {
		t.Errorf("rate after llm.set_rate(8) in on_response: %v", got)
	}
	sum, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	w := rec.Snapshot().Current
	w.Len = 5 * time.Second
	if err := h.OnWindow(w); err != nil {
		t.Fatal(err)
	}
	if err := h.Teardown(sum); err != nil {
		t.Fatal(err)
	}
	if want := "setup\nteardown\t2\t1\t1\ts\t1\t1\t3\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
	cm := s.CustomMetrics()
	if c := cm["seen"].(map[string]any); c["type"] != "counter" || c["value"] != 3.0 {
		t.Errorf("seen = %v", c)
	}
	tr := cm["ttft_ms"].(map[string]any)
	if tr["type"] != "trend" || tr["count"] != int64(2) || tr["mean"] != 100.0 || tr["min"] != 50.0 || tr["max"] != 150.0 || tr["p50"] != 50.0 || tr["p99"] != 150.0 {
		t.Errorf("ttft_ms = %v", tr)
	}
	_ = p
}

func TestHookErrors(t *testing.T) {
	s, p := loadSrc(t, head+`
return { llm.scenario { name = "a", source = llm.synth.azure_conv(),
  on_response = function(r) error("bad response " .. r.seq) end,
  on_window = function(w) while true do end end,
  teardown = function(s) llm.set_rate(5) end },
  llm.scenario { name = "b", source = llm.synth.azure_conv() } }`, Env{CallTimeout: 30 * time.Millisecond})
	h := s.Scenarios[0].Hooks
	if err := h.Setup(); err != nil {
		t.Errorf("Setup without a setup hook: %v", err)
	}
	err := h.OnResponse(result(7, time.Millisecond, time.Millisecond, 1, false))
	if want := "scenario a: on_response hook: " + p + ":4: bad response 7"; err == nil || err.Error() != want {
		t.Errorf("OnResponse error %v, want %s", err, want)
	}
	err = h.OnWindow(&record.Window{})
	if want := `scenario a: on_window hook: ` + p + `:5: on_window hook of scenario "a" was stopped after 30ms (an endless loop?)`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("OnWindow error %v, want %s...", err, want)
	}
	err = h.Teardown(&record.Summary{})
	if want := `llm.set_rate: the arrivals of scenario "a" (replay{speedup=1}) have no single rate to change`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Teardown error %v, want ...%s", err, want)
	}
	// The state still works after a stopped hook; hooks a scenario does not
	// set do nothing, and neither does a nil *Hooks.
	if err := s.Scenarios[1].Hooks.OnResponse(result(0, 0, 0, 0, true)); err != nil {
		t.Error(err)
	}
	var nilHooks *Hooks
	if nilHooks.HasOnResponse() || nilHooks.OnWindow(&record.Window{}) != nil || nilHooks.Teardown(&record.Summary{}) != nil {
		t.Error("nil Hooks")
	}
	if _, err := s.Scenarios[1].Mapper.Map(trace.Row{ContextTokens: 3}); err != nil {
		t.Errorf("Map after a stopped hook: %v", err)
	}
	s.Close()
	if err := h.OnResponse(result(0, 0, 0, 0, false)); err == nil || !strings.Contains(err.Error(), "script is closed") {
		t.Errorf("OnResponse after Close: %v", err)
	}
}

func TestSetRateResolution(t *testing.T) {
	s, _ := loadSrc(t, head+`
local n = 0
return { llm.scenario { name = "a", source = llm.synth.azure_conv(), arrivals = llm.arrivals.constant { rate = 1 },
           on_window = function() llm.set_rate(3) end,
           request = function(row)
             n = n + 1
             if n == 1 then llm.set_rate(7, "b") end
             if n == 2 then llm.set_rate(9) end
             return llm.chat { prompt_tokens = 1 }
           end },
         llm.scenario { name = "b", source = llm.synth.azure_conv(), arrivals = llm.arrivals.gamma { rate = 1 } } }`, Env{})
	a, b := s.Scenarios[0], s.Scenarios[1]
	rate := func(sc *Scenario) float64 { return sc.Schedule.(pace.RateSetter).Rate() }
	if _, err := a.Mapper.Map(trace.Row{}); err != nil {
		t.Fatal(err)
	}
	if rate(b) != 7 || rate(a) != 1 {
		t.Errorf("named: rates a %v b %v", rate(a), rate(b))
	}
	// From a hook, no name means the hook's own scenario.
	if err := a.Hooks.OnWindow(&record.Window{}); err != nil || rate(a) != 3 {
		t.Errorf("from a's hook: %v, rate %v", err, rate(a))
	}
	// Outside hooks with two candidates, the name is required.
	if _, err := a.Mapper.Map(trace.Row{}); err == nil || !strings.Contains(err.Error(), `llm.set_rate: several scenarios could be meant; name one: llm.set_rate(rate, "a")`) {
		t.Errorf("ambiguous set_rate: %v", err)
	}
	if msg := loadErr(t, head+"llm.set_rate(2)\nreturn llm.scenario{source = llm.synth.azure_conv()}"); !strings.Contains(msg, "llm.set_rate works while the run goes") {
		t.Errorf("set_rate at load: %s", msg)
	}
}

// TestHooksConcurrentWithMapper calls hooks from several goroutines while
// the planner maps rows: every call is serialised on the Lua state (run
// with -race).
func TestHooksConcurrentWithMapper(t *testing.T) {
	s, _ := loadSrc(t, head+`
local c = llm.counter("responses")
local rows = llm.counter("rows")
return llm.scenario { source = llm.synth.azure_conv(),
  on_response = function(r) c:add(1) end,
  request = function(row) rows:add(1); return llm.chat { prompt_tokens = row.context_tokens } end }`, Env{})
	sc := s.Scenarios[0]
	var wg sync.WaitGroup
	const per = 300
	for g := range 3 {
		wg.Go(func() {
			for i := range per {
				if err := sc.Hooks.OnResponse(result(int64(g*per+i), time.Millisecond, 2*time.Millisecond, 2, false)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range per {
			if _, err := sc.Mapper.Map(trace.Row{ContextTokens: 5}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		for range 50 {
			_ = s.CustomMetrics()
		}
	})
	wg.Wait()
	cm := s.CustomMetrics()
	if cm["responses"].(map[string]any)["value"] != float64(3*per) || cm["rows"].(map[string]any)["value"] != float64(per) {
		t.Errorf("counts %v", cm)
	}
}

func TestCustomMetricErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`llm.counter("a b")`, `2: llm.counter takes a name of letters, digits, '_' and '.', got string "a b"`},
		{`llm.counter("x"); llm.trend("x")`, `2: llm.trend("x"): "x" is already a counter`},
		{`llm.trend("x"):add()`, `2: trend "x": add takes a finite number, got nil`},
		{`llm.counter("x"):add(0/0)`, `2: counter "x": add takes a finite number, got number NaN`},
		{`local m = llm.counter("x"); m.add(5)`, `2: add must be called with a colon: m:add(...)`},
	} {
		if got := loadErr(t, head+c.src+"\nreturn llm.scenario{source = llm.synth.azure_conv()}"); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %s", c.src, got, c.want)
		}
	}
	s, _ := loadSrc(t, head+`
local a = llm.counter("a")
assert(llm.counter("a") ~= nil and tostring(a) == 'llm.counter("a")')
llm.counter("a"):add(2.5)
a:add()
assert(a:value() == 3.5)
local t = llm.trend("t")
for i = 1, 100 do t:add(i) end
local st = t:stats()
assert(st.count == 100 and st.p50 == 50 and st.p90 == 90 and st.p95 == 95 and st.p99 == 99 and st.mean == 50.5 and t:value() == 100)
local e = llm.trend("empty")
return llm.scenario{source = llm.synth.azure_conv()}`, Env{})
	cm := s.CustomMetrics()
	if len(cm) != 3 || cm["empty"].(map[string]any)["count"] != int64(0) || len(cm["empty"].(map[string]any)) != 2 {
		t.Errorf("metrics %v", cm)
	}
}

func TestTrendReservoir(t *testing.T) {
	s, _ := loadSrc(t, head+`return llm.scenario{source = llm.synth.azure_conv()}`, Env{})
	m := &customMetric{name: "x", trend: true}
	m.rng = newTestRand()
	const n = maxTrendSamples * 3
	sum := 0.0
	for i := range n {
		m.add(float64(i % 1000))
		sum += float64(i % 1000)
	}
	wantMean := sum / n
	v := m.value()
	if len(m.samples) != maxTrendSamples || v["count"] != int64(n) || v["min"] != 0.0 || v["max"] != 999.0 || math.Abs(v["mean"].(float64)-wantMean) > 1e-6 {
		t.Errorf("reservoir: %d samples, %v", len(m.samples), v)
	}
	// The sample stays uniform: its median is near the population's.
	if p50 := v["p50"].(float64); p50 < 490 || p50 > 510 {
		t.Errorf("reservoir p50 %v, want about 499.5", p50)
	}
	_ = s
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

// BenchmarkOnResponse measures one on_response call of a typical hook (a
// counter and a trend): the hook goroutine's cost per finished request,
// which also holds the planner's lock for that long.
func BenchmarkOnResponse(b *testing.B) {
	p := filepath.Join(b.TempDir(), "x.lua")
	if err := os.WriteFile(p, []byte(head+`
local n, ttft = llm.counter("n"), llm.trend("ttft")
return llm.scenario { source = llm.synth.azure_conv(), slo = { ttft = "1s" },
  on_response = function(r) n:add(); if r.ok then ttft:add(r.ttft_ms) end end }`), 0o644); err != nil {
		b.Fatal(err)
	}
	s, err := Load(p, Env{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := s.Scenarios[0].Hooks
	r := result(0, 50*time.Millisecond, 250*time.Millisecond, 5, false)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.OnResponse(r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkCustomArrival measures one Due of a custom arrival function
// (the diurnal thinning of scenarios/custom_shape.lua, inlined).
func BenchmarkCustomArrival(b *testing.B) {
	p := filepath.Join(b.TempDir(), "x.lua")
	if err := os.WriteFile(p, []byte(head+`
local function rate(t) return 5.5 + 4.5 * math.sin(2 * math.pi * t / 120) end
return llm.scenario { source = llm.synth.azure_conv(), arrivals = llm.arrivals.custom(function(n, t)
  local gap = 0
  repeat gap = gap - math.log(1 - math.random()) / 10 until math.random() * 10 <= rate(t + gap)
  return gap
end) }`), 0o644); err != nil {
		b.Fatal(err)
	}
	s, err := Load(p, Env{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sch := s.Scenarios[0].Schedule
	b.ReportAllocs()
	for b.Loop() {
		if sch.Due(0) == pace.End {
			b.Fatal(sch.(*pace.Func).Err())
		}
	}
}
