package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmload/llmload/engine/client"
	"github.com/llmload/llmload/engine/credentials"
	"github.com/llmload/llmload/engine/fdlimit"
	"github.com/llmload/llmload/engine/observe"
	"github.com/llmload/llmload/engine/openai"
	"github.com/llmload/llmload/engine/pace"
	"github.com/llmload/llmload/engine/prompt"
	"github.com/llmload/llmload/engine/record"
	"github.com/llmload/llmload/engine/redact"
	"github.com/llmload/llmload/engine/request"
	"github.com/llmload/llmload/engine/resultsdir"
	"github.com/llmload/llmload/engine/runner"
	"github.com/llmload/llmload/engine/session"
	"github.com/llmload/llmload/engine/threshold"
	"github.com/llmload/llmload/engine/trace"
	"github.com/llmload/llmload/engine/urlcheck"
	"github.com/llmload/llmload/scripting"
	"github.com/llmload/llmload/stack/sim"
)

// Exit codes of `llmload run`, documented in docs/cli.md.
const (
	exitOK          = 0
	exitThresholds  = 1 // reserved: a threshold failed
	exitConfig      = 2 // bad flag, settings file or scenario
	exitAllFailed   = 3 // the run finished but no request succeeded
	exitInterrupted = 130
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

	metricsAddr   string
	metricsLinger time.Duration

	allowRead         []string // --allow-read: more directories llm.trace.* may open
	serverMetricsAuth bool     // send the API key to a --server-metrics of another origin
	overwrite         bool     // reuse a non-empty --out, replacing llmload's files in it

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
	fs.Uint64Var(&f.promptSeed, "prompt-seed", 0, "seed of prompt text; 0 = new each run, so a rerun does not hit the server's prefix cache")
	fs.BoolVar(&f.skipBad, "skip-bad-rows", false, "skip malformed trace rows (counted and reported) instead of stopping")
	fs.BoolVar(&f.tokenIDs, "token-ids", false, "for /v1/completions, send synthetic prompts as token-id lists (exact length)")
	fs.BoolVar(&f.contUsage, "continuous-usage", false, "ask vLLM for usage in every chunk (stream_options.continuous_usage_stats)")
	fs.StringVar(&f.calibrate, "calibrate", "auto", "prompt length calibration: auto (POST /tokenize, else learn from usage), usage (learn from usage only), off")
	fs.StringVar(&f.simProfile, "sim-profile", "", "built-in simulator profile when --url is empty (default: its calibrated profile)")
	durationVar(fs, &f.simTTFT, "sim-ttft", 50*time.Millisecond, "built-in simulator TTFT for --sim-profile fixed")
	durationVar(fs, &f.simITL, "sim-itl", 10*time.Millisecond, "built-in simulator ITL for --sim-profile fixed")
	fs.StringVar(&f.serverMetrics, "server-metrics", "auto", "the server's Prometheus /metrics to sample (vLLM, DCGM series): auto (the endpoint's base URL + /metrics), off, or a URL")
	fs.BoolVar(&f.serverMetricsAuth, "server-metrics-auth", false, "send the API key to a --server-metrics URL on another host or port than --url too (by default only to the endpoint's own origin)")
	fs.StringVar(&f.gpuMetrics, "gpu-metrics", "", "comma-separated NVIDIA DCGM exporter URLs (http://gpu-node:9400/metrics) for power and energy per token")
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

func runCmd(args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := newRunFlagSet(&f)
	script, engineArgs, options, err := splitArgs(fs, args)
	if err != nil {
		fmt.Fprintf(stderr, "llmload run: %v\n", err)
		return exitConfig
	}
	if err := fs.Parse(engineArgs); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			runHelp(stdout, fs, script)
			return exitOK
		}
		fmt.Fprintf(stderr, "llmload run: %v (see llmload run --help)\n", err)
		return exitConfig
	}
	if script == "" {
		fmt.Fprintln(stderr, "llmload run: no scenario file; try: llmload run scenarios/azure_conv.lua")
		return exitConfig
	}
	switch f.calibrate {
	case "auto", "usage", "off":
	default:
		fmt.Fprintf(stderr, "llmload run: --calibrate %q: want auto, usage or off\n", f.calibrate)
		return exitConfig
	}
	set := setFlags(fs)
	settings, err := loadSettings(f.config, set["config"])
	if err != nil {
		fmt.Fprintf(stderr, "llmload run: %v\n", err)
		return exitConfig
	}

	var reserved []string
	fs.VisitAll(func(fl *flag.Flag) { reserved = append(reserved, fl.Name) })
	scr, err := scripting.Load(script, scripting.Env{Args: options, SkipBad: f.skipBad, Seed: f.seed, Reserved: reserved, AllowRead: f.allowRead})
	if err != nil {
		fmt.Fprintf(stderr, "llmload run: %v\n", err)
		return exitConfig
	}
	defer scr.Close()
	if len(scr.Scenarios) == 0 {
		fmt.Fprintf(stderr, "llmload run: %s returns no scenario; end it with return llm.scenario{...}\n", script)
		return exitConfig
	}
	effs := make([]effective, len(scr.Scenarios))
	var need uint64
	for i, sc := range scr.Scenarios {
		if effs[i], err = resolve(f, set, settings, sc); err != nil {
			fmt.Fprintf(stderr, "llmload run: %v\n", err)
			return exitConfig
		}
		need += fdlimit.Need(effs[i].concurrency, effs[i].url == "")
	}
	// A socket per request in flight: a low `ulimit -n` fails requests as
	// connect errors, so lift it, and warn when it is still short.
	fdlimit.Raise()
	if w := fdlimit.Shortfall(need); w != "" {
		fmt.Fprintf(stderr, "llmload run: warning: %s\n", w)
	}

	// The exporter is one per run, not per scenario: flag, then
	// llmload.toml, then off.
	if !set["metrics-addr"] && settings.MetricsAddr != "" {
		f.metricsAddr = settings.MetricsAddr
	}
	if !set["metrics-linger"] && settings.MetricsLinger.Duration != 0 {
		f.metricsLinger = settings.MetricsLinger.Duration
	}
	metrics, err := startMetrics(f, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "llmload run: %v\n", err)
		return exitConfig
	}
	defer metrics.close()

	// Ctrl-C (or q) once: stop sending, let in-flight requests drain,
	// write results. Twice: cancel in-flight requests at once, still write.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	abort := make(chan struct{})
	var abortOnce sync.Once
	abortNow := func() { abortOnce.Do(func() { close(abort) }) }
	var interrupted atomic.Bool
	userStop := func() {
		interrupted.Store(true)
		stop()
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		for range sigs {
			n++
			scr.Interrupt() // a setup or teardown hook stuck in a loop ends now
			if n == 1 {
				fmt.Fprintln(stderr, "\nstopping: no new requests; in-flight ones drain (Ctrl-C again to abort)")
				userStop()
			} else {
				abortNow()
				return
			}
		}
	}()

	// Scenarios without a URL share one built-in simulator; scenarios
	// without a model ask their server's /v1/models.
	simURL := ""
	models := map[string]string{}
	for i := range effs {
		e := &effs[i]
		if e.url == "" {
			if simURL == "" {
				addr, closeSim, err := startBuiltinSim(f, e.model)
				if err != nil {
					fmt.Fprintf(stderr, "llmload run: starting the built-in simulator: %v\n", err)
					return exitConfig
				}
				defer closeSim()
				simURL = "http://" + addr
				fmt.Fprintf(stdout, "no --url: built-in simulator on %s\n", simURL)
			}
			e.url = simURL
		}
		if e.model == "" {
			if m, ok := models[e.url]; ok {
				e.model = m
				continue
			}
			m, err := firstModel(ctx, e.url, e.apiKey)
			if err != nil {
				fmt.Fprintf(stderr, "llmload run: scenario %s: no --model given and %v; pass --model\n", scr.Scenarios[i].Name, err)
				return exitConfig
			}
			e.model, models[e.url] = m, m
		}
	}

	promptSeed := f.promptSeed
	if promptSeed == 0 {
		// A fresh salt per run, so a repeated run does not hit the prefix
		// cache that the previous one filled.
		promptSeed = rand.Uint64() | 1
	}
	outBase := effs[0].out
	if outBase == "" {
		name := scr.Scenarios[0].Name
		if len(scr.Scenarios) > 1 {
			name = strings.TrimSuffix(filepath.Base(script), filepath.Ext(script))
		}
		outBase = filepath.Join("results", fmt.Sprintf("%s-%s", name, time.Now().Format("20060102-150405")))
	}
	// All scenarios share one start, so side-by-side results line up. It is
	// a moment ahead so the planners have built the first plans before
	// they are due: the first request is not late by Lua's warm-up.
	epoch := time.Now().Add(200 * time.Millisecond)
	runs := make([]*scenarioRun, len(scr.Scenarios))
	for i, sc := range scr.Scenarios {
		out := outBase
		if len(scr.Scenarios) > 1 {
			out = filepath.Join(outBase, sc.Name)
		}
		if err := resultsdir.Prepare(out, f.overwrite); err != nil {
			fmt.Fprintf(stderr, "llmload run: scenario %s: %v\n", sc.Name, err)
			return exitConfig
		}
		sr, err := prepareScenario(ctx, f, scr, sc, effs[i], out, epoch, promptSeed, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "llmload run: scenario %s: %v\n", sc.Name, err)
			return exitConfig
		}
		defer sr.client.Close()
		defer sr.stopObserver()
		for _, e := range effs {
			if e.url == sr.eff.url {
				sr.shared++
			}
		}
		sr.rec.SetMeta("scenario_file", script)
		sr.rec.SetMeta("args", redact.Args(append([]string{"run"}, args...), func(name string) bool {
			fl := fs.Lookup(name)
			return fl != nil && isBoolFlag(fl)
		}))
		runs[i] = sr
		fmt.Fprintf(stdout, "scenario %s -> %s (model %s, concurrency %d, results in %s)\n", sc.Name, redact.URL(sr.eff.url), sr.eff.model, sr.eff.concurrency, out)
	}

	var dash *dashboardRun
	if useDashboard(f, stdout) {
		dash, err = startDashboard(f, runs, userStop, abortNow, func(paused bool) {
			for _, sr := range runs {
				if h := sr.handle.Load(); h != nil {
					if paused {
						h.Pause()
					} else {
						h.Resume()
					}
				}
			}
		})
		if err != nil {
			fmt.Fprintf(stderr, "llmload run: no dashboard (%v); printing progress lines instead (--no-ui)\n", err)
			dash = nil
		}
	}
	for i, sr := range runs {
		cfg := sr.config(abort, stderr)
		if err := metrics.attach(sr, &cfg); err != nil {
			if dash != nil {
				dash.finish()
			}
			fmt.Fprintf(stderr, "llmload run: %v\n", err)
			return exitConfig
		}
		cfg.Every = sr.eff.logEvery
		if dash != nil && cfg.Every <= 0 {
			cfg.Every = time.Second
		}
		// The dashboard has a page per scenario (keys 1-9, arrows); each
		// scenario gets its own results and table.
		switch {
		case dash != nil:
			cfg.Progress = dash.progress(i, sr)
		case dash == nil:
			prefix := ""
			if len(runs) > 1 {
				prefix = sr.sc.Name + " "
			}
			cfg.Progress = func(s runner.Status) {
				fmt.Fprintln(stdout, prefix+record.FormatProgress(s.Snapshot, record.ProgressExtra{
					Sent: s.Released, InFlight: s.InFlight, Queued: s.Queued, Total: s.Total,
				}))
			}
		}
		if err := sr.sc.Hooks.Setup(); err != nil {
			if dash != nil {
				dash.finish()
			}
			fmt.Fprintf(stderr, "llmload run: %v\n", err)
			return exitConfig
		}
		sr.live = sr.sc.StartLive(scripting.LiveConfig{
			Snapshot: sr.rec.Snapshot,
			Every:    min(sr.eff.sampleInterval/4, time.Second),
			Stop: func(err error) {
				fmt.Fprintf(stderr, "llmload run: scenario %s: %v; stopping\n", sr.sc.Name, err)
				stop()
			},
		})
		h, err := runner.Start(ctx, cfg)
		if err != nil {
			if dash != nil {
				dash.finish()
			}
			fmt.Fprintf(stderr, "llmload run: scenario %s: %v\n", sr.sc.Name, err)
			return exitConfig
		}
		sr.handle.Store(h)
	}
	for _, sr := range runs {
		sr.sum, sr.err = sr.handle.Load().Wait()
		sr.liveErr = sr.live.Finish(sr.rec.Snapshot())
		if sr.sum != nil {
			if err := sr.sc.Hooks.Teardown(sr.sum); err != nil && sr.liveErr == nil {
				sr.liveErr = err
			}
		}
	}
	if dash != nil {
		dash.finish()
	}

	code := exitOK
	for _, sr := range runs {
		if sr.sum != nil {
			fmt.Fprintln(stdout)
			if len(runs) > 1 {
				fmt.Fprintf(stdout, "scenario %s\n", sr.sc.Name)
			}
			sr.sum.WriteTable(stdout)
			sr.checks.WriteTable(stdout)
			sr.observed.WriteTable(stdout)
		}
		reportSkipped(stdout, sr.sc.Source)
		var abort *threshold.AbortError
		switch {
		case errors.As(sr.liveErr, &abort):
			code = max(code, exitThresholds)
		case sr.liveErr != nil:
			fmt.Fprintf(stderr, "llmload run: %v\n", sr.liveErr)
			code = max(code, exitConfig)
		case !sr.checks.Passed():
			fmt.Fprintf(stderr, "llmload run: scenario %s: %d of %d thresholds failed\n", sr.sc.Name, sr.checks.Failed(), len(sr.checks))
			code = max(code, exitThresholds)
		}
		switch {
		case sr.err != nil:
			fmt.Fprintf(stderr, "llmload run: %v\n", sr.err)
			fmt.Fprintf(stderr, "results measured so far are in %s\n", sr.out)
			code = max(code, exitConfig)
		case sr.sum != nil && sr.sum.Completed == 0 && sr.sum.Failed == 0 && !interrupted.Load():
			fmt.Fprintf(stderr, "llmload run: scenario %s: no request was sent: its source gave no rows (a trace with only a header, or a :limit, :window, :filter, --limit or --duration that keeps none); check the trace and those settings\n", sr.sc.Name)
			code = max(code, exitConfig)
		case sr.sum != nil && sr.sum.Completed == 0 && sr.sum.Failed > 0 && !interrupted.Load():
			fmt.Fprintf(stderr, "llmload run: scenario %s: every request failed; see errors in %s\n", sr.sc.Name, sr.out)
			code = max(code, exitAllFailed)
		}
		fmt.Fprintf(stdout, "results: %s\n", sr.out)
	}
	if code == exitOK && interrupted.Load() {
		code = exitInterrupted
	}
	metrics.finish(ctx, abort, stdout)
	return code
}

