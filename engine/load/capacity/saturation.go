package capacity

import (
	"fmt"
	"time"
)

// SaturationRule ends a step early, as failed, once the server is past its
// knee, so that no step runs on after the server has collapsed. It looks
// at the step once per tick after the step's warm-up, over the last
// Windows ticks, and fires on either signal:
//
//   - backlog (open loop only): the requests outstanding (sent, not yet
//     finished) grow at least Growth x the offered rate per second (least
//     squares slope over the ticks) and exceed twice what Little's law
//     allows a stable server (offered rate x mean latency so far) plus
//     Slack, and the median TTFT is rising (higher in the last tick than
//     in the first) and above half the TTFT objective (without one: twice
//     the first tick's). A stable server's backlog hovers around rate x
//     latency; a saturated one grows by (offered - served) every second,
//     and its queue shows in TTFT. The TTFT condition is there because a
//     long-tailed workload (Azure conversations: a few answers of
//     minutes) fills its backlog for longer than any warm-up while the
//     early mean latency is that of the short answers; against the
//     simulator that alone stopped a stable step.
//   - latency trend (both loops; needs a TTFT objective): the median TTFT
//     of the requests that got their first token in each tick is above the
//     objective in every one of the ticks and higher in the last than in
//     the first. At that point the step cannot reach any goodput target
//     above one half.
//
// The zero value is not useful; DefaultSaturation is the rule a search uses
// unless told otherwise.
type SaturationRule struct {
	Windows int     // ticks looked at (>= 3)
	Growth  float64 // backlog slope, as a fraction of the offered rate
	Slack   float64 // requests of backlog always allowed
	Off     bool    // never stop a step early
}

// DefaultSaturation: 5 ticks, a backlog growing at 10% of the offered
// rate, 8 requests of slack.
var DefaultSaturation = SaturationRule{Windows: 5, Growth: 0.1, Slack: 8}

// saturation applies a rule to one step's ticks. Not safe for concurrent
// use: the executor's goroutine owns it.
type saturation struct {
	rule     SaturationRule
	openLoop bool
	rate     float64       // offered rate (open loop)
	tick     time.Duration // between samples
	ttftSLO  time.Duration
	ticks    []tick
}

func newSaturation(rule SaturationRule, openLoop bool, rate float64, every, ttftSLO time.Duration) *saturation {
	return &saturation{rule: rule, openLoop: openLoop, rate: rate, tick: every, ttftSLO: ttftSLO}
}

// add records one tick's sample and reports whether the step is saturated,
// and why.
func (s *saturation) add(t tick) (bool, string) {
	if s.rule.Off || s.rule.Windows < 3 {
		return false, ""
	}
	s.ticks = append(s.ticks, t)
	k := s.rule.Windows
	if len(s.ticks) < k {
		return false, ""
	}
	last := s.ticks[len(s.ticks)-k:]
	if s.openLoop {
		slope := backlogSlope(last, s.tick)
		now := last[k-1]
		stable := 2*s.rate*now.meanE2E.Seconds() + s.rule.Slack
		first := last[0].ttftP50
		ttftUp := now.ttftP50 > first && first > 0
		if s.ttftSLO > 0 {
			ttftUp = ttftUp && now.ttftP50 > s.ttftSLO/2
		} else {
			ttftUp = ttftUp && now.ttftP50 > 2*first
		}
		if slope >= s.rule.Growth*s.rate && float64(now.outstanding) > stable && ttftUp {
			return true, fmt.Sprintf("backlog growing: %d requests outstanding, +%.1f/s over %d ticks (offered %.3g/s; a stable server holds about %.0f); median TTFT %v -> %v",
				now.outstanding, slope, k, s.rate, stable/2, first.Round(time.Millisecond), now.ttftP50.Round(time.Millisecond))
		}
	}
	if s.ttftSLO > 0 {
		above := true
		for _, x := range last {
			if x.ttftP50 <= s.ttftSLO {
				above = false
				break
			}
		}
		if above && last[k-1].ttftP50 > last[0].ttftP50 {
			return true, fmt.Sprintf("TTFT rising above its objective: median %v -> %v over %d ticks (objective %v)",
				last[0].ttftP50.Round(time.Millisecond), last[k-1].ttftP50.Round(time.Millisecond), k, s.ttftSLO)
		}
	}
	return false, ""
}

// backlogSlope is the least-squares slope of the outstanding counts, in
// requests per second.
func backlogSlope(ts []tick, every time.Duration) float64 {
	n := float64(len(ts))
	var sx, sy, sxx, sxy float64
	for i, t := range ts {
		x, y := float64(i)*every.Seconds(), float64(t.outstanding)
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}
