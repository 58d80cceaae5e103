// Package compare puts two runs side by side (engine/results): for each
// headline metric both values, the relative change, a 95% confidence
// interval of that change and a verdict, and checks --fail-on rules
// against them so CI can fail on a regression. The statistics are in
// docs/report.md.
package compare

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/llmload/llmload/engine/results/rundir"
)

// Verdict is what a change means.
type Verdict string

// Verdicts.
const (
	Better    Verdict = "better"
	Worse     Verdict = "worse"
	NoChange  Verdict = "no significant change"
	NotEnough Verdict = "not enough data"
)

// Row is one metric compared.
type Row struct {
	Metric string // threshold grammar's name: ttft, request_throughput, error_rate, ...
	Stat   string // mean, p50, p90, p99 for latencies; "" otherwise
	Unit   string // of Base and New
	Base   float64
	New    float64
	// Change is New/Base − 1 (a fraction), or for error_rate New − Base
	// (Absolute). Lo and Hi bound its 95% confidence interval; NaN when
	// there is too little data for one.
	Change, Lo, Hi float64
	Absolute       bool
	HigherIsBetter bool
	Verdict        Verdict
	Method         string // how the interval was computed
}

// Name is "ttft p99" or "request_throughput".
func (r *Row) Name() string {
	if r.Stat == "" {
		return r.Metric
	}
	return r.Metric + " " + r.Stat
}

// Options tune Compare. The zero value is the documented default.
type Options struct {
	Seed      uint64 // bootstrap seed; 0 = 1
	Resamples int    // bootstrap resamples; 0 = 1000 (fewer for very large runs)
	Force     bool   // compare runs of different scenarios or models
	// MinEffect is the smallest relative change (0.02 = 2%) called better
	// or worse: two runs of one configuration differ by more than their
	// sampling noise (the machine, the network), so a change whose interval
	// excludes 0 but that is smaller than this is no significant change.
	// 0 = DefaultMinEffect; negative = none.
	MinEffect float64
}

// DefaultMinEffect is Options.MinEffect's default.
const DefaultMinEffect = 0.02

// MismatchError is two runs that should not be compared.
type MismatchError struct{ What, Base, New, BaseDir, NewDir string }

func (e *MismatchError) Error() string {
	return fmt.Sprintf("the runs are of different %ss: %q (%s) and %q (%s); a comparison would measure the %s, not a change; add --force to compare them anyway",
		e.What, e.Base, e.BaseDir, e.New, e.NewDir, e.What)
}

