package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/llmload/llmload/engine/guard/resultsdir"
	"github.com/llmload/llmload/engine/results/merge"
)

// mergeCmd is `llmload merge DIR... --out DIR [--allow-partial] [--force]
// [--overwrite]`: the shards of one sharded run merged into one results
// directory. Its exit code is the one `llmload run` would have given the
// merged run: 1 when a threshold fails, 3 when every request failed, 2 on
// bad input.
func mergeCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("llmload merge DIR...", flag.ContinueOnError)
	var opt merge.Options
	var overwrite bool
	fs.StringVar(&opt.Out, "out", "", "the merged results directory (required; as run --out: must be empty unless --overwrite)")
	fs.BoolVar(&opt.AllowPartial, "allow-partial", false, "merge the shards given when some are missing; the result is marked meta.shard.partial")
	fs.BoolVar(&opt.Force, "force", false, "merge shards whose requests.jsonl lost lines (requests_log_dropped); their requests are left out")
	fs.BoolVar(&overwrite, "overwrite", false, "replace llmload's result files in a non-empty --out")
	dirs, code, done := parseCommandFlags(fs, args, "Merge the results directories of the shards of one `llmload run --shard i/n` into one run's results: exact counts, percentiles recomputed from every request, thresholds checked on the merged data (docs/cli.md).", stdout, stderr)
	if done {
		return code
	}
	switch {
	case len(dirs) == 0:
		fmt.Fprintln(stderr, "llmload merge: give the shards' results directories, e.g. llmload merge results/s0 results/s1 --out results/merged")
		return exitConfig
	case opt.Out == "":
		fmt.Fprintln(stderr, "llmload merge: --out is required: the directory the merged results go to")
		return exitConfig
	}
	for _, d := range dirs {
		if filepath.Clean(d) == filepath.Clean(opt.Out) {
			fmt.Fprintf(stderr, "llmload merge: --out %s is one of the shards; choose another directory\n", opt.Out)
			return exitConfig
		}
	}
	if err := resultsdir.Prepare(opt.Out, overwrite); err != nil {
		fmt.Fprintf(stderr, "llmload merge: %v\n", err)
		return exitConfig
	}
	opt.Dirs = dirs
	res, err := merge.Merge(opt)
	if err != nil {
		fmt.Fprintf(stderr, "llmload merge: %v\n", err)
		return exitConfig
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "llmload merge: warning: %s\n", w)
	}
	s := res.Summary
	s.WriteTable(stdout)
	res.Checks.WriteTable(stdout)
	fmt.Fprintf(stdout, "results: %s\n", opt.Out)
	switch {
	case !res.Checks.Passed():
		fmt.Fprintf(stderr, "llmload merge: %d of %d thresholds failed on the merged run\n", res.Checks.Failed(), len(res.Checks))
		return exitThresholds
	case s.Completed == 0 && s.Failed > 0:
		fmt.Fprintf(stderr, "llmload merge: every request of the merged run failed; see errors in %s\n", opt.Out)
		return exitAllFailed
	case s.Completed == 0:
		fmt.Fprintln(stderr, "llmload merge: the shards hold no request")
		return exitConfig
	}
	return exitOK
}
