package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
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
	case "help", "-h", "--help":
		fmt.Fprint(stdout, stackUsage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "llmload stack: unknown command %q\n\n%s", args[0], stackUsage)
		return exitConfig
	}
}

func stackInit(args []string, stdout, stderr io.Writer) int {
	o := compose.Defaults()
	o.Version = version
	fs := flag.NewFlagSet("llmload stack init", flag.ContinueOnError)
	dir := fs.String("dir", defaultStackDir, "directory to render the stack into (created)")
	fs.StringVar(&o.Model, "model", o.Model, "Hugging Face model vLLM serves")
	fs.StringVar(&o.GPUs, "gpus", o.GPUs, "GPUs for vLLM and the DCGM exporter: all, or device indexes/UUIDs like 0,1")
	fs.StringVar(&o.VLLMImage, "vllm-image", o.VLLMImage, "vLLM image (the -cu129 build of a tag runs on CUDA 12 drivers)")
	fs.StringVar(&o.DCGMImage, "dcgm-image", o.DCGMImage, "NVIDIA DCGM exporter image (e.g. from a local registry mirror)")
	fs.StringVar(&o.PrometheusImage, "prometheus-image", o.PrometheusImage, "Prometheus image")
	fs.StringVar(&o.GrafanaImage, "grafana-image", o.GrafanaImage, "Grafana image")
	fs.BoolVar(&o.GrafanaAnonymous, "grafana-anonymous", false, "let anyone who reaches Grafana view the dashboards without logging in")
	grafana := fs.Bool("grafana", true, "include the grafana service (false: vLLM, DCGM exporter and Prometheus only; status skips Grafana)")
	durationVar(fs, &o.HealthStartPeriod, "health-start-period", o.HealthStartPeriod, "vLLM healthcheck start period: time to download and load the model before failed checks count")
	vllmArgs := fs.String("vllm-args", "", `extra "vllm serve" arguments, split like a shell does, e.g. "--max-model-len 8192 --tensor-parallel-size 2"`)
	fs.StringVar(&o.HFTokenEnv, "hf-token-env", o.HFTokenEnv, "environment variable (in the shell or DIR/.env at `up`) holding the Hugging Face token")
	fs.StringVar(&o.HFCache, "hf-cache", "", "host directory to use as the Hugging Face cache (e.g. ~/.cache/huggingface); empty: a named volume")
	fs.StringVar(&o.Bind, "bind", o.Bind, "host address to publish the ports on; 0.0.0.0 opens them to the network")
	fs.IntVar(&o.Port, "port", o.Port, "published port of vLLM's OpenAI API")
	fs.IntVar(&o.DCGMPort, "dcgm-port", o.DCGMPort, "published port of the DCGM exporter (for llmload run --gpu-metrics)")
	fs.IntVar(&o.GrafanaPort, "grafana-port", o.GrafanaPort, "published port of Grafana")
	fs.IntVar(&o.PrometheusPort, "prometheus-port", o.PrometheusPort, "published port of Prometheus")
	clientMetrics := fs.String("client-metrics", strings.Join(o.ClientMetrics, ","), "comma-separated host:port of llmload run --metrics-addr as Prometheus (in a container) reaches it; empty: no client job")
	durationVar(fs, &o.ScrapeInterval, "scrape-interval", o.ScrapeInterval, "Prometheus scrape and DCGM collection interval")
	force := fs.Bool("force", false, "overwrite files of an existing stack in --dir")
	pos, code, done := parseCommandFlags(fs, args, "Renders compose.yaml, prometheus/prometheus.yml, grafana/ (provisioning and the\nllmload dashboard) and stack.json into --dir. Nothing is started: see llmload stack up.", stdout, stderr)
	if done {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "llmload stack init: unexpected argument %q (the directory is --dir)\n", pos[0])
		return exitConfig
	}
	o.NoGrafana = !*grafana
	var err error
	if o.VLLMArgs, err = compose.SplitArgs(*vllmArgs); err != nil {
		fmt.Fprintf(stderr, "llmload stack init: --vllm-args: %v\n", err)
		return exitConfig
	}
	o.ClientMetrics = nil
	for _, t := range strings.Split(*clientMetrics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.ClientMetrics = append(o.ClientMetrics, t)
		}
	}
	if o.HFCache != "" {
		if o.HFCache, err = expandHome(o.HFCache); err != nil {
			fmt.Fprintf(stderr, "llmload stack init: --hf-cache: %v\n", err)
			return exitConfig
		}
	}
	files, err := compose.Render(o, *dir)
	if err != nil {
		fmt.Fprintf(stderr, "llmload stack init: %v\n", err)
		return exitConfig
	}
	if err := compose.Write(*dir, files, *force); err != nil {
		fmt.Fprintf(stderr, "llmload stack init: %v\n", err)
		if errors.Is(err, compose.ErrExists) {
			return exitConfig
		}
		return exitStackFailed
	}
	fmt.Fprintf(stdout, "llmload stack: rendered %d files into %s\n", len(files), *dir)
	for _, f := range files {
		fmt.Fprintf(stdout, "  %s\n", filepath.Join(*dir, filepath.FromSlash(f.Path)))
	}
	if !o.NoGrafana {
		generated, err := compose.EnsureGrafanaPassword(*dir)
		if err != nil {
			fmt.Fprintf(stderr, "llmload stack init: Grafana's admin password: %v\n", err)
			return exitStackFailed
		}
		env := filepath.Join(*dir, compose.EnvFile)
		if generated {
			fmt.Fprintf(stdout, "Grafana: user admin, password generated into %s (%s, mode 0600)\n", env, compose.GrafanaPasswordVar)
		} else {
			fmt.Fprintf(stdout, "Grafana: user admin, password kept from %s\n", env)
		}
	}
	if hint := o.TensorParallelHint(); hint != "" {
		fmt.Fprintln(stdout, hint)
	}
	ep := compose.EndpointsFor(compose.State{Bind: o.Bind, Port: o.Port, DCGMPort: o.DCGMPort, GrafanaPort: o.GrafanaPort, PrometheusPort: o.PrometheusPort, NoGrafana: o.NoGrafana}, "")
	fmt.Fprintf(stdout, `next:
  export %s=hf_...   (gated models such as Llama need a Hugging Face token)
  llmload stack up --dir %s --wait
  llmload run SCENARIO.lua --url %s --gpu-metrics %s/metrics%s --metrics-addr 0.0.0.0:9464
  %s
`, o.HFTokenEnv, *dir, ep.VLLM, ep.DCGM, gpuIDsFlag(o.ServedGPUs()), stackURLs(ep))
	return exitOK
}

// expandHome turns a leading ~/ into the home directory and makes the path
// absolute: compose resolves relative bind mounts against the stack dir,
// not the directory init ran in.
func expandHome(p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		p = filepath.Join(home, strings.TrimPrefix(p, "~"))
	}
	return filepath.Abs(p)
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

// gpuIDsFlag is the --gpu-ids part of the suggested llmload run line: the
// GPUs vLLM uses, so energy per token counts only them.
func gpuIDsFlag(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return " --gpu-ids " + strings.Join(ids, ",")
}

// stackURLs names where to look: Grafana's dashboard when the stack has
// Grafana, and Prometheus.
func stackURLs(ep compose.Endpoints) string {
	if ep.Grafana == "" {
		return "Prometheus: " + ep.Prometheus
	}
	return fmt.Sprintf("Grafana: %s/d/%s   Prometheus: %s", ep.Grafana, compose.DashboardUID, ep.Prometheus)
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
