package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/llmload/llmload/stack/compose"
)

func stackInit(args []string, stdout, stderr io.Writer) int {
	o := compose.Defaults()
	o.Version = version
	fs := flag.NewFlagSet("llmload stack init", flag.ContinueOnError)
	dir := fs.String("dir", defaultStackDir, "directory to render the stack into (created)")
	fs.StringVar(&o.Model, "model", o.Model, "Hugging Face model vLLM serves")
	fs.StringVar(&o.GPUs, "gpus", o.GPUs, "GPUs for vLLM and the DCGM exporter: all, or device indexes/UUIDs like 0,1")
	gpuLayoutFlags(fs, &o)
	alertFlags(fs, &o.Alerts)
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
	return reportInit(o, *dir, files, stdout, stderr)
}

// reportInit says what init rendered, makes Grafana's password, and
// prints the next steps.
func reportInit(o compose.Options, dir string, files []compose.File, stdout, stderr io.Writer) int {
	fmt.Fprintf(stdout, "llmload stack: rendered %d files into %s\n", len(files), dir)
	for _, f := range files {
		fmt.Fprintf(stdout, "  %s\n", filepath.Join(dir, filepath.FromSlash(f.Path)))
	}
	if !o.NoGrafana {
		generated, err := compose.EnsureGrafanaPassword(dir)
		if err != nil {
			fmt.Fprintf(stderr, "llmload stack init: Grafana's admin password: %v\n", err)
			return exitStackFailed
		}
		env := filepath.Join(dir, compose.EnvFile)
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
`, o.HFTokenEnv, dir, ep.VLLM, ep.DCGM, gpuIDsFlag(o.ServedGPUs()), stackURLs(ep))
	return exitOK
}

// gpuLayoutFlags are how vLLM spreads over the node's GPUs.
func gpuLayoutFlags(fs *flag.FlagSet, o *compose.Options) {
	fs.IntVar(&o.TensorParallel, "tensor-parallel-size", 0, "GPUs each vLLM shards the model over (vLLM's --tensor-parallel-size); 0: vLLM's default, 1")
	fs.IntVar(&o.Replicas, "replicas", o.Replicas, "vLLM containers, each on its own tensor-parallel-size GPUs, behind an nginx router on --port")
	fs.StringVar(&o.RouterImage, "router-image", o.RouterImage, "nginx image of the router in front of the replicas (--replicas above 1)")
}

// alertFlags are the objectives of the rendered Prometheus alerting rules.
func alertFlags(fs *flag.FlagSet, a *compose.Objectives) {
	durationVar(fs, &a.TTFTp99, "alert-ttft-p99", a.TTFTp99, "alert when a replica's p99 time to first token stays above this")
	durationVar(fs, &a.ITLp99, "alert-itl-p99", a.ITLp99, "alert when a replica's p99 inter-token latency stays above this")
	durationVar(fs, &a.E2Ep99, "alert-e2e-p99", a.E2Ep99, "alert when a replica's p99 end-to-end latency stays above this")
	fs.Float64Var(&a.KVCache, "alert-kv-cache", a.KVCache, "alert when a replica's KV cache usage (0 to 1) stays above this")
	fs.IntVar(&a.QueueDepth, "alert-queue", a.QueueDepth, "alert when more requests than this stay waiting in a replica's queue")
	durationVar(fs, &a.For, "alert-for", a.For, "how long a condition must hold before its alert fires")
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
