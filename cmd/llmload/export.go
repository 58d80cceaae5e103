package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/llmload/llmload/engine/results/rundir"
)

// exportCmd is `llmload export DIR --csv [-o OUTDIR]`.
func exportCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("llmload export DIR", flag.ContinueOnError)
	var csv bool
	var out string
	fs.BoolVar(&csv, "csv", false, "write requests.csv and windows.csv (the only format so far; required)")
	fs.StringVar(&out, "o", "", "directory to write the files in (default: DIR itself)")
	pos, code, done := parseCommandFlags(fs, args, "Convert a results directory's requests.jsonl and windows.jsonl for spreadsheets and pandas.", stdout, stderr)
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "llmload export: give one results directory (got %d); try: llmload export results/<scenario>-<time>/ --csv\n", len(pos))
		return exitConfig
	}
	if !csv {
		fmt.Fprintln(stderr, "llmload export: choose a format: --csv")
		return exitConfig
	}
	if out == "" {
		out = pos[0]
	}
	files, err := rundir.ExportCSV(pos[0], out)
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "llmload export: %v\n", err)
		return exitConfig
	}
	return exitOK
}
