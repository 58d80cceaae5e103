package threshold

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/results/record"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		expr   string
		metric string
		stat   string
		op     Op
		value  float64
	}{
		{"ttft p95 < 2s", "ttft", "p95", Lt, 2000},
		{"tpot p99 <= 50ms", "tpot", "p99", Le, 50},
		{"e2el mean < 10s", "e2el", "mean", Lt, 10000},
		{"  itl median<20  ", "itl", "median", Lt, 20},
		{"ttft max > 250us", "ttft", "max", Gt, 0.25},
		{"ttft std != 1.5m", "ttft", "std", Ne, 90000},
		{"TTFT P90 >= 1e3µs", "ttft", "p90", Ge, 1},
		{"e2e p50 == 3.s", "e2el", "p50", Eq, 3000},
		{"client_queue_time p99 < 100ms", "client_queue_time", "p99", Lt, 100},
		{"error_rate < 1%", "error_rate", "", Lt, 0.01},
		{"error_rate<=0.05", "error_rate", "", Le, 0.05},
		{"goodput > 5 rps", "request_goodput", "", Gt, 5},
		{"request_goodput > 5", "request_goodput", "", Gt, 5},
		{"request_throughput >= 2.5 req/s", "request_throughput", "", Ge, 2.5},
		{"output_throughput > 1000", "output_throughput", "", Gt, 1000},
		{"output_goodput > 800 tok/s", "output_goodput", "", Gt, 800},
		{"completed >= 100", "completed", "", Ge, 100},
		{"failed == 0", "failed", "", Eq, 0},
	} {
		th, err := Parse(c.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.expr, err)
			continue
		}
		if th.Metric != c.metric || th.Stat != c.stat || th.Op != c.op || th.Value != c.value || th.Expr != strings.TrimSpace(c.expr) {
			t.Errorf("Parse(%q) = %+v; want %s %s %s %v", c.expr, th, c.metric, c.stat, c.op, c.value)
		}
		back, err := Parse(th.String())
		if err != nil || back.Metric != th.Metric || back.Stat != th.Stat || back.Op != th.Op || back.Value != th.Value {
			t.Errorf("round trip of %q via %q: %+v, %v", c.expr, th.String(), back, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		expr string
		col  int
		msg  string
	}{
		{"", 1, "is empty"},
		{"ttfb p95 < 2s", 1, `unknown metric "ttfb" (did you mean ttft?); metrics: client_queue_time, completed,`},
		{"ttft < 2s", 6, "ttft needs a statistic before the comparison (mean, median, p50, p90, p95, p99, min, max, std)"},
		{"ttft pp95 < 2s", 6, `unknown statistic "pp95" for ttft (did you mean p95?)`},
		{"error_rate p95 < 1%", 12, `error_rate takes no statistic, got "p95"; write e.g. "error_rate < 1%"`},
		{"ttft p95 2s", 10, `expected a comparison (< <= > >= == !=), got "2s"`},
		{"ttft p95", 9, "has no comparison"},
		{"ttft p95 =< 2s", 10, "expected a comparison"},
		{"ttft p95 <", 11, "has no number after <"},
		{"ttft p95 < -2s", 12, `expected a number after <, got "-2s"`},
		{"ttft p95 < 2x", 13, `unit "x" does not fit ttft, a latency: use ms, s, us or m`},
		{"ttft p95 < 2 rps", 14, `unit "rps" does not fit ttft`},
		{"error_rate < 5", 14, "error_rate is a fraction from 0 to 1; write 5% for a percentage"},
		{"error_rate < 150%", 14, "at most 100%"},
		{"error_rate < 1 s", 16, `unit "s" does not fit error_rate`},
		{"goodput > 5 tok/s", 13, `unit "tok/s" does not fit request_goodput, requests per second`},
		{"output_throughput > 5 rps", 23, `unit "rps" does not fit output_throughput, tokens per second`},
		{"completed >= 10.5", 14, "10.5 is not a whole number"},
		{"completed >= 10 reqs", 17, "completed is a count and takes no unit"},
		{"ttft p95 < 2 s extra", 16, `unexpected "extra" after the unit "s"`},
		{"< 2s", 1, "must start with a metric name"},
		{"ttft p95 < 1e400", 12, "is not a usable number"},
		{"ttft p95 < 1e306m", 12, "too large"},
	} {
		_, err := Parse(c.expr)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want a *ParseError", c.expr, err)
			continue
		}
		if pe.Pos != c.col || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("Parse(%q):\n got column %d: %s\nwant column %d: ...%s...", c.expr, pe.Pos, pe.Msg, c.col, c.msg)
		}
		if !strings.HasPrefix(err.Error(), "threshold \""+strings.TrimSpace(c.expr)+"\": ") {
			t.Errorf("error %q does not name the expression", err)
		}
	}
}

