package compare

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/llmload/llmload/engine/results/threshold"
)

// Rule is a --fail-on rule: a threshold on a change, e.g.
// "ttft p99 > +10%" (relative change) or "tpot p50 > +2ms" (absolute, in
// any unit the threshold grammar takes for the metric). For error_rate a
// percentage is in percentage points.
type Rule struct {
	Expr     string
	Metric   string
	Stat     string
	Op       threshold.Op
	Value    float64 // percent when Relative; else the metric's base unit
	Relative bool
}

// ParseRule reads a rule. The metric, statistic and comparison are the
// threshold grammar's (engine/results/threshold), the bound a signed number with
// % or a unit.
func ParseRule(expr string) (Rule, error) {
	expr = strings.TrimSpace(expr)
	opAt, opLen := -1, 0
	for i := 0; i < len(expr) && opAt < 0; i++ {
		for _, op := range []string{"<=", ">=", "==", "!=", "<", ">"} {
			if strings.HasPrefix(expr[i:], op) {
				opAt, opLen = i, len(op)
				break
			}
		}
	}
	if opAt < 0 {
		return Rule{}, fmt.Errorf("--fail-on %q: no comparison; write e.g. \"ttft p99 > +10%%\" or \"output_throughput < -5%%\"", expr)
	}
	lhs, op, rhs := strings.TrimSpace(expr[:opAt]), expr[opAt:opAt+opLen], strings.TrimSpace(expr[opAt+opLen:])
	th, err := threshold.Parse(lhs + " " + op + " 0")
	if err != nil {
		return Rule{}, fmt.Errorf("--fail-on %q: %v", expr, strings.TrimPrefix(err.Error(), "threshold "))
	}
	if !compared(th.Metric, th.Stat) {
		return Rule{}, fmt.Errorf("--fail-on %q: compare does not report %s; it reports ttft, tpot, itl and e2el (mean, p50, p90, p95, p99), %s and error_rate",
			expr, strings.TrimSpace(th.Metric+" "+th.Stat), rateNames())
	}
	r := Rule{Expr: expr, Metric: th.Metric, Stat: th.Stat, Op: th.Op}
	sign := 1.0
	num := rhs
	switch {
	case strings.HasPrefix(num, "+"):
		num = strings.TrimSpace(num[1:])
	case strings.HasPrefix(num, "-"):
		sign, num = -1, strings.TrimSpace(num[1:])
	}
	if p, ok := strings.CutSuffix(num, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return Rule{}, fmt.Errorf("--fail-on %q: %q is not a percentage; write e.g. +10%%", expr, rhs)
		}
		r.Value, r.Relative = sign*v, true
		return r, nil
	}
	// An absolute change: the threshold grammar converts the unit.
	abs, err := threshold.Parse(lhs + " " + op + " " + num)
	if err != nil || num == "" {
		return Rule{}, fmt.Errorf("--fail-on %q: the bound %q is neither a change in percent (+10%%) nor a value in the metric's units (+20ms, -5 rps): %v", expr, rhs, err)
	}
	r.Value = sign * abs.Value
	return r, nil
}

func compared(metric, stat string) bool {
	switch metric {
	case "ttft", "tpot", "itl", "e2el":
		for _, s := range stats {
			if s.name == stat || (stat == "median" && s.name == "p50") {
				return true
			}
		}
		return false
	case "error_rate":
		return true
	}
	for _, m := range rateMetrics {
		if m.name == metric {
			return true
		}
	}
	return false
}

func rateNames() string {
	var n []string
	for _, m := range rateMetrics {
		n = append(n, m.name)
	}
	return strings.Join(n, ", ")
}

// Outcome is a rule checked against a comparison.
type Outcome struct {
	Rule    Rule
	Row     *Row
	Changed float64 // the change the rule saw (percent, or base units)
	Failed  bool
	Why     string
}

// Check checks rule against rows. A rule fails when the change holds its
// comparison and is significant: its confidence interval excludes 0
// (verdict better or worse), or there is no interval (too little data) and
// the change alone holds it. A change inside the noise fails no rule.
func (rule Rule) Check(rows []Row) Outcome {
	o := Outcome{Rule: rule}
	stat := rule.Stat
	if stat == "median" {
		stat = "p50"
	}
	for i := range rows {
		if rows[i].Metric == rule.Metric && rows[i].Stat == stat {
			o.Row = &rows[i]
		}
	}
	if o.Row == nil {
		o.Why = "no such row"
		return o
	}
	r := o.Row
	switch {
	case rule.Relative && r.Absolute:
		o.Changed = r.Change * 100 // percentage points
	case rule.Relative:
		o.Changed = r.Change * 100
	default:
		o.Changed = r.New - r.Base
	}
	if math.IsNaN(o.Changed) {
		o.Why = "no value to compare"
		return o
	}
	holds := rule.Op.Holds(o.Changed, rule.Value)
	o.Failed = holds && r.Verdict != NoChange
	switch {
	case o.Failed:
		o.Why = fmt.Sprintf("%s changed %s (%s)", r.Name(), changeText(r, r.Change), r.Verdict)
	case holds:
		o.Why = fmt.Sprintf("%s changed %s, within the noise (95%% CI [%s, %s] includes 0)", r.Name(), changeText(r, r.Change), changeText(r, r.Lo), changeText(r, r.Hi))
	default:
		o.Why = fmt.Sprintf("%s changed %s", r.Name(), changeText(r, r.Change))
	}
	return o
}
