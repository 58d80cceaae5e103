package capacity

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is a search's outcome: summary.json's "capacity" section.
type Result struct {
	By   string `json:"by"`
	Unit string `json:"unit"` // "req/s" or "concurrent requests"
	// The rule: every objective set (milliseconds) met by at least
	// Goodput of each step's judged requests.
	SLOTTFTMS float64 `json:"slo_ttft_ms,omitempty"`
	SLOTPOTMS float64 `json:"slo_tpot_ms,omitempty"`
	SLOE2EMS  float64 `json:"slo_e2e_ms,omitempty"`
	Goodput   float64 `json:"goodput_target"`
	Precision float64 `json:"precision"`

	// Answer is the highest level that passed (0: none did). The knee is
	// in [BracketLow, BracketHigh) when the verdicts are right; Low and
	// High widen that to steps whose verdicts were clear (see interval):
	// High is nil when no step above the answer failed clearly.
	Answer      float64  `json:"answer"`
	BracketLow  float64  `json:"bracket_low"`
	BracketHigh *float64 `json:"bracket_high"`
	Low         float64  `json:"low"`
	High        *float64 `json:"high"`
	Reason      string   `json:"stop_reason"`
	WallS       float64  `json:"wall_s"`

	Steps []StepResult `json:"steps"`
}

func newResult(cfg *Config, steps []StepResult, lo, hi float64, reason string, wall time.Duration) *Result {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	r := &Result{
		By: cfg.By, Unit: unit(cfg.By),
		SLOTTFTMS: ms(cfg.SLO.TTFT), SLOTPOTMS: ms(cfg.SLO.TPOT), SLOE2EMS: ms(cfg.SLO.E2E),
		Goodput: cfg.Goodput, Precision: cfg.Search.Precision,
		Answer: lo, BracketLow: lo, Reason: reason, WallS: wall.Seconds(),
		Steps: append([]StepResult{}, steps...),
	}
	if r.Precision == 0 {
		r.Precision = 0.1
	}
	if hi > 0 {
		r.BracketHigh = &hi
	}
	low, high := interval(steps, lo, hi)
	r.Low = low
	if !math.IsInf(high, 1) {
		r.High = &high
	}
	return r
}

// WriteTable prints the throughput-versus-latency table of the steps and
// the answer, for the terminal.
func (r *Result) WriteTable(w io.Writer) {
	if r == nil {
		return
	}
	var slo []string
	for _, o := range []struct {
		name string
		ms   float64
	}{{"TTFT", r.SLOTTFTMS}, {"TPOT", r.SLOTPOTMS}, {"E2E", r.SLOE2EMS}} {
		if o.ms > 0 {
			slo = append(slo, fmt.Sprintf("%s <= %v", o.name, time.Duration(o.ms*float64(time.Millisecond))))
		}
	}
	fmt.Fprintf(w, "\ncapacity by %s (SLO: %s for >= %.4g%% of requests)\n", r.By, strings.Join(slo, ", "), 100*r.Goodput)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tlevel\tverdict\tended\tjudged\tgoodput\t95% CI\toffered/s\tdone/s\tgood/s\ttok/s\tttft p50\tttft p99\ttpot p99\t")
	for _, s := range r.Steps {
		v := s.Verdict.String()
		if s.Verdict != 0 && !s.Clear {
			v += "?"
		}
		fmt.Fprintf(tw, "%d\t%.4g\t%s\t%s\t%d\t%.1f%%\t%.1f-%.1f%%\t%.2f\t%.2f\t%.2f\t%.0f\t%s\t%s\t%s\t\n",
			s.N, s.Level, v, s.Ended, s.Judged, 100*s.Goodput, 100*s.GoodputLow, 100*s.GoodputHigh,
			s.OfferedRPS, s.RPS, s.GoodRPS, s.OutputTPS, msString(s.TTFTP50MS), msString(s.TTFTP99MS), msString(s.TPOTP99MS))
	}
	tw.Flush()
	for _, s := range r.Steps {
		if s.Why != "" {
			fmt.Fprintf(w, "  step %d: %s\n", s.N, s.Why)
		}
	}
	high := "unbounded"
	if r.High != nil {
		high = fmt.Sprintf("%.4g", *r.High)
	}
	if r.Answer > 0 {
		fmt.Fprintf(w, "capacity: %.4g %s (interval %.4g to %s); ", r.Answer, r.Unit, r.Low, high)
	} else {
		fmt.Fprintf(w, "capacity: no level met the SLO; ")
	}
	fmt.Fprintf(w, "search stopped: %s after %d steps in %s\n", reasonText(r.Reason), len(r.Steps), time.Duration(r.WallS*float64(time.Second)).Round(time.Second))
}

// unit is the levels' unit of a search by by.
func unit(by string) string {
	switch by {
	case ByConcurrency:
		return "concurrent requests"
	case ByUsers:
		return "users"
	}
	return "req/s"
}

func msString(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	if ms < 10 {
		return fmt.Sprintf("%.1fms", ms)
	}
	if ms < 1000 {
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.2fs", ms/1000)
}

func reasonText(r string) string {
	switch r {
	case ReasonConverged:
		return "converged to the precision"
	case ReasonMaxPassed:
		return "the maximum level passed (raise max)"
	case ReasonNonePass:
		return "even the lowest level failed"
	case ReasonUntrusted:
		return "llmload could not drive a level (untrusted twice)"
	case ReasonStopped:
		return "the run was stopped"
	case ReasonDuration:
		return "the scenario's duration ended"
	case ReasonSource:
		return "the source ran out of rows (or the scenario's limit was reached)"
	case ReasonMaxSteps:
		return "the step budget ran out"
	case ReasonFailed:
		return "a request could not be built"
	}
	return r
}