// scenarioRun is everything one scenario of a run owns.
type scenarioRun struct {
	sc      *scripting.Scenario
	eff     effective
	out     string
	epoch   time.Time
	builder *openai.Builder
	cals    []*prompt.Calibration
	client  *client.Client
	rec     *record.Recorder
	frames  *frameBuilder

	sessions *session.Executor // session scenarios; nil for open-loop ones

	handle atomic.Pointer[runner.Handle]
	sum    *record.Summary
	err    error

	live    *scripting.Live
	checks  threshold.Results // set by record.Config.Finish
	liveErr error             // a hook error or an abort_on_fail threshold

	obs       *observe.Observer // nil: --server-metrics off and no --gpu-metrics
	obsReport *observe.Report   // set by BeforeClose
	observed  observe.Summary   // set by record.Config.Finish
	shared    int               // scenarios of this run against the same server
}

func prepareScenario(ctx context.Context, f runFlags, scr *scripting.Script, sc *scripting.Scenario, eff effective, out string, epoch time.Time, promptSeed uint64, stderr io.Writer) (*scenarioRun, error) {
	custom := scr.CustomMetrics
	sr := &scenarioRun{sc: sc, eff: eff, out: out, epoch: epoch}
	sr.cals = calibrate(ctx, f.calibrate, eff, stderr)
	var err error
	sr.builder, err = openai.NewBuilder(openai.BuilderConfig{
		BaseURL: eff.url, Model: eff.model, Seed: promptSeed,
		TokenIDs: f.tokenIDs, ContinuousUsage: f.contUsage, BlockSize: f.blockSize,
	}, sr.cals...)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	if sc.Session != nil {
		if sr.sessions, err = newSessions(scr, sc, eff, sr.builder, f.seed); err != nil {
			return nil, err
		}
	}
	sr.client, err = client.New(client.Config{
		Epoch: epoch, MaxConns: eff.concurrency + 8,
		Timeout: eff.timeout, StallTimeout: eff.stallTimeout, APIKey: eff.apiKey,
	})
	if err != nil {
		return nil, err
	}
	sr.rec, err = record.New(record.Config{
		Name: sc.Name, OutDir: out, SampleInterval: eff.sampleInterval, Epoch: epoch,
		SLO: sc.SLO, WarmupRequests: sc.WarmupRequests, WarmupDuration: sc.WarmupDuration,
		Finish: func(s *record.Summary) {
			sr.checks = threshold.Check(sc.Thresholds, s)
			sr.observed = sr.obsReport.Summarize(observe.Client{
				Completed: s.Completed, InputTokens: s.TotalInputTokens, OutputTokens: s.TotalOutputTokens,
				MeanTTFT: time.Duration(s.TTFT.Mean), MeanE2E: time.Duration(s.E2EL.Mean), Scenarios: sr.shared,
			})
			s.Extra = map[string]any{"thresholds": sr.checks, "custom": custom(),
				"server": sr.observed.Server, "energy": sr.observed.Energy,
				"skipped_rows": trace.SkipsOf(sc.Source)}
			if sr.sessions != nil {
				s.Extra["sessions"] = sr.sessions.Summary()
			}
		},
		Meta: map[string]any{
			"url": redact.URL(eff.url), "model": eff.model,
			"concurrency": eff.concurrency, "on_full": eff.onFull.String(),
			"version": version, "seed": f.seed, "prompt_seed": promptSeed,
		},
	})
	if err != nil {
		sr.client.Close()
		return nil, fmt.Errorf("--out: %w", err)
	}
	sr.frames = newFrameBuilder(sc.Name, redact.URL(eff.url), eff.model, f.plotWindow)
	// The baseline scrape happens here, before the first request.
	if targets := observeTargets(eff); len(targets) > 0 {
		sr.obs, err = observe.Start(observe.Config{
			Targets: targets, Epoch: epoch, Interval: eff.sampleInterval, OutDir: out, Log: stderr,
		})
		if err != nil {
			sr.client.Close()
			return nil, fmt.Errorf("--server-metrics: %w", err)
		}
	}
	return sr, nil
}

