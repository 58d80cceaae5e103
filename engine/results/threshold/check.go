package threshold

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/llmload/llmload/engine/results/record"
)

// Result is one threshold checked against a run or a window.
type Result struct {
	Threshold
	Observed float64 // the metric's value, in the base unit (Kind.BaseUnit)
	// NoData is true when the metric has no value: a latency with no
	// sample, a rate over no request. A final check counts it as failed (a
	// run that produced nothing has not met "ttft p95 < 2s"); a window
	// check ignores it.
	NoData bool
	Pass   bool
}

// Results are the outcome of Check, in the thresholds' order.
type Results []Result

// Check evaluates every threshold against the run's summary.
func Check(ths []Threshold, s *record.Summary) Results {
	out := make(Results, len(ths))
	for i, t := range ths {
		v, ok := t.Observe(s)
		out[i] = Result{Threshold: t, Observed: v, NoData: !ok, Pass: ok && t.Op.holds(v, t.Value)}
	}
	return out
}

// Passed reports whether every threshold passed (true for none).
func (rs Results) Passed() bool {
	for _, r := range rs {
		if !r.Pass {
			return false
		}
	}
	return true
}

// Failed is the number of thresholds that did not pass.
func (rs Results) Failed() int {
	n := 0
	for _, r := range rs {
		if !r.Pass {
			n++
		}
	}
	return n
}

// WriteTable prints the results under the end-of-run table, one line per
// threshold with its verdict and the observed value in the threshold's own
// unit:
//
//	==================== Thresholds ====================
//	PASS  ttft p95 < 2s                    observed 0.412s
//	FAIL  error_rate < 1%                  observed 2.50%
func (rs Results) WriteTable(w io.Writer) {
	if len(rs) == 0 {
		return
	}
	width := 0
	for _, r := range rs {
		width = max(width, len(r.Expr))
	}
	fmt.Fprintln(w, "==================== Thresholds ==================")
	for _, r := range rs {
		verdict, obs := "PASS", "observed "+r.Format(r.Observed)
		if !r.Pass {
			verdict = "FAIL"
		}
		if r.NoData {
			obs = "no data"
		}
		fmt.Fprintf(w, "%s  %-*s  %s\n", verdict, width, r.Expr, obs)
	}
	fmt.Fprintf(w, "%d of %d thresholds passed\n", len(rs)-rs.Failed(), len(rs))
}

// MarshalJSON writes a result for summary.json:
// {"threshold": "ttft p95 < 2s", "metric": "ttft", "stat": "p95",
// "bound": 2000, "observed": 412.3, "unit": "ms", "pass": true, "no_data": false}.
func (r Result) MarshalJSON() ([]byte, error) {
	var observed any = r.Observed
	if r.NoData {
		observed = nil
	}
	return json.Marshal(struct {
		Threshold   string  `json:"threshold"`
		Metric      string  `json:"metric"`
		Stat        string  `json:"stat,omitempty"`
		Bound       float64 `json:"bound"`
		Observed    any     `json:"observed"`
		Unit        string  `json:"unit"`
		Pass        bool    `json:"pass"`
		NoData      bool    `json:"no_data"`
		AbortOnFail bool    `json:"abort_on_fail,omitempty"`
	}{r.Expr, r.Metric, r.Stat, r.Value, observed, r.Kind().BaseUnit(), r.Pass, r.NoData, r.AbortOnFail})
}

