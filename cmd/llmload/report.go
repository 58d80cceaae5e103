package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/llmload/llmload/engine/launch"
	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/engine/results/threshold"
)

// reportRun prints each scenario's tables and problems and returns the
// run's exit code: the worst of its scenarios'.
// interrupted (a Ctrl-C) explains a run that sent nothing.
func reportRun(out *launch.Outcome, interrupted bool, stdout, stderr io.Writer) int {
	code := exitOK
	for _, so := range out.Scenarios {
		sc := so.Scenario
		if so.Summary != nil {
			fmt.Fprintln(stdout)
			if len(out.Scenarios) > 1 {
				fmt.Fprintf(stdout, "scenario %s\n", sc.Name)
			}
			so.Summary.WriteTable(stdout)
			so.Sessions.WriteTable(stdout)
			so.Checks.WriteTable(stdout)
			so.Observed.WriteTable(stdout)
			so.Capacity.WriteTable(stdout)
		}
		reportSkipped(stdout, sc.Source)
		var abort *threshold.AbortError
		switch {
		case errors.As(so.LiveErr, &abort):
			code = max(code, exitThresholds)
		case so.LiveErr != nil:
			fmt.Fprintf(stderr, "llmload run: %v\n", so.LiveErr)
			code = max(code, exitConfig)
		case !so.Checks.Passed():
			fmt.Fprintf(stderr, "llmload run: scenario %s: %d of %d thresholds failed\n", sc.Name, so.Checks.Failed(), len(so.Checks))
			code = max(code, exitThresholds)
		}
		switch {
		case so.Summary != nil && so.Summary.Completed == 0 && so.Summary.Failed == 0 && !interrupted:
			fmt.Fprintf(stderr, "llmload run: scenario %s: no request was sent: its source gave no rows (a trace with only a header, or a :limit, :window, :filter, --limit or --duration that keeps none); check the trace and those settings\n", sc.Name)
			code = max(code, exitConfig)
		case so.Err != nil:
			fmt.Fprintf(stderr, "llmload run: %v\n", so.Err)
			fmt.Fprintf(stderr, "results measured so far are in %s\n", sc.Out)
			code = max(code, exitConfig)
		case so.Summary != nil && so.Summary.Completed == 0 && so.Summary.Failed > 0 && !interrupted:
			fmt.Fprintf(stderr, "llmload run: scenario %s: every request failed; see errors in %s\n", sc.Name, sc.Out)
			code = max(code, exitAllFailed)
		}
		fmt.Fprintf(stdout, "results: %s\n", sc.Out)
	}
	return code
}

// reportSkipped says how many trace rows the source skipped, and why.
func reportSkipped(w io.Writer, src trace.Source) {
	sk := trace.SkipsOf(src)
	if sk.Failed > 0 {
		fmt.Fprintf(w, "skipped %d trace rows the trace marks as failed (zero output tokens)\n", sk.Failed)
	}
	if sk.Malformed == 0 {
		return
	}
	fmt.Fprintf(w, "skipped %d malformed trace rows (--skip-bad-rows); first ones:\n", sk.Malformed)
	for _, r := range sk.Reasons {
		fmt.Fprintf(w, "  %s\n", r)
	}
}