// observeTargets are the endpoints --server-metrics and --gpu-metrics
// name (validated by resolve), the same URL once.
func observeTargets(e effective) []observe.Target {
	var ts []observe.Target
	seen := map[string]bool{}
	add := func(role, u, key string) {
		if u != "" && !seen[u] {
			seen[u] = true
			ts = append(ts, observe.Target{Role: role, URL: u, APIKey: key, KeyOrigin: e.url, KeyAnyOrigin: e.serverMetricsAuth})
		}
	}
	switch e.serverMetrics {
	case "off":
	case "auto", "":
		add("server", openai.BaseURL(e.url)+"/metrics", e.apiKey)
	default:
		add("server", e.serverMetrics, e.apiKey)
	}
	for _, u := range strings.Split(e.gpuMetrics, ",") {
		add("gpu", strings.TrimSpace(u), "")
	}
	return ts
}

// stopObserver ends sampling; the first call's report is the run's.
func (sr *scenarioRun) stopObserver() {
	if sr.obs != nil && sr.obsReport == nil {
		sr.obsReport = sr.obs.Stop()
	}
}

// executor is the scenario's session executor, or nil for the open-loop
// schedule (the runner builds it).
func (sr *scenarioRun) executor() runner.Executor {
	if sr.sessions == nil {
		return nil
	}
	return sr.sessions
}

