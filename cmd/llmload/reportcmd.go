package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/llmload/llmload/engine/launch"
	"github.com/llmload/llmload/engine/results/report"
)

// reportCmd is `llmload report DIR... [-o FILE]`.
func reportCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("llmload report DIR...", flag.ContinueOnError)
	var out string
	fs.StringVar(&out, "o", "", "the HTML file to write (default: DIR/report.html for one run, report.html for several)")
	dirs, code, done := parseCommandFlags(fs, args, "Write one self-contained HTML report (tables and charts) of one results directory, or of several overlaid.", stdout, stderr)
	if done {
		return code
	}
	if len(dirs) == 0 {
		fmt.Fprintln(stderr, "llmload report: no results directory; try: llmload report results/<scenario>-<time>/")
		return exitConfig
	}
	if out == "" {
		out = "report.html"
		if len(dirs) == 1 {
			out = filepath.Join(dirs[0], "report.html")
		}
	}
	if err := report.WriteFile(out, dirs, version); err != nil {
		fmt.Fprintf(stderr, "llmload report: %v\n", err)
		return exitConfig
	}
	fmt.Fprintf(stdout, "report: %s\n", out)
	return exitOK
}

// writeRunReports is `llmload run --report`: report.html in each
// scenario's results directory.
func writeRunReports(out *launch.Outcome, stdout, stderr io.Writer) int {
	code := exitOK
	for _, so := range out.Scenarios {
		if so.Summary == nil {
			continue
		}
		dir := so.Scenario.Out
		path := filepath.Join(dir, "report.html")
		if err := report.WriteFile(path, []string{dir}, version); err != nil {
			fmt.Fprintf(stderr, "llmload run: --report: %v\n", err)
			code = exitConfig
			continue
		}
		fmt.Fprintf(stdout, "report: %s\n", path)
	}
	return code
}

// metadataFlag is --metadata key=value, repeatable (the value may hold
// commas and '='), as vllm bench serve's --metadata.
type metadataFlag map[string]string

func (m *metadataFlag) String() string {
	if m == nil || *m == nil {
		return ""
	}
	var parts []string
	for k, v := range *m {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}

func (m *metadataFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value; write e.g. --metadata gpu=H100", s)
	}
	if *m == nil {
		*m = map[string]string{}
	}
	if _, dup := (*m)[k]; dup {
		return fmt.Errorf("metadata key %q given twice", k)
	}
	(*m)[k] = v
	return nil
}