// Compare compares next against base.
func Compare(base, next *rundir.Run, opt Options) ([]Row, error) {
	if !opt.Force {
		if a, b := base.Name(), next.Name(); a != b {
			return nil, &MismatchError{"scenario", a, b, base.Dir, next.Dir}
		}
		if a, b := base.MetaStr("model"), next.MetaStr("model"); a != b {
			return nil, &MismatchError{"model", a, b, base.Dir, next.Dir}
		}
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	if opt.Resamples == 0 {
		opt.Resamples = 1000
	}
	switch {
	case opt.MinEffect == 0:
		opt.MinEffect = DefaultMinEffect
	case opt.MinEffect < 0:
		opt.MinEffect = 0
	}
	var rows []Row
	for mi, m := range []string{"ttft", "tpot", "itl", "e2el"} {
		bs, ns := latencySample(base, m), latencySample(next, m)
		rows = append(rows, latencyRows(m, bs, ns, opt, uint64(mi))...)
	}
	for mi, m := range rateMetrics {
		rows = append(rows, rateRow(m, base, next, opt, uint64(100+mi)))
	}
	rows = append(rows, errorRow(base, next))
	return rows, nil
}

func latencySample(r *rundir.Run, metric string) *sample {
	if metric == "itl" {
		var groups [][]float32
		for i := range r.Requests {
			q := &r.Requests[i]
			if q.Measured() {
				if itl := r.ITLOf(q); len(itl) > 0 {
					groups = append(groups, itl)
				}
			}
		}
		return newClusterSample(groups)
	}
	var vals []float64
	for i := range r.Requests {
		q := &r.Requests[i]
		if !q.Measured() {
			continue
		}
		v := map[string]float64{"ttft": q.TTFT, "tpot": q.TPOT, "e2el": q.E2EL}[metric]
		if rundir.Present(v) {
			vals = append(vals, v)
		}
	}
	return newSample(vals)
}

// workBudget bounds values × resamples of one metric, so comparing runs of
// millions of tokens stays in seconds; resamples never go below 200.
const workBudget = 4e8

func latencyRows(metric string, bs, ns *sample, opt Options, salt uint64) []Row {
	pb, pn := make([]float64, len(stats)), make([]float64, len(stats))
	bs.estimate(nil, pb)
	ns.estimate(nil, pn)
	n := opt.Resamples
	if work := float64(len(bs.vals) + len(ns.vals)); work*float64(n) > workBudget {
		n = max(200, int(workBudget/work))
	}
	var ratios [][]float64
	if bs.clusters >= 2 && ns.clusters >= 2 {
		ratios = bootstrapRatios(bs, ns, n, opt.Seed+salt)
	}
	method := fmt.Sprintf("bootstrap of requests, %d resamples", n)
	if metric == "itl" {
		method = fmt.Sprintf("bootstrap of requests (their tokens together), %d resamples", n)
	}
	rows := make([]Row, len(stats))
	for j, st := range stats {
		row := Row{Metric: metric, Stat: st.name, Unit: "ms", Base: pb[j], New: pn[j], Method: method,
			Change: relChange(pb[j], pn[j]), Lo: math.NaN(), Hi: math.NaN()}
		if ratios != nil {
			row.Lo, row.Hi = interval(ratios[j])
		}
		row.Verdict = verdict(&row, opt.MinEffect)
		rows[j] = row
	}
	return rows
}

func relChange(base, next float64) float64 {
	if base == 0 || math.IsNaN(base) || math.IsNaN(next) {
		return math.NaN()
	}
	return next/base - 1
}

// rateMetrics are compared through the per-window rates of windows.jsonl.
var rateMetrics = []struct {
	name, unit string
	window     func(w *rundir.Window) float64
}{
	{"request_throughput", "req/s", func(w *rundir.Window) float64 { return w.RequestThroughput }},
	{"output_throughput", "tok/s", func(w *rundir.Window) float64 { return w.OutputThroughput }},
	{"total_token_throughput", "tok/s", func(w *rundir.Window) float64 {
		return float64(w.InputTokens+w.OutputTokens) / math.Max(w.End-w.Start, 1e-9)
	}},
	{"request_goodput", "req/s", func(w *rundir.Window) float64 { return w.RequestGoodput }},
}

// minWindows is the fewest whole windows a run needs for a rate's
// interval.
const minWindows = 3

// rateRow compares a throughput: the values are summary.json's; the
// interval is the bootstrap spread of the ratio of the mean per-window
// rate (whole windows), moved to centre on the summaries' change.
func rateRow(m struct {
	name, unit string
	window     func(w *rundir.Window) float64
}, base, next *rundir.Run, opt Options, salt uint64) Row {
	row := Row{Metric: m.name, Unit: m.unit, HigherIsBetter: true, Base: base.NumOr(m.name, 0), New: next.NumOr(m.name, 0),
		Lo: math.NaN(), Hi: math.NaN()}
	row.Change = relChange(row.Base, row.New)
	wb, wn := windowRates(base, m.window), windowRates(next, m.window)
	row.Method = fmt.Sprintf("bootstrap of whole windows (%d and %d)", len(wb), len(wn))
	if len(wb) >= minWindows && len(wn) >= minWindows && !math.IsNaN(row.Change) {
		ratios := meanRatios(wb, wn, max(opt.Resamples, 1000), opt.Seed+salt)
		lo, hi := interval(ratios)
		observed := relChange(mean(wb), mean(wn))
		row.Lo, row.Hi = row.Change+lo-observed, row.Change+hi-observed
	}
	row.Verdict = verdict(&row, opt.MinEffect)
	return row
}

func windowRates(r *rundir.Run, f func(w *rundir.Window) float64) []float64 {
	var out []float64
	for i := range r.Windows {
		if !r.Windows[i].Partial {
			out = append(out, f(&r.Windows[i]))
		}
	}
	return out
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// errorRow compares the error rate (failed / finished, dropped included):
// the absolute change and its normal-approximation (Wald) interval.
func errorRow(base, next *rundir.Run) Row {
	rate := func(r *rundir.Run) (p, n float64) {
		c, f := r.NumOr("completed", 0), r.NumOr("failed", 0)
		if c+f == 0 {
			return math.NaN(), 0
		}
		return f / (c + f), c + f
	}
	pb, nb := rate(base)
	pn, nn := rate(next)
	row := Row{Metric: "error_rate", Unit: "fraction", Base: pb, New: pn, Change: pn - pb, Absolute: true,
		Method: "normal approximation of two proportions", Lo: math.NaN(), Hi: math.NaN()}
	if nb > 0 && nn > 0 {
		se := math.Sqrt(pb*(1-pb)/nb + pn*(1-pn)/nn)
		row.Lo, row.Hi = row.Change-1.96*se, row.Change+1.96*se
	}
	row.Verdict = verdict(&row, 0)
	return row
}

// verdict: better or worse when the interval excludes 0 and the change is
// at least minEffect (relative changes only).
func verdict(r *Row, minEffect float64) Verdict {
	switch {
	case math.IsNaN(r.Lo) || math.IsNaN(r.Hi) || math.IsNaN(r.Change):
		return NotEnough
	case !r.Absolute && math.Abs(r.Change) < minEffect:
		return NoChange
	case r.Lo > 0 && r.Change != 0:
		if r.HigherIsBetter {
			return Better
		}
		return Worse
	case r.Hi < 0 && r.Change != 0:
		if r.HigherIsBetter {
			return Worse
		}
		return Better
	}
	return NoChange
}

// WriteTable prints rows for a terminal.
func WriteTable(w io.Writer, rows []Row) {
	fmt.Fprintf(w, "%-24s %12s %12s %9s  %-21s %s\n", "metric", "base", "new", "change", "95% CI of change", "verdict")
	for i := range rows {
		r := &rows[i]
		fmt.Fprintf(w, "%-24s %12s %12s %9s  %-21s %s\n", r.Name(), value(r, r.Base), value(r, r.New),
			changeText(r, r.Change), "["+changeText(r, r.Lo)+", "+changeText(r, r.Hi)+"]", r.Verdict)
	}
}

func value(r *Row, v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case r.Unit == "fraction":
		return fmt.Sprintf("%.2f%%", v*100)
	}
	return fmt.Sprintf("%.2f %s", v, strings.TrimSpace(r.Unit))
}

// changeText is a relative change in %, or an absolute one in
// percentage points (error_rate).
func changeText(r *Row, c float64) string {
	switch {
	case math.IsNaN(c):
		return "–"
	case r.Absolute:
		return fmt.Sprintf("%+.2fpp", c*100)
	}
	return fmt.Sprintf("%+.1f%%", c*100)
}
