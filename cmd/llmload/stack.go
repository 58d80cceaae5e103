package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/llmload/llmload/stack/compose"
)

const stackUsage = `usage: llmload stack COMMAND [flags]

Deploys vLLM + NVIDIA DCGM exporter + Prometheus + Grafana with docker compose
on a GPU node, with a Grafana dashboard of client, server and GPU side by side
(guide: docs/stack.md).

commands:
  init     render compose.yaml, prometheus.yml and Grafana provisioning into --dir
  up       docker compose up --detach (--wait: until every service is healthy)
  down     docker compose down (--volumes: also delete data and the model cache)
  status   containers, vLLM /health and /v1/models, Prometheus targets, Grafana health
  logs     docker compose logs [SERVICE...]
  k8s      print Kubernetes manifests for a sharded run (an Indexed Job; kubectl apply -f)

Run "llmload stack COMMAND --help" for a command's flags.
`

const defaultStackDir = "llmload-stack"

// Exit code of a stack command whose action failed (docker failed, a
// status check failed); bad flags are exitConfig.
const exitStackFailed = 1

func stackCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, stackUsage)
		return exitConfig
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "init":
		return stackInit(args[1:], stdout, stderr)
	case "up", "down", "logs":
		return stackDocker(ctx, args[0], args[1:], stdout, stderr)
	case "status":
		return stackStatus(ctx, args[1:], stdout, stderr)
	case "k8s":
		return stackK8s(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, stackUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "llmload stack: unknown command %q\n\n%s", args[0], stackUsage)
		return exitConfig
	}
}

func stackDocker(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("llmload stack "+cmd, flag.ContinueOnError)
	dir := fs.String("dir", defaultStackDir, "stack directory (from llmload stack init)")
	var (
		wait, volumes, follow *bool
		tail                  *int
		about                 string
	)
	switch cmd {
	case "up":
		wait = fs.Bool("wait", false, "return only when every service with a healthcheck is healthy (vLLM: model loaded)")
		about = "Starts the stack in the background: docker compose -f DIR/compose.yaml up --detach."
	case "down":
		volumes = fs.Bool("volumes", false, "also delete the named volumes: Prometheus data, Grafana state and the model cache")
		about = "Stops and removes the stack's containers: docker compose -f DIR/compose.yaml down."
	case "logs":
		follow = fs.Bool("follow", false, "keep printing new log lines")
		tail = fs.Int("tail", 200, "lines per service to start from (0: all)")
		about = "Prints the logs of SERVICE... (vllm, dcgm-exporter, prometheus, grafana; none: all)."
	}
	pos, code, done := parseCommandFlags(fs, args, about, stdout, stderr)
	if done {
		return code
	}
	if cmd != "logs" && len(pos) > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (the directory is --dir)\n", fs.Name(), pos[0])
		return exitConfig
	}
	c := compose.Compose{Dir: *dir, Stdout: stdout, Stderr: stderr}
	if _, err := c.ComposePath(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return exitConfig
	}
	var err error
	switch cmd {
	case "up":
		if err = c.Up(ctx, *wait); err != nil {
			// compose says only "container X is unhealthy"; name the
			// failing services and show what they last said.
			if report := c.Diagnose(ctx, 20); report != "" {
				fmt.Fprint(stderr, report)
			}
		}
	case "down":
		err = c.Down(ctx, *volumes)
	case "logs":
		t := "all"
		if *tail > 0 {
			t = strconv.Itoa(*tail)
		}
		err = c.Logs(ctx, *follow, t, pos...)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return exitStackFailed
	}
	if cmd == "up" {
		if st, err := compose.ReadState(*dir); err == nil {
			ep := compose.EndpointsFor(st, "")
			fmt.Fprintf(stdout, "llmload stack: vLLM %s  %s\n", ep.VLLM, stackURLs(ep))
			if !*wait {
				fmt.Fprintf(stdout, "vLLM loads the model for a few minutes: llmload stack status --dir %s\n", *dir)
			}
		}
	}
	return exitOK
}

func stackStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("llmload stack status", flag.ContinueOnError)
	dir := fs.String("dir", defaultStackDir, "stack directory (from llmload stack init)")
	host := fs.String("host", "", "host to probe the published ports on; empty: --bind of init, else 127.0.0.1")
	var timeout time.Duration
	durationVar(fs, &timeout, "timeout", 5*time.Second, "time limit of each HTTP probe")
	apiKey := fs.String("api-key", "", "API key for vLLM's /v1/models, as llmload run takes it (else api_key / api_key_env in --config, else $LLMLOAD_API_KEY, else $OPENAI_API_KEY)")
	config := fs.String("config", "llmload.toml", "settings file read for the API key, as llmload run reads it (missing is fine unless given)")
	pos, code, done := parseCommandFlags(fs, args, "Shows the stack's containers (docker compose ps) and probes vLLM /health and\n/v1/models, Prometheus /-/ready and its scrape targets, Grafana /api/health.\nExit status 1 when a required check fails (the llmload client target is optional).", stdout, stderr)
	if done {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "llmload stack status: unexpected argument %q (the directory is --dir)\n", pos[0])
		return exitConfig
	}
	st, err := compose.ReadState(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "llmload stack status: %v\n", err)
		return exitConfig
	}
	settings, err := loadSettings(*config, setFlags(fs)["config"])
	if err != nil {
		fmt.Fprintf(stderr, "llmload stack status: %v\n", err)
		return exitConfig
	}
	ep := compose.EndpointsFor(st, *host)
	ep.APIKey = *apiKey
	if ep.APIKey == "" {
		ep.APIKey = settings.APIKey
	}
	if ep.APIKey == "" {
		ep.APIKey = fallbackAPIKey(settings, true) // the stack is the user's own endpoint
	}
	c := compose.Compose{Dir: *dir, Stdout: stdout, Stderr: stderr}
	containers, psErr := c.PS(ctx)
	checks := compose.Probe(ctx, &http.Client{Timeout: timeout}, ep)
	if psErr == nil {
		checks = compose.WithContainers(checks, containers)
	}
	if err := compose.PrintStatus(stdout, checks); err != nil {
		return exitStackFailed
	}
	if psErr != nil {
		fmt.Fprintf(stderr, "llmload stack status: containers unknown: %v\n", psErr)
	}
	if !compose.Healthy(checks) {
		return exitStackFailed
	}
	return exitOK
}