// newSessions builds the executor of a session scenario.
func newSessions(scr *scripting.Script, sc *scripting.Scenario, eff effective, b *openai.Builder, seed uint64) (*session.Executor, error) {
	sp := sc.Session
	return session.New(session.Config{
		Name: sc.Name, Program: scr.SessionProgram(sc, b, seed), Builder: b,
		Users: sp.Users, Stages: sp.Stages, StartUsers: sp.StartUsers, Iterations: sp.Iterations,
		Starts: sp.Starts, Trace: sp.Trace,
		Duration: eff.duration, Limit: eff.limit, SessionHeader: sp.Header,
	})
}

// config is the runner configuration of the scenario, without progress.
func (sr *scenarioRun) config(abort <-chan struct{}, stderr io.Writer) runner.Config {
	sc, eff := sr.sc, sr.eff
	return runner.Config{
		Name: sc.Name, Epoch: sr.epoch, Executor: sr.executor(), Source: sc.Source, Schedule: sc.Schedule,
		Mapper: sc.Mapper, Builder: sr.builder, Client: sr.client, Recorder: sr.rec,
		Concurrency: eff.concurrency, OnFull: eff.onFull,
		Limit: eff.limit, Duration: eff.duration,
		DrainTimeout: eff.drainTimeout, Abort: abort,
		// sr.live starts after this config is built: read it per result.
		Sinks: []runner.Sink{runner.SinkFunc(sr.builder.Observe), runner.SinkFunc(func(res *request.Result) { sr.live.OnResult(res) })},
		BeforeClose: func(final runner.Status) {
			sr.stopObserver() // the final scrape: every finished request is counted
			reports := map[string]any{}
			for _, c := range sr.cals {
				reports[c.Endpoint().String()] = c.Report()
			}
			if err := sr.rec.SetMeta("prompt_calibration", reports); err != nil {
				fmt.Fprintf(stderr, "llmload run: %v\n", err)
			}
			if n := final.Unsent; n > 0 {
				sr.rec.SetMeta("unsent_at_stop", n)
				fmt.Fprintf(stderr, "scenario %s: %d requests waiting at the concurrency gate were not sent (stopped)\n", sc.Name, n)
			}
		},
	}
}

