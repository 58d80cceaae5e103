package compare

import (
	"math"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	for _, c := range []struct {
		expr     string
		metric   string
		value    float64
		relative bool
	}{
		{"ttft p99 > +10%", "ttft", 10, true},
		{"output_throughput < -5%", "output_throughput", -5, true},
		{"tpot median>+2ms", "tpot", 2, false},
		{"e2el p50 > +0.5s", "e2el", 500, false},
		{"goodput < -1 rps", "request_goodput", -1, false},
	} {
		r, err := ParseRule(c.expr)
		if err != nil || r.Metric != c.metric || r.Value != c.value || r.Relative != c.relative {
			t.Errorf("%q: %+v, %v", c.expr, r, err)
		}
	}
	for _, bad := range []string{"ttft p99", "ttft > +10%", "completed < -5%", "ttft p99 > +10 tok/s", "ttft p99 > +x%"} {
		if _, err := ParseRule(bad); err == nil || !strings.Contains(err.Error(), "--fail-on") {
			t.Errorf("%q: err %v, want a --fail-on error", bad, err)
		}
	}
}

func TestRuleNeedsSignificance(t *testing.T) {
	rule, _ := ParseRule("ttft p99 > +10%")
	rows := []Row{{Metric: "ttft", Stat: "p99", Change: 0.2, Lo: -0.05, Hi: 0.4, Verdict: NoChange}}
	if o := rule.Check(rows); o.Failed {
		t.Errorf("noise failed the rule: %s", o.Why)
	}
	rows[0].Lo, rows[0].Verdict = 0.1, Worse
	if o := rule.Check(rows); !o.Failed {
		t.Errorf("a significant +20%% passed: %s", o.Why)
	}
}

func TestBootstrapSeparatesShiftedSamples(t *testing.T) {
	a, b := make([]float64, 200), make([]float64, 200)
	for i := range a {
		a[i] = 10 + float64(i%20)*0.1
		b[i] = a[i] * 1.3
	}
	r := latencyRows("tpot", newSample(a), newSample(b), Options{Seed: 1, Resamples: 500, MinEffect: 0.02}, 0)
	for _, row := range r {
		if row.Verdict != Worse || math.Abs(row.Change-0.3) > 1e-9 || !(row.Lo > 0.2) {
			t.Errorf("%s: %+v", row.Name(), row)
		}
	}
	same := latencyRows("tpot", newSample(append([]float64(nil), a...)), newSample(append([]float64(nil), a...)), Options{Seed: 1, Resamples: 500, MinEffect: 0.02}, 0)
	for _, row := range same {
		if row.Verdict != NoChange || !(row.Lo <= 0 && row.Hi >= 0) {
			t.Errorf("identical samples, %s: %+v", row.Name(), row)
		}
	}
}
