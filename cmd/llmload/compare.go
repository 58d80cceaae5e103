package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/llmload/llmload/engine/results/compare"
	"github.com/llmload/llmload/engine/results/rundir"
)

// compareCmd is `llmload compare BASE NEW [--fail-on RULE]... [--force]`.
// Exit 1 when a rule fails (a regression), 2 on bad input.
func compareCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("llmload compare BASE NEW", flag.ContinueOnError)
	var rules []string
	var force bool
	var seed uint64
	var minEffect float64
	fs.Func("fail-on", `exit 1 when a change is significant and holds this rule, e.g. "ttft p99 > +10%" or "output_throughput < -5%" (repeatable)`, func(s string) error {
		rules = append(rules, s)
		return nil
	})
	fs.BoolVar(&force, "force", false, "compare runs of different scenarios or models")
	fs.Uint64Var(&seed, "seed", 1, "seed of the bootstrap resampling: the same seed, the same intervals")
	fs.Float64Var(&minEffect, "min-effect", compare.DefaultMinEffect*100, "smallest relative change, in percent, called better or worse (smaller ones are no significant change); 0 = any")
	dirs, code, done := parseCommandFlags(fs, args, "Compare two runs: each headline metric's change, its 95% confidence interval and a verdict (docs/report.md).", stdout, stderr)
	if done {
		return code
	}
	if len(dirs) != 2 {
		fmt.Fprintf(stderr, "llmload compare: give two results directories, BASE then NEW (got %d)\n", len(dirs))
		return exitConfig
	}
	parsed := make([]compare.Rule, 0, len(rules))
	for _, s := range rules {
		r, err := compare.ParseRule(s)
		if err != nil {
			fmt.Fprintf(stderr, "llmload compare: %v\n", err)
			return exitConfig
		}
		parsed = append(parsed, r)
	}
	var runs [2]*rundir.Run
	for i, d := range dirs {
		r, err := rundir.Load(d)
		if err != nil {
			fmt.Fprintf(stderr, "llmload compare: %v\n", err)
			return exitConfig
		}
		runs[i] = r
	}
	rows, err := compare.Compare(runs[0], runs[1], compare.Options{Seed: seed, Force: force, MinEffect: minEffectOption(minEffect)})
	if err != nil {
		fmt.Fprintf(stderr, "llmload compare: %v\n", err)
		return exitConfig
	}
	fmt.Fprintf(stdout, "base %s\nnew  %s\n\n", dirs[0], dirs[1])
	compare.WriteTable(stdout, rows)
	code = exitOK
	for _, r := range parsed {
		o := r.Check(rows)
		status := "pass"
		if o.Failed {
			status, code = "FAIL", exitThresholds
		}
		fmt.Fprintf(stdout, "--fail-on %q: %s: %s\n", r.Expr, status, o.Why)
	}
	if code != exitOK {
		fmt.Fprintln(stderr, "llmload compare: a --fail-on rule failed: regression")
	}
	return code
}

// minEffectOption turns --min-effect (percent, 0 = none) into
// compare.Options.MinEffect (a fraction, negative = none).
func minEffectOption(pct float64) float64 {
	if pct <= 0 {
		return -1
	}
	return pct / 100
}