// Format renders v (in the base unit) in the unit the threshold was
// written in: "1.234s", "412.30ms", "2.50%", "5.20 rps", "100".
func (t Threshold) Format(v float64) string {
	f := func(x float64, prec int) string { return strconv.FormatFloat(x, 'f', prec, 64) }
	switch t.Kind() {
	case Latency:
		switch strings.ToLower(t.Unit) {
		case "s":
			return f(v/1e3, 3) + "s"
		case "m", "min":
			return f(v/60e3, 2) + "m"
		case "us", "µs":
			return f(v*1e3, 0) + "µs"
		}
		return f(v, 2) + "ms"
	case Fraction:
		if t.Unit == "%" {
			return f(v*100, 2) + "%"
		}
		return f(v, 4)
	case ReqRate, TokRate:
		if t.Unit != "" {
			return f(v, 2) + " " + t.Unit
		}
		return f(v, 2)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Observe returns the threshold's metric from a run's summary, in the base
// unit; ok is false when the metric has no value (see Result.NoData).
func (t Threshold) Observe(s *record.Summary) (v float64, ok bool) {
	all := s.Completed + s.Failed
	switch t.Metric {
	case "error_rate":
		if all == 0 {
			return 0, false
		}
		return float64(s.Failed) / float64(all), true
	case "request_throughput":
		return s.RequestThroughput, all > 0
	case "output_throughput":
		return s.OutputThroughput, all > 0
	case "total_token_throughput":
		return s.TotalTokenThroughput, all > 0
	case "request_goodput":
		return s.RequestGoodput, all > 0
	case "output_goodput":
		return s.OutputGoodput, all > 0
	case "completed":
		return float64(s.Completed), true
	case "failed":
		return float64(s.Failed), true
	case "dropped":
		return float64(s.Dropped), true
	case "good_requests":
		return float64(s.GoodRequests), true
	}
	st := summaryStats(s, t.Metric)
	if st == nil || st.N == 0 {
		return 0, false
	}
	return statOf(t.Stat, st), true
}

func summaryStats(s *record.Summary, metric string) *record.Stats {
	switch metric {
	case "ttft":
		return &s.TTFT
	case "tpot":
		return &s.TPOT
	case "itl":
		return &s.ITL
	case "e2el":
		return &s.E2EL
	case "ttft_from_schedule":
		return &s.TTFTFromSchedule
	case "e2el_from_schedule":
		return &s.E2ELFromSchedule
	case "client_queue_time":
		return &s.QueueTime
	case "schedule_lag":
		return &s.ScheduleLag
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func statOf(stat string, st *record.Stats) float64 {
	switch stat {
	case "mean":
		return st.Mean / 1e6
	case "median", "p50":
		return ms(st.P50)
	case "p90":
		return ms(st.P90)
	case "p95":
		return ms(st.P95)
	case "p99":
		return ms(st.P99)
	case "min":
		return ms(st.Min)
	case "max":
		return ms(st.Max)
	default: // std
		return st.Std / 1e6
	}
}

// Live reports whether the threshold can be checked on a single window:
// ttft, tpot, e2el, client_queue_time and schedule_lag with mean, median,
// p50, p90, p95, p99 or max; error_rate; and the request_throughput,
// output_throughput, total_token_throughput and request_goodput rates.
// Counts, itl, the from-schedule latencies, min and std are checked only
// at the end.
func (t Threshold) Live() bool {
	_, ok := t.ObserveWindow(&record.Window{Count: 1, Completed: 1, Len: time.Second,
		TTFT: one, TPOT: one, E2EL: one, QueueTime: one, ScheduleLag: one})
	return ok
}

var one = record.Percentiles{N: 1}

// ObserveWindow returns the threshold's metric over one window; ok is
// false when the window has no value for it (no sample, or a metric that
// windows do not keep: see Live).
func (t Threshold) ObserveWindow(w *record.Window) (v float64, ok bool) {
	switch t.Metric {
	case "error_rate":
		if w.Count == 0 {
			return 0, false
		}
		return float64(w.Failed) / float64(w.Count), true
	case "request_throughput":
		return w.RequestRate(), w.Count > 0 && w.Len > 0
	case "output_throughput":
		return w.OutputTokenRate(), w.Count > 0 && w.Len > 0
	case "total_token_throughput":
		return float64(w.InputTokens+w.OutputTokens) / w.Len.Seconds(), w.Count > 0 && w.Len > 0
	case "request_goodput":
		return w.GoodRate(), w.Count > 0 && w.Len > 0
	}
	var p *record.Percentiles
	switch t.Metric {
	case "ttft":
		p = &w.TTFT
	case "tpot":
		p = &w.TPOT
	case "e2el":
		p = &w.E2EL
	case "client_queue_time":
		p = &w.QueueTime
	case "schedule_lag":
		p = &w.ScheduleLag
	default:
		return 0, false
	}
	if p.N == 0 {
		return 0, false
	}
	switch t.Stat {
	case "mean":
		return p.Mean / 1e6, true
	case "median", "p50":
		return ms(p.P50), true
	case "p90":
		return ms(p.P90), true
	case "p95":
		return ms(p.P95), true
	case "p99":
		return ms(p.P99), true
	case "max":
		return ms(p.Max), true
	}
	return 0, false
}

// CheckWindow evaluates t on one window. ok is false when the window has
// no value for the metric; the result then neither passes nor fails.
func (t Threshold) CheckWindow(w *record.Window) (r Result, ok bool) {
	v, ok := t.ObserveWindow(w)
	if !ok {
		return Result{Threshold: t, NoData: true}, false
	}
	return Result{Threshold: t, Observed: v, Pass: t.Op.holds(v, t.Value)}, true
}

// Watcher checks the AbortOnFail thresholds against each window as it
// finishes, for stopping a run that already fails. It is not safe for
// concurrent use: one goroutine (the one that takes snapshots) owns it.
type Watcher struct {
	ths  []Threshold
	next time.Duration // start of the first window not yet checked
}

// NewWatcher watches the AbortOnFail thresholds among ths; it returns nil
// when there are none, and a nil *Watcher never reports a failure.
func NewWatcher(ths []Threshold) *Watcher {
	var w Watcher
	for _, t := range ths {
		if t.AbortOnFail {
			w.ths = append(w.ths, t)
		}
	}
	if len(w.ths) == 0 {
		return nil
	}
	return &w
}

// AbortError is an AbortOnFail threshold that failed on a window: the
// reason to stop the run early.
type AbortError struct {
	Result Result
	Window *record.Window
}

func (e *AbortError) Error() string {
	return fmt.Sprintf("threshold %q (abort_on_fail) failed in the window %v-%v: observed %s",
		e.Result.Expr, e.Window.Start, e.Window.Start+e.Window.Len, e.Result.Format(e.Result.Observed))
}

// Check looks at the finished windows of snap that it has not seen yet,
// oldest first, and returns the first failure of an AbortOnFail threshold,
// or nil. Windows without data for a threshold, and windows that start
// before its DelayAbortEval, are skipped. The window in progress is not
// checked: it is not finished.
func (w *Watcher) Check(snap *record.Snapshot) *AbortError {
	if w == nil || snap == nil {
		return nil
	}
	for _, win := range snap.Windows {
		if win.Start < w.next {
			continue
		}
		w.next = win.Start + max(win.Len, 1)
		for _, t := range w.ths {
			if win.Start < t.DelayAbortEval {
				continue
			}
			if r, ok := t.CheckWindow(win); ok && !r.Pass {
				return &AbortError{Result: r, Window: win}
			}
		}
	}
	return nil
}
