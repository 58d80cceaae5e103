package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/llmload/llmload/scripting"
)

type runFlags struct {
	url, model, apiKey, config, out string
	timeout, stallTimeout           time.Duration
	logEvery, sampleInterval        time.Duration
	duration, drainTimeout          time.Duration
	concurrency                     int
	limit                           int64
	seed, promptSeed                uint64
	skipBad, tokenIDs, contUsage    bool
	calibrate                       string
	simProfile                      string
	simTTFT, simITL                 time.Duration
	serverMetrics, gpuMetrics       string
	gpuIDs                          string

	metricsAddr   string
	metricsLinger time.Duration

	allowRead         []string // --allow-read: more directories llm.trace.* may open
	serverMetricsAuth bool     // send the API key to a --server-metrics of another origin
	overwrite         bool     // reuse a non-empty --out, replacing llmload's files in it
	report            bool     // also write report.html in each results directory
	metadata          metadataFlag
	shard, startAt    string // --shard i/n, --start-at RFC 3339 (shardflags.go)

	blockSize                              int
	noUI                                   bool
	plotWindow                             time.Duration
	plotRows, plotHeight, sparkWidth, yWid int
}

func newRunFlagSet(f *runFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("llmload run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.url, "url", "", "endpoint: a base URL (http://host:8000) or a full one (.../v1/chat/completions); empty = start the built-in simulator")
	fs.StringVar(&f.model, "model", "", "model name sent in requests; empty = the first model the server lists at /v1/models")
	fs.StringVar(&f.apiKey, "api-key", "", "API key sent as a bearer token (or set api_key_env in llmload.toml; default: $LLMLOAD_API_KEY, else $OPENAI_API_KEY)")
	fs.StringVar(&f.config, "config", "llmload.toml", "settings file with defaults for these flags (missing is fine unless given)")
	fs.StringVar(&f.out, "out", "", "results directory (default results/<scenario>-<time>); a non-empty one needs --overwrite")
	fs.BoolVar(&f.overwrite, "overwrite", false, "reuse a non-empty --out: remove llmload's result files in it first (nothing else)")
	fs.BoolVar(&f.report, "report", false, "after the run, also write report.html (charts and tables, see llmload report) in each results directory")
	fs.Var(&f.metadata, "metadata", "a key=value label stored in summary.json meta.metadata and shown by llmload report (repeatable), as vllm bench serve --metadata")
	fs.Var(listFlag{&f.allowRead}, "allow-read", "a directory whose files the scenario's llm.trace.* may open, beyond the working and the script's directories (repeatable or comma-separated)")
	durationVar(fs, &f.timeout, "timeout", 120*time.Second, "whole-request timeout (e.g. 120 or 2m)")
	durationVar(fs, &f.stallTimeout, "stall-timeout", 30*time.Second, "fail a request when no byte arrives for this long")
	durationVar(fs, &f.logEvery, "log-every", time.Second, "progress line interval")
	durationVar(fs, &f.sampleInterval, "sample-interval", 5*time.Second, "length of a metrics window")
	durationVar(fs, &f.duration, "duration", 0, "plan no request due later than this (0 = no limit)")
	durationVar(fs, &f.drainTimeout, "drain-timeout", 30*time.Second, "after a stop (Ctrl-C), how long in-flight requests may finish")
	fs.IntVar(&f.concurrency, "concurrency", 0, "maximum requests in flight (default: the scenario's, else 16)")
	fs.Int64Var(&f.limit, "limit", 0, "send at most this many requests (0 = the whole source)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of synthetic traffic (arrivals, lengths): the same seed, the same traffic")
	fs.Uint64Var(&f.promptSeed, "prompt-seed", 0, "seed of prompt text; 0 = new each run (with --start-at: derived from it and --seed), so a rerun does not hit the server's prefix cache")
	addShardFlags(fs, f)
	fs.BoolVar(&f.skipBad, "skip-bad-rows", false, "skip malformed trace rows (counted and reported) instead of stopping")
	fs.BoolVar(&f.tokenIDs, "token-ids", false, "for /v1/completions, send synthetic prompts as token-id lists (exact length)")
	fs.BoolVar(&f.contUsage, "continuous-usage", false, "ask vLLM for usage in every chunk (stream_options.continuous_usage_stats)")
	fs.StringVar(&f.calibrate, "calibrate", "auto", "prompt length calibration: auto (POST /tokenize, else learn from usage), usage (learn from usage only), off")
	fs.StringVar(&f.simProfile, "sim-profile", "", "built-in simulator profile when --url is empty (default: its calibrated profile)")
	durationVar(fs, &f.simTTFT, "sim-ttft", 50*time.Millisecond, "built-in simulator TTFT for --sim-profile fixed")
	durationVar(fs, &f.simITL, "sim-itl", 10*time.Millisecond, "built-in simulator ITL for --sim-profile fixed")
	fs.StringVar(&f.serverMetrics, "server-metrics", "auto", "the server's Prometheus /metrics to sample (vLLM, DCGM series): auto (the endpoint's base URL + /metrics), off, a URL, or a Prometheus query API and selector: 'prom+http://prometheus:9090?selector={namespace=\"llm\"}' (token in $LLMLOAD_PROMETHEUS_TOKEN)")
	fs.BoolVar(&f.serverMetricsAuth, "server-metrics-auth", false, "send the API key to a --server-metrics URL on another host or port than --url too (by default only to the endpoint's own origin)")
	fs.StringVar(&f.gpuMetrics, "gpu-metrics", "", "comma-separated NVIDIA DCGM exporter URLs (http://gpu-node:9400/metrics), or prom+ URLs as for --server-metrics, for power and energy per token")
	fs.StringVar(&f.gpuIDs, "gpu-ids", "", "comma-separated DCGM gpu labels or UUIDs the server uses (e.g. 0,1); only they count in power and energy per token. Empty: every GPU --gpu-metrics reports")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve the run's own Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9464); empty = off")
	durationVar(fs, &f.metricsLinger, "metrics-linger", 0, "after the run, keep serving --metrics-addr this long so Prometheus scrapes the final counts")
	fs.IntVar(&f.blockSize, "block-size", 512, "tokens per prefix block of hash-id traces (Mooncake): the same id, the same block")
	fs.BoolVar(&f.noUI, "no-ui", false, "print progress lines instead of the dashboard (also when stdout is not a terminal)")
	durationVar(fs, &f.plotWindow, "plot-window", time.Minute, "dashboard: time span of the charts")
	fs.IntVar(&f.plotRows, "plot-rows", 0, "dashboard: text rows per chart; 1 = one sparkline row per series; 0 = fit the terminal")
	fs.IntVar(&f.plotHeight, "plot-height", 0, "dashboard: rows of each braille chart (overrides --plot-rows for charts)")
	fs.IntVar(&f.sparkWidth, "spark-width", 0, "dashboard: cells of each sparkline (--plot-rows 1); 0 = as wide as fits")
	fs.IntVar(&f.yWid, "y-width", 6, "dashboard: columns of the charts' Y-axis labels")
	return fs
}

func runHelp(w io.Writer, fs *flag.FlagSet, script string) {
	fmt.Fprintln(w, "usage: llmload run SCENARIO.lua [flags] [scenario options]")
	fmt.Fprintln(w, "\nEngine flags (also settable in llmload.toml with _ for -):")
	printFlags(w, fs)
	if script == "" {
		return
	}
	scr, err := scripting.Load(script, scripting.Env{Help: true, Args: map[string]string{}})
	if err != nil {
		fmt.Fprintf(w, "\n(could not load %s to list its options: %v)\n", script, err)
		return
	}
	defer scr.Close()
	fmt.Fprintf(w, "\nOptions of %s:\n", script)
	opts := append([]scripting.Option(nil), scr.Options...)
	sort.Slice(opts, func(i, j int) bool { return opts[i].Name < opts[j].Name })
	for _, o := range opts {
		fmt.Fprintf(w, "  %s %s\n    \t%s (default %v)\n", o.Flag, o.Type, o.Help, o.Default)
	}
}

func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(fl *flag.Flag) {
		kind := "value"
		if isBoolFlag(fl) {
			kind = ""
		}
		def := ""
		if fl.DefValue != "" && fl.DefValue != "0" && fl.DefValue != "false" && fl.DefValue != "0s" {
			def = fmt.Sprintf(" (default %s)", fl.DefValue)
		}
		fmt.Fprintf(w, "  --%s %s\n    \t%s%s\n", fl.Name, kind, fl.Usage, def)
	})
}
