// Package capacity finds the highest load a server holds within its SLOs:
// a search over request rate (open loop), concurrency or session users
// (closed loop, users.go) that brackets the knee by exponential growth,
// then bisects it to a stated precision. Each step of the search is a short run at one level, judged
// on the SLO goodput of the requests that arrived in it; a step past the
// knee is stopped early (saturation.go), and a step in which llmload itself
// lagged is untrusted rather than held against the server.
//
// Search is the pure decision logic; Executor (executor.go) is the
// runner.Executor that runs the steps.
package capacity

import "math"

// Stop reasons of a search (Answer.Reason).
const (
	ReasonConverged = "converged"      // the bracket is narrower than the precision
	ReasonMaxPassed = "max_passed"     // the highest allowed level passed: the capacity is at least Max
	ReasonNonePass  = "none_passed"    // even the lowest level tried failed
	ReasonUntrusted = "untrusted"      // llmload could not drive a level (it lagged twice): no verdict there
	ReasonStopped   = "stopped"        // the run was stopped (Ctrl-C, duration, an abort) before the search ended
	ReasonSource    = "source_ended"   // the source ran out of rows, or the scenario's limit was reached
	ReasonMaxSteps  = "max_steps"      // the search used its step budget
	ReasonFailed    = "executor_error" // a request could not be built
)

// Verdict is how a step went.
type Verdict uint8

const (
	// Pass: the step's goodput met the target.
	Pass Verdict = iota + 1
	// Fail: it did not (or the server saturated).
	Fail
	// Untrusted: llmload lagged, so the step says nothing about the server.
	Untrusted
)

func (v Verdict) String() string {
	switch v {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case Untrusted:
		return "untrusted"
	}
	return "none"
}

// MarshalText writes the verdict's name in summary.json.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// SearchConfig bounds a search.
type SearchConfig struct {
	Start, Max float64 // first level, highest level tried
	// Min is the lowest level tried when the start fails (default Start/64).
	Min float64
	// Precision is the relative width the bracket must shrink to: the
	// search stops when hi/lo - 1 <= Precision (default 0.1).
	Precision float64
	// Growth multiplies the level while every step passes (default 2).
	Growth float64
	// Integer levels (concurrency): levels are rounded, and a bracket of
	// width 1 is converged whatever the precision.
	Integer bool
	// MaxSteps bounds the search (default 30).
	MaxSteps int
}

func (c *SearchConfig) defaults() {
	if c.Precision <= 0 {
		c.Precision = 0.1
	}
	if c.Growth <= 1 {
		c.Growth = 2
	}
	if c.Min <= 0 {
		c.Min = c.Start / 64
		if c.Integer {
			c.Min = 1
		}
	}
	if c.MaxSteps <= 0 {
		c.MaxSteps = 30
	}
}

// Search decides the level of each step from the verdicts so far: it
// grows the level by Growth from Start until a step fails (or shrinks it
// until one passes), then bisects the bracket geometrically until it is
// narrower than Precision. An untrusted step is retried once at the same
// level; a second untrusted verdict there ends the search.
//
// Search is not safe for concurrent use; the executor's goroutine owns it.
type Search struct {
	cfg    SearchConfig
	lo, hi float64 // highest passing level, lowest failing level; 0 = none yet
	next   float64
	steps  int
	retry  bool // the last step at next was untrusted once
	done   string
}

// NewSearch returns a search over [cfg.Min, cfg.Max] starting at cfg.Start.
func NewSearch(cfg SearchConfig) *Search {
	cfg.defaults()
	s := &Search{cfg: cfg}
	s.next = s.round(min(cfg.Start, cfg.Max))
	return s
}

func (s *Search) round(x float64) float64 {
	if s.cfg.Integer {
		return max(math.Round(x), 1)
	}
	return x
}

// Next is the level of the next step; ok is false when the search is over
// (Reason says why).
func (s *Search) Next() (level float64, ok bool) {
	if s.done != "" {
		return 0, false
	}
	if s.steps >= s.cfg.MaxSteps {
		s.done = ReasonMaxSteps
		return 0, false
	}
	return s.next, true
}

