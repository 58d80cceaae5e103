// Package threshold parses and checks pass/fail criteria on a run's
// results, written like k6 thresholds: "ttft p95 < 2s", "error_rate < 1%",
// "request_goodput > 5 rps", "completed >= 100".
//
// Metric names are summary.json's keys (docs/metrics.md). A Threshold is
// checked against the final record.Summary (Check), and those marked
// AbortOnFail also against each window while the run goes (Watcher), so a
// run that is already failing can stop early. The user reference is the
// Thresholds section of docs/scripting.md.
package threshold

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/llmload/llmload/engine/shared/didyoumean"
)

// Op is a comparison.
type Op uint8

// The comparisons a threshold may use.
const (
	Lt Op = iota // <
	Le           // <=
	Gt           // >
	Ge           // >=
	Eq           // ==
	Ne           // !=
)

var opText = [...]string{Lt: "<", Le: "<=", Gt: ">", Ge: ">=", Eq: "==", Ne: "!="}

func (o Op) String() string {
	if int(o) < len(opText) {
		return opText[o]
	}
	return "?"
}

// Holds applies the comparison: observed op bound.
func (o Op) Holds(observed, bound float64) bool { return o.holds(observed, bound) }

// holds applies the comparison: observed op bound.
func (o Op) holds(observed, bound float64) bool {
	switch o {
	case Lt:
		return observed < bound
	case Le:
		return observed <= bound
	case Gt:
		return observed > bound
	case Ge:
		return observed >= bound
	case Eq:
		return observed == bound
	case Ne:
		return observed != bound
	}
	return false
}

// Threshold is one parsed criterion. It is a value, safe to copy and share.
type Threshold struct {
	Expr   string  // as written (trimmed)
	Metric string  // summary.json name: "ttft", "error_rate", "request_goodput", ...
	Stat   string  // for latency metrics: "mean", "p95", ...; "" otherwise
	Op     Op      //
	Value  float64 // the bound in the metric's base unit (see Kind.BaseUnit)
	Unit   string  // the unit as written ("s", "%", "rps"), "" when none; for display
	// AbortOnFail stops the run as soon as a finished window fails the
	// threshold (only for metrics a window has, see Live).
	AbortOnFail bool
	// DelayAbortEval skips windows that start before this offset from the
	// run's start, so a cold start does not abort the run.
	DelayAbortEval time.Duration
}

// Kind is what sort of number a metric is, which fixes its base unit and
// the units it may be written in.
type Kind uint8

// Metric kinds.
const (
	Latency  Kind = iota // milliseconds; needs a statistic
	Fraction             // 0..1; written as a fraction or a percentage
	ReqRate              // requests per second
	TokRate              // tokens per second
	Count                // a whole number
)

// BaseUnit names the unit Threshold.Value and observed values are in.
func (k Kind) BaseUnit() string {
	return [...]string{Latency: "ms", Fraction: "fraction", ReqRate: "req/s", TokRate: "tok/s", Count: "count"}[k]
}

// metricKinds lists every metric name a threshold may use.
var metricKinds = map[string]Kind{
	"ttft": Latency, "tpot": Latency, "itl": Latency, "e2el": Latency,
	"ttft_from_schedule": Latency, "e2el_from_schedule": Latency,
	"client_queue_time": Latency, "schedule_lag": Latency,
	"error_rate":         Fraction,
	"request_throughput": ReqRate, "request_goodput": ReqRate,
	"output_throughput": TokRate, "total_token_throughput": TokRate, "output_goodput": TokRate,
	"completed": Count, "failed": Count, "dropped": Count, "good_requests": Count,
}

// aliases are other names users reach for.
var aliases = map[string]string{"goodput": "request_goodput", "e2e": "e2el"}

// stats are the statistics of latency metrics; median is p50.
var stats = []string{"mean", "median", "p50", "p90", "p95", "p99", "min", "max", "std"}