func summary() *record.Summary {
	return &record.Summary{
		Duration:  10 * time.Second,
		Completed: 98, Failed: 2, Dropped: 1, GoodRequests: 90,
		RequestThroughput: 9.8, OutputThroughput: 1200, TotalTokenThroughput: 5000,
		RequestGoodput: 9, OutputGoodput: 1100,
		TTFT: record.Stats{N: 98, Mean: 300e6, Std: 50e6, Min: 100 * time.Millisecond, Max: 3 * time.Second,
			P50: 250 * time.Millisecond, P90: 900 * time.Millisecond, P95: 1500 * time.Millisecond, P99: 2500 * time.Millisecond},
		TPOT: record.Stats{N: 98, Mean: 20e6, P99: 45 * time.Millisecond},
	}
}

func TestCheck(t *testing.T) {
	var ths []Threshold
	for _, e := range []string{
		"ttft p95 < 2s",             // 1.5s: pass
		"ttft p99 < 2s",             // 2.5s: fail
		"ttft mean <= 300ms",        // pass at the bound
		"ttft std < 50",             // 50ms: fail
		"tpot p99 <= 50ms",          // pass
		"itl p99 < 10ms",            // no samples: fail with no data
		"error_rate < 1%",           // 2%: fail
		"error_rate <= 0.02",        // pass
		"goodput > 5 rps",           // 9: pass
		"output_goodput > 1200",     // 1100: fail
		"output_throughput >= 1200", // pass
		"completed >= 100",          // 98: fail
		"dropped == 1",              // pass
		"good_requests != 90",       // fail
	} {
		ths = append(ths, MustParse(e))
	}
	rs := Check(ths, summary())
	wantPass := []bool{true, false, true, false, true, false, false, true, true, false, true, false, true, false}
	for i, r := range rs {
		if r.Pass != wantPass[i] {
			t.Errorf("%q: pass = %v (observed %v, no data %v), want %v", r.Expr, r.Pass, r.Observed, r.NoData, wantPass[i])
		}
	}
	if !rs[5].NoData || rs[0].NoData {
		t.Error("NoData is wrong")
	}
	if rs[0].Observed != 1500 || rs[6].Observed != 0.02 || rs[11].Observed != 98 {
		t.Errorf("observed values %v %v %v", rs[0].Observed, rs[6].Observed, rs[11].Observed)
	}
	if rs.Passed() || rs.Failed() != 7 || !Check(ths[:1], summary()).Passed() || !Check(nil, summary()).Passed() {
		t.Error("Passed/Failed")
	}

	var b bytes.Buffer
	rs.WriteTable(&b)
	out := b.String()
	norm := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"PASS ttft p95 < 2s observed 1.500s",
		"FAIL error_rate < 1% observed 2.00%",
		"FAIL itl p99 < 10ms no data",
		"PASS goodput > 5 rps observed 9.00 rps",
		"FAIL completed >= 100 observed 98",
		"FAIL ttft std < 50 observed 50.00ms",
		"PASS error_rate <= 0.02 observed 0.0200",
		"7 of 14 thresholds passed",
	} {
		if !strings.Contains(norm, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Columns line up: every verdict line has the observed value at the same column.
	col := -1
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "  observed"); i >= 0 {
			if col >= 0 && i != col {
				t.Errorf("misaligned line %q", l)
			}
			col = i
		}
	}

	js, err := json.Marshal(rs[:2])
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	_ = json.Unmarshal(js, &got)
	_ = json.Unmarshal([]byte(`[{"threshold":"ttft p95 < 2s","metric":"ttft","stat":"p95","bound":2000,"observed":1500,"unit":"ms","pass":true,"no_data":false},`+
		`{"threshold":"ttft p99 < 2s","metric":"ttft","stat":"p99","bound":2000,"observed":2500,"unit":"ms","pass":false,"no_data":false}]`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON\n got %s\nwant %v", js, want)
	}
	js, _ = json.Marshal(rs[5])
	if !strings.Contains(string(js), `"observed":null`) {
		t.Errorf("no-data JSON %s", js)
	}
}

func TestEmptyRun(t *testing.T) {
	rs := Check([]Threshold{MustParse("error_rate < 1%"), MustParse("goodput > 1"), MustParse("failed == 0")}, &record.Summary{})
	if rs[0].Pass || !rs[0].NoData || rs[1].Pass || !rs[1].NoData || !rs[2].Pass {
		t.Errorf("empty run: %+v", rs)
	}
}

func window(start time.Duration, ttftP95 time.Duration, count, failed int64) *record.Window {
	w := &record.Window{Start: start, Len: time.Second, Count: count, Completed: count - failed, Failed: failed, Good: count - failed}
	if count > failed {
		w.TTFT = record.Percentiles{N: count - failed, P50: ttftP95 / 2, P90: ttftP95, P95: ttftP95, P99: ttftP95, Mean: float64(ttftP95) / 2, Max: ttftP95}
	}
	return w
}

