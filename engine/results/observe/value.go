package observe

import (
	"fmt"
	"math"
	"strconv"
)

// Value is a number that may be unknown: the endpoint does not export the
// series, or nothing happened that it could be computed from (a mean of no
// requests, a rate before the second scrape). Unknown is null in JSON.
type Value struct {
	V  float64
	OK bool
}

func known(v float64) Value { return Value{V: v, OK: true} }

// ratio is a/b, unknown unless both are known and b > 0.
func ratio(a, b Value) Value {
	if !a.OK || !b.OK || b.V <= 0 {
		return Value{}
	}
	return known(a.V / b.V)
}

// scale multiplies a known value.
func (v Value) scale(f float64) Value {
	if !v.OK {
		return v
	}
	return known(v.V * f)
}

// minus is v-w, unknown unless both are known.
func (v Value) minus(w Value) Value {
	if !v.OK || !w.OK {
		return Value{}
	}
	return known(v.V - w.V)
}

// MarshalJSON writes the number, or null when unknown (or not finite,
// which JSON cannot carry).
func (v Value) MarshalJSON() ([]byte, error) {
	if !v.OK || math.IsNaN(v.V) || math.IsInf(v.V, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, roundSig(v.V), 'f', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes: a number, or null for
// unknown (llmload merge reads a shard's summary.json back).
func (v *Value) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = Value{}
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("observe: %q is not a number or null", b)
	}
	*v = known(f)
	return nil
}

// String formats for the end-of-run table: two decimals, or "n/a".
func (v Value) String() string {
	if !v.OK {
		return "n/a"
	}
	return strconv.FormatFloat(v.V, 'f', 2, 64)
}

// roundSig keeps 9 significant digits, enough for any reading here and
// short in the files.
func roundSig(f float64) float64 {
	if f == 0 {
		return 0
	}
	p, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 9, 64), 64)
	if err != nil {
		return f
	}
	return p
}

// gaugeAgg aggregates one gauge over samples: mean and max.
type gaugeAgg struct {
	sum, max float64
	n        int64
}

func (g *gaugeAgg) add(v Value) {
	if !v.OK {
		return
	}
	if g.n == 0 || v.V > g.max {
		g.max = v.V
	}
	g.sum += v.V
	g.n++
}

func (g *gaugeAgg) mean() Value {
	if g.n == 0 {
		return Value{}
	}
	return known(g.sum / float64(g.n))
}

func (g *gaugeAgg) maximum() Value {
	if g.n == 0 {
		return Value{}
	}
	return known(g.max)
}

// maxOf is the larger of the known values; unknown when neither is.
func maxOf(a, b Value) Value {
	switch {
	case !a.OK:
		return b
	case !b.OK || a.V >= b.V:
		return a
	}
	return b
}