// effective holds settings after precedence: flag, then scenario, then
// llmload.toml, then the default.
type effective struct {
	url, model, apiKey, out  string
	timeout, stallTimeout    time.Duration
	logEvery, sampleInterval time.Duration
	duration, drainTimeout   time.Duration
	concurrency              int
	limit                    int64
	onFull                   pace.OnFull

	serverMetrics, gpuMetrics string
	serverMetricsAuth         bool
}

func resolve(f runFlags, set map[string]bool, s fileSettings, sc *scripting.Scenario) (effective, error) {
	e := effective{
		url: pickStr(set["url"], f.url, sc.URL, s.URL), model: pickStr(set["model"], f.model, sc.Model, s.Model),
		apiKey: pickStr(set["api-key"], f.apiKey, "", s.APIKey), out: pickStr(set["out"], f.out, "", s.Out),
		timeout:           pickDur(set["timeout"], f.timeout, 0, s.Timeout.Duration),
		stallTimeout:      pickDur(set["stall-timeout"], f.stallTimeout, 0, s.StallTimeout.Duration),
		logEvery:          pickDur(set["log-every"], f.logEvery, 0, s.LogEvery.Duration),
		sampleInterval:    pickDur(set["sample-interval"], f.sampleInterval, 0, s.SampleInterval.Duration),
		drainTimeout:      pickDur(set["drain-timeout"], f.drainTimeout, 0, s.DrainTimeout.Duration),
		duration:          pickDur(set["duration"], f.duration, sc.Duration, 0),
		limit:             f.limit,
		serverMetrics:     pickStr(set["server-metrics"], f.serverMetrics, "", s.ServerMetrics),
		serverMetricsAuth: f.serverMetricsAuth,
		gpuMetrics:        pickStr(set["gpu-metrics"], f.gpuMetrics, "", s.GPUMetrics),
	}
	if e.serverMetrics == "" {
		e.serverMetrics = "auto"
	}
	if e.apiKey == "" && s.APIKeyEnv != "" {
		e.apiKey = os.Getenv(s.APIKeyEnv)
	}
	// The environment's key goes only to an endpoint the user chose
	// (--url, llmload.toml, the built-in simulator), not to a URL the
	// scenario's author wrote into it.
	if e.apiKey == "" && s.APIKeyEnv == "" && (set["url"] || sc.URL == "") {
		e.apiKey, _ = credentials.FromEnv(os.Getenv)
	}
	switch {
	case set["limit"]:
	case sc.Limit > 0:
		e.limit = sc.Limit
	case s.Limit > 0:
		e.limit = s.Limit
	}
	// A value the user gave that the defaults below would replace (0) or
	// that means nothing (negative) is an error naming the flag.
	for _, d := range []struct {
		name string
		v    time.Duration
		ok   bool
		want string
	}{
		{"timeout", f.timeout, f.timeout > 0, "> 0"},
		{"stall-timeout", f.stallTimeout, f.stallTimeout > 0, "> 0"},
		{"drain-timeout", f.drainTimeout, f.drainTimeout >= 0, ">= 0"},
		{"duration", f.duration, f.duration >= 0, ">= 0 (0 = no limit)"},
		{"sample-interval", f.sampleInterval, f.sampleInterval >= 100*time.Millisecond, "at least 100ms"},
	} {
		if set[d.name] && !d.ok {
			return e, fmt.Errorf("--%s must be %s, got %s", d.name, d.want, d.v)
		}
	}
	switch {
	case set["concurrency"]:
		e.concurrency = f.concurrency
	case sc.Concurrency > 0:
		e.concurrency = sc.Concurrency
	case s.Concurrency > 0:
		e.concurrency = s.Concurrency
	default:
		e.concurrency = 16
	}
	// Defaults for durations come from the flag set's own defaults.
	def := runFlags{}
	newRunFlagSet(&def)
	if e.timeout == 0 {
		e.timeout = def.timeout
	}
	if e.stallTimeout == 0 {
		e.stallTimeout = def.stallTimeout
	}
	if e.logEvery == 0 {
		e.logEvery = def.logEvery
	}
	if e.sampleInterval == 0 {
		e.sampleInterval = def.sampleInterval
	}
	if e.drainTimeout == 0 {
		e.drainTimeout = def.drainTimeout
	}
	switch {
	case e.concurrency < 1:
		return e, fmt.Errorf("--concurrency must be at least 1, got %d", e.concurrency)
	case e.limit < 0:
		return e, fmt.Errorf("--limit must be >= 0, got %d", e.limit)
	case e.sampleInterval < 100*time.Millisecond:
		return e, fmt.Errorf("--sample-interval must be at least 100ms, got %s", e.sampleInterval)
	case e.logEvery < 0:
		return e, fmt.Errorf("--log-every must be >= 0, got %s", e.logEvery)
	}
	switch sc.OnFull {
	case "", "queue":
		e.onFull = pace.Queue
	case "drop":
		e.onFull = pace.Drop
	default:
		return e, fmt.Errorf("scenario %s: on_full must be \"queue\" or \"drop\", got %q", sc.Name, sc.OnFull)
	}
	// Validated before anything is sent: no probe goes out with the key
	// to a URL that is then refused.
	if e.url != "" {
		if err := urlcheck.HTTP("--url", e.url, "http://host:8000 or http://host:8000/v1/chat/completions"); err != nil {
			return e, err
		}
	}
	if m := e.serverMetrics; m != "auto" && m != "off" {
		if err := urlcheck.HTTP("--server-metrics", m, "http://host:8000/metrics (or auto, off)"); err != nil {
			return e, err
		}
	}
	for _, u := range strings.Split(e.gpuMetrics, ",") {
		if u = strings.TrimSpace(u); u != "" {
			if err := urlcheck.HTTP("--gpu-metrics", u, "comma-separated http://gpu-node:9400/metrics"); err != nil {
				return e, err
			}
		}
	}
	return e, nil
}