func TestObserveWindow(t *testing.T) {
	w := window(0, 800*time.Millisecond, 10, 1)
	w.OutputTokens, w.InputTokens = 500, 1500
	for expr, want := range map[string]float64{
		"ttft p95 < 1s": 800, "ttft mean < 1s": 400, "ttft median < 1s": 400, "ttft max < 1s": 800,
		"error_rate < 1%": 0.1, "request_throughput > 1": 9, "goodput > 1": 9,
		"output_throughput > 1": 500, "total_token_throughput > 1": 2000,
	} {
		v, ok := MustParse(expr).ObserveWindow(w)
		if !ok || v != want {
			t.Errorf("%s on a window: %v, %v; want %v", expr, v, ok, want)
		}
	}
	for _, expr := range []string{"itl p95 < 1s", "ttft std < 1s", "ttft min < 1s", "ttft_from_schedule p95 < 1s",
		"completed > 1", "output_goodput > 1", "tpot p95 < 1s"} {
		if _, ok := MustParse(expr).ObserveWindow(w); ok {
			t.Errorf("%s has a value on this window", expr)
		}
	}
	if MustParse("itl p95 < 1s").Live() || !MustParse("ttft p99 < 1s").Live() || !MustParse("error_rate < 1%").Live() || MustParse("completed > 5").Live() {
		t.Error("Live")
	}
}

func TestWatcher(t *testing.T) {
	if NewWatcher([]Threshold{MustParse("ttft p95 < 1s")}) != nil {
		t.Fatal("a watcher without abort_on_fail thresholds")
	}
	var nilW *Watcher
	if nilW.Check(&record.Snapshot{}) != nil {
		t.Fatal("a nil watcher failed")
	}
	ttft := MustParse("ttft p95 < 1s")
	ttft.AbortOnFail = true
	errs := MustParse("error_rate < 10%")
	errs.AbortOnFail, errs.DelayAbortEval = true, 2*time.Second
	w := NewWatcher([]Threshold{ttft, errs, MustParse("ttft p50 < 1ms")}) // the last is not abort_on_fail

	snap := &record.Snapshot{Windows: []*record.Window{
		window(0, 500*time.Millisecond, 10, 5), // errors 50% but before the delay
		window(time.Second, 0, 0, 0),           // empty: no data
		window(2*time.Second, 900*time.Millisecond, 10, 0),
	}}
	if err := w.Check(snap); err != nil {
		t.Fatalf("failed early: %v", err)
	}
	// The next snapshot repeats the old windows and adds two.
	snap.Windows = append(snap.Windows, window(3*time.Second, 900*time.Millisecond, 10, 0), window(4*time.Second, 1200*time.Millisecond, 10, 0))
	err := w.Check(snap)
	if err == nil {
		t.Fatal("no abort")
	}
	if err.Result.Expr != "ttft p95 < 1s" || err.Window.Start != 4*time.Second || err.Result.Observed != 1200 {
		t.Errorf("abort %+v", err)
	}
	if want := `threshold "ttft p95 < 1s" (abort_on_fail) failed in the window 4s-5s: observed 1.200s`; err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
	// Windows already checked are not checked again.
	if err := w.Check(snap); err != nil {
		t.Errorf("checked the same window twice: %v", err)
	}
	snap.Windows = append(snap.Windows, window(5*time.Second, 0, 10, 3))
	if err := w.Check(snap); err == nil || err.Result.Metric != "error_rate" || err.Result.Format(err.Result.Observed) != "30.00%" {
		t.Errorf("error-rate abort: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"ttft p95 < 2s", "tpot p99 <= 50ms", "e2el mean < 10s", "error_rate < 1%", "goodput > 5 rps",
		"request_goodput > 5", "output_throughput > 1000", "completed >= 100", "itl max<1e3us", "ttft p95 < 2.5e-1m",
		"error_rate<=.5", "", "ttft", "ttft p95 <", "x < 1", "ttft p95 < 2 s s", "failed == 1e2", "ttft p50 < 9e9999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		th, err := Parse(expr)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T is not a *ParseError", expr, err)
			}
			if pe.Pos < 1 || pe.Pos > len(pe.Expr)+1 {
				t.Fatalf("Parse(%q): column %d outside the expression %q", expr, pe.Pos, pe.Expr)
			}
			return
		}
		if _, ok := metricKinds[th.Metric]; !ok {
			t.Fatalf("Parse(%q) gave unknown metric %q", expr, th.Metric)
		}
		if th.Value < 0 || th.Value != th.Value {
			t.Fatalf("Parse(%q) gave value %v", expr, th.Value)
		}
		back, err := Parse(th.String())
		if err != nil || back.Metric != th.Metric || back.Stat != th.Stat || back.Op != th.Op || back.Value != th.Value {
			t.Fatalf("Parse(%q) = %+v, but its String %q parses to %+v, %v", expr, th, th.String(), back, err)
		}
		_ = th.Format(th.Value)
	})
}