// Observe records the verdict of the step at level (the last Next).
func (s *Search) Observe(level float64, v Verdict) {
	s.steps++
	switch v {
	case Untrusted:
		if s.retry {
			s.done = ReasonUntrusted
			return
		}
		s.retry = true
		return // the same level again
	case Pass:
		s.lo = max(s.lo, level)
	case Fail:
		if s.hi == 0 || level < s.hi {
			s.hi = level
		}
	}
	s.retry = false
	s.plan()
}

// plan picks the next level or ends the search.
func (s *Search) plan() {
	c := &s.cfg
	switch {
	case s.hi == 0: // everything passed so far: grow
		if s.lo >= c.Max {
			s.done = ReasonMaxPassed
			return
		}
		s.next = s.round(min(s.lo*c.Growth, c.Max))
		if s.next <= s.lo { // rounding could not grow it (integer levels)
			s.next = s.lo + 1
		}
	case s.lo == 0: // everything failed so far: shrink
		if s.hi <= c.Min {
			s.done = ReasonNonePass
			return
		}
		s.next = s.round(max(s.hi/c.Growth, c.Min))
		if s.next >= s.hi {
			s.done = ReasonNonePass
			return
		}
	default: // bracketed: bisect
		if s.converged() {
			s.done = ReasonConverged
			return
		}
		s.next = s.round(math.Sqrt(s.lo * s.hi))
		if s.next <= s.lo || s.next >= s.hi {
			s.done = ReasonConverged
		}
	}
}

func (s *Search) converged() bool {
	if s.cfg.Integer && s.hi-s.lo <= 1 {
		return true
	}
	return s.hi/s.lo-1 <= s.cfg.Precision
}

// Bracket is the highest passing and the lowest failing level so far (0
// when there is none).
func (s *Search) Bracket() (lo, hi float64) { return s.lo, s.hi }

// Reason says why the search ended; "" while it goes on.
func (s *Search) Reason() string { return s.done }

// End ends the search from outside (the run stopped, the source ended).
func (s *Search) End(reason string) {
	if s.done == "" {
		s.done = reason
	}
}

// Steps is how many verdicts the search has seen.
func (s *Search) Steps() int { return s.steps }

// StepsFor is how many steps a search needs, at most, to find a knee k
// from start with the given growth and precision when every verdict is
// right (and none is untrusted). Bracketing up takes
// floor(log_growth(k/start)) + 2 steps (the passes, then one failure);
// bracketing down ceil(log_growth(start/k)) + 1 (the failures, then one
// pass); the bisection ceil(log2(ln(growth)/ln(1+precision))). It is
// logarithmic in the range, which is the point of the search.
func StepsFor(start, knee, growth, precision float64) int {
	var bracket int
	if knee >= start {
		bracket = int(math.Floor(math.Log(knee/start)/math.Log(growth)+1e-9)) + 2
	} else {
		bracket = int(math.Ceil(math.Log(start/knee)/math.Log(growth)-1e-9)) + 1
	}
	bisect := int(math.Ceil(math.Log2(math.Log(growth) / math.Log1p(precision))))
	return bracket + max(bisect, 0)
}

// interval is the answer's error bar: [the highest step at or below lo
// that passed clearly, the lowest step at or above hi that failed
// clearly]. A verdict is clear when its goodput's 95% Wilson interval
// lies wholly on its side of the target; a marginal verdict at lo or hi
// widens the interval to the next clear one (or to 0 / +Inf when there is
// none), so noise in a short step shows as a wider interval rather than a
// confident wrong answer.
func interval(steps []StepResult, lo, hi float64) (low, high float64) {
	low, high = 0, math.Inf(1)
	for _, st := range steps {
		switch {
		case !st.Clear:
		case st.Verdict == Pass && st.Level <= lo:
			low = max(low, st.Level)
		case st.Verdict == Fail && hi > 0 && st.Level >= hi:
			high = min(high, st.Level)
		}
	}
	return low, high
}
