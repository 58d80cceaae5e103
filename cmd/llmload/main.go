// Command llmload is a load generator and observability kit for LLM
// inference servers that speak the OpenAI API. Each subcommand lives in its
// own file; they stay thin and call into engine/, scripting/ and stack/.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `llmload: load generator and observability kit for OpenAI-compatible LLM servers

usage:
  llmload run SCENARIO.lua [flags]   replay a trace or traffic shape (no --url: built-in simulator)
  llmload sim [flags]                serve the vLLM-compatible simulator
  llmload calibrate [flags]          measure llmload's own timing error on this machine
  llmload stack COMMAND [flags]      deploy vLLM + DCGM + Prometheus + Grafana (init, up, status, ...)
  llmload jitter [flags]             measure this machine's wake-up latency (stalls)
  llmload report DIR... [-o FILE]    HTML report of one run, or several overlaid
  llmload compare BASE NEW [flags]   A/B verdicts with confidence intervals; --fail-on gates CI
  llmload export DIR --csv           requests.csv and windows.csv for spreadsheets and pandas
  llmload merge DIR... --out DIR     merge the shards of a --shard run into one run's results
  llmload version                    print the version

Run "llmload COMMAND --help" for a command's flags.
`

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitConfig
	}
	switch args[0] {
	case "run":
		return runCmd(args[1:], stdout, stderr)
	case "sim":
		return simCmd(args[1:], stdout, stderr)
	case "calibrate":
		return calibrateCmd(args[1:], stdout, stderr)
	case "stack":
		return stackCmd(args[1:], stdout, stderr)
	case "jitter":
		return jitterCmd(args[1:], stdout, stderr)
	case "report":
		return reportCmd(args[1:], stdout, stderr)
	case "compare":
		return compareCmd(args[1:], stdout, stderr)
	case "export":
		return exportCmd(args[1:], stdout, stderr)
	case "merge":
		return mergeCmd(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "llmload %s\n", version)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "llmload: unknown command %q\n\n%s", args[0], usage)
		return exitConfig
	}
}