// Metrics returns the metric names a threshold may use, sorted.
func Metrics() []string {
	out := make([]string, 0, len(metricKinds))
	for k := range metricKinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Kind is the kind of t's metric.
func (t Threshold) Kind() Kind { return metricKinds[t.Metric] }

// String is the threshold in canonical form, with the bound in the base
// unit; Parse(t.String()) gives back t (without AbortOnFail and
// DelayAbortEval, which are not part of the expression).
func (t Threshold) String() string {
	var b strings.Builder
	b.WriteString(t.Metric)
	if t.Stat != "" {
		b.WriteByte(' ')
		b.WriteString(t.Stat)
	}
	b.WriteByte(' ')
	b.WriteString(t.Op.String())
	b.WriteByte(' ')
	b.WriteString(strconv.FormatFloat(t.Value, 'g', -1, 64))
	if t.Kind() == Latency {
		b.WriteString("ms")
	}
	return b.String()
}

// ParseError is an expression that does not parse: Pos is the 1-based
// column (byte) where the problem is.
type ParseError struct {
	Expr string
	Pos  int
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("threshold %q: %s (column %d)", e.Expr, e.Msg, e.Pos)
}

// Parse reads one expression: METRIC [STAT] OP NUMBER [UNIT].
//
//	ttft p95 < 2s          latency metrics take a statistic and ms, s, us or m (bare: ms)
//	error_rate < 1%        a fraction: 0.01 or 1%
//	request_goodput > 5 rps   rates: rps, req/s or /s; tok/s for token rates (bare: per second)
//	completed >= 100       counts: a whole number
//
// Names are case-insensitive; spaces around the operator are optional.
func Parse(expr string) (Threshold, error) {
	p := parser{src: strings.TrimSpace(expr)}
	t, err := p.parse()
	if err != nil {
		return Threshold{}, err
	}
	t.Expr = p.src
	return t, nil
}

// MustParse is Parse for expressions known to be valid; it panics otherwise.
func MustParse(expr string) Threshold {
	t, err := Parse(expr)
	if err != nil {
		panic(err)
	}
	return t
}

type parser struct {
	src string
	i   int
}

func (p *parser) fail(at int, format string, args ...any) error {
	return &ParseError{Expr: p.src, Pos: at + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\t') {
		p.i++
	}
}

func isIdent(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// word reads a name; it returns "" when none starts here.
func (p *parser) word() (string, int) {
	p.skipSpace()
	start := p.i
	for p.i < len(p.src) && isIdent(p.src[p.i]) {
		p.i++
	}
	return strings.ToLower(p.src[start:p.i]), start
}

func (p *parser) parse() (Threshold, error) {
	var t Threshold
	if p.src == "" {
		return t, p.fail(0, "is empty; write e.g. \"ttft p95 < 2s\"")
	}
	name, at := p.word()
	if name == "" {
		return t, p.fail(at, "starts with %q; it must start with a metric name (%s)", p.src[at:at+1], strings.Join(Metrics(), ", "))
	}
	if a, ok := aliases[name]; ok {
		name = a
	}
	kind, ok := metricKinds[name]
	if !ok {
		return t, p.fail(at, "unknown metric %q%s; metrics: %s", name, didyoumean.Suggest(name, Metrics()), strings.Join(Metrics(), ", "))
	}
	t.Metric = name

	stat, at := p.word()
	switch {
	case kind == Latency && stat == "":
		return t, p.fail(at, "%s needs a statistic before the comparison (%s), e.g. \"%s p95 < 2s\"", name, strings.Join(stats, ", "), name)
	case kind != Latency && stat != "":
		return t, p.fail(at, "%s takes no statistic, got %q; write e.g. %q", name, stat, example(name, kind))
	case stat != "" && !slices.Contains(stats, stat):
		return t, p.fail(at, "unknown statistic %q for %s%s; statistics: %s", stat, name, didyoumean.Suggest(stat, stats), strings.Join(stats, ", "))
	}
	t.Stat = stat

	p.skipSpace()
	at = p.i
	op, n := readOp(p.src[p.i:])
	if n == 0 {
		if p.i == len(p.src) {
			return t, p.fail(at, "has no comparison; add one of < <= > >= == != and a number")
		}
		return t, p.fail(at, "expected a comparison (< <= > >= == !=), got %q", p.src[at:])
	}
	p.i += n
	t.Op = op

	p.skipSpace()
	at = p.i
	num := p.number()
	if num == "" {
		if p.i == len(p.src) {
			return t, p.fail(at, "has no number after %s", op)
		}
		return t, p.fail(at, "expected a number after %s, got %q", op, p.src[at:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(v, 0) {
		return t, p.fail(at, "%q is not a usable number", num)
	}

	p.skipSpace()
	uat := p.i
	unit := p.src[p.i:]
	if i := strings.IndexAny(unit, " \t"); i >= 0 {
		rest := strings.TrimSpace(unit[i:])
		return t, p.fail(len(p.src)-len(rest), "unexpected %q after the unit %q", rest, unit[:i])
	}
	p.i = len(p.src)
	t.Unit = unit
	t.Value, err = convert(kind, name, v, unit)
	var ve valueError
	if errors.As(err, &ve) {
		return t, p.fail(at, "%v", err)
	}
	if err != nil {
		return t, p.fail(uat, "%v", err)
	}
	if math.IsInf(t.Value, 0) {
		return t, p.fail(at, "%s%s is too large", num, unit)
	}
	return t, nil
}

func readOp(s string) (Op, int) {
	for _, c := range [...]struct {
		text string
		op   Op
	}{{"<=", Le}, {">=", Ge}, {"==", Eq}, {"!=", Ne}, {"<", Lt}, {">", Gt}} {
		if strings.HasPrefix(s, c.text) {
			return c.op, len(c.text)
		}
	}
	return 0, 0
}

// number reads an unsigned decimal number: digits, an optional fraction,
// an optional exponent.
func (p *parser) number() string {
	s, start := p.src, p.i
	digits := func() int {
		n := 0
		for p.i < len(s) && s[p.i] >= '0' && s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	n := digits()
	if p.i < len(s) && s[p.i] == '.' {
		p.i++
		n += digits()
	}
	if n == 0 {
		p.i = start
		return ""
	}
	// An exponent only when digits follow: "2e" is not one, and "5s" has none.
	if p.i < len(s) && (s[p.i] == 'e' || s[p.i] == 'E') {
		j := p.i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			p.i = j
			digits()
		}
	}
	return s[start:p.i]
}

// convert turns v written in unit into the kind's base unit.
func convert(kind Kind, name string, v float64, unit string) (float64, error) {
	u := strings.ToLower(unit)
	switch kind {
	case Latency:
		switch u {
		case "", "ms":
			return v, nil
		case "us", "µs":
			return v / 1e3, nil
		case "s":
			return v * 1e3, nil
		case "m", "min":
			return v * 60e3, nil
		}
		return 0, fmt.Errorf("unit %q does not fit %s, a latency: use ms, s, us or m (a bare number is ms)", unit, name)
	case Fraction:
		switch u {
		case "%":
			if v > 100 {
				return 0, valueError{fmt.Errorf("%s is at most 100%%, got %g%%", name, v)}
			}
			return v / 100, nil
		case "":
			if v > 1 {
				return 0, valueError{fmt.Errorf("%s is a fraction from 0 to 1; write %g%% for a percentage", name, v)}
			}
			return v, nil
		}
		return 0, fmt.Errorf("unit %q does not fit %s: write a fraction (0.01) or a percentage (1%%)", unit, name)
	case ReqRate:
		switch u {
		case "", "rps", "req/s", "/s":
			return v, nil
		}
		return 0, fmt.Errorf("unit %q does not fit %s, requests per second: use rps, req/s or none", unit, name)
	case TokRate:
		switch u {
		case "", "tok/s", "tps", "/s":
			return v, nil
		}
		return 0, fmt.Errorf("unit %q does not fit %s, tokens per second: use tok/s or none", unit, name)
	default: // Count
		if u != "" {
			return 0, fmt.Errorf("%s is a count and takes no unit, got %q", name, unit)
		}
		if v != math.Trunc(v) {
			return 0, valueError{fmt.Errorf("%s is a count; %g is not a whole number", name, v)}
		}
		return v, nil
	}
}

// valueError is a number that does not fit its metric, as opposed to a
// unit that does not: the error points at the number.
type valueError struct{ error }

func example(name string, k Kind) string {
	switch k {
	case Fraction:
		return name + " < 1%"
	case ReqRate:
		return name + " > 5 rps"
	case TokRate:
		return name + " > 1000 tok/s"
	default:
		return name + " >= 100"
	}
}