func pickStr(flagSet bool, flagVal, scenario, file string) string {
	switch {
	case flagSet:
		return flagVal
	case scenario != "":
		return scenario
	default:
		return file
	}
}

func pickDur(flagSet bool, flagVal, scenario, file time.Duration) time.Duration {
	switch {
	case flagSet:
		return flagVal
	case scenario != 0:
		return scenario
	default:
		return file
	}
}

// startBuiltinSim serves the simulator on a free loopback port for the run.
func startBuiltinSim(f runFlags, model string) (addr string, closeFn func(), err error) {
	cfg := sim.DefaultConfig()
	if model != "" {
		cfg.Model = model
	}
	if f.simProfile != "" {
		cfg.Profile = f.simProfile
	}
	cfg.TTFT, cfg.ITL = f.simTTFT, f.simITL
	srv, err := sim.New(cfg, prometheus.NewRegistry())
	if err != nil {
		// The simulator names its own flags (--profile, --ttft); here they
		// are --sim-profile, --sim-ttft and --sim-itl.
		msg := strings.NewReplacer("--profile", "--sim-profile", "--ttft", "--sim-ttft", "--itl", "--sim-itl").Replace(err.Error())
		return "", nil, errors.New(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// firstModel asks GET /v1/models, as vLLM's benchmark does when no model
// is given.
func firstModel(ctx context.Context, rawURL, apiKey string) (string, error) {
	base := openai.BaseURL(rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/models", nil)
	if err != nil {
		return "", err
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("listing models at %s/v1/models failed: %w", base, err)
	}
	defer resp.Body.Close()
	var body struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s/v1/models answered %s", base, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Data) == 0 {
		return "", fmt.Errorf("%s/v1/models listed no model", base)
	}
	return body.Data[0].ID, nil
}

func reportSkipped(w io.Writer, src any) {
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

// calibrate fits the prompt-length model of both endpoints. It never fails
// the run: the worst case is learning from usage as responses arrive.
func calibrate(ctx context.Context, mode string, e effective, stderr io.Writer) []*prompt.Calibration {
	var cals []*prompt.Calibration
	for _, ep := range []request.Endpoint{request.Chat, request.Completions} {
		switch mode {
		case "off":
			cals = append(cals, prompt.NewFixed(ep, prompt.Identity))
		case "usage":
			cals = append(cals, prompt.NewOnline(ep, prompt.Identity))
		default:
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			c, err := prompt.Calibrate(cctx, openai.BaseURL(e.url), e.model, ep, &prompt.Options{APIKey: e.apiKey})
			cancel()
			if err != nil {
				fmt.Fprintf(stderr, "prompt calibration for %s: %v; learning from usage.prompt_tokens instead\n", ep, err)
				c = prompt.NewOnline(ep, prompt.Identity)
			}
			cals = append(cals, c)
		}
	}
	return cals
}
