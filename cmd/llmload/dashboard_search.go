package main

import (
	"fmt"
	"strconv"

	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/ui"
)

// searchStep is the dashboard's row of a capacity search; nil for other
// runs.
func searchStep(cs *runner.CapacityStatus) *ui.SearchStep {
	if cs == nil {
		return nil
	}
	lvl := func(x float64) string { return levelText(x, cs.Unit) }
	s := &ui.SearchStep{
		Step: cs.Step, Level: lvl(cs.Level), Phase: cs.Phase, Part: cs.Part, StepFor: cs.StepFor,
		Finished: cs.Finished, Good: cs.Good, Target: cs.Target,
	}
	switch {
	case cs.Low > 0 && cs.High > 0:
		s.Bracket = fmt.Sprintf("%s .. %s", strconv.FormatFloat(cs.Low, 'g', 4, 64), lvl(cs.High))
	case cs.Low > 0:
		s.Bracket = "≥ " + lvl(cs.Low)
	case cs.High > 0:
		s.Bracket = "< " + lvl(cs.High)
	}
	if cs.Last != "" && cs.Last != "none" {
		s.Last, s.LastLevel = cs.Last, lvl(cs.LastLevel)
	}
	return s
}

// levelText is a search level with its unit: "24 users", "12.5 req/s".
func levelText(x float64, unit string) string {
	if unit == "concurrent requests" {
		unit = "in flight"
	}
	return strconv.FormatFloat(x, 'g', 4, 64) + " " + unit
}
