package launch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/llmload/llmload/engine/guard/redact"
	"github.com/llmload/llmload/engine/load/capacity"
	"github.com/llmload/llmload/engine/load/client"
	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/prompt"
	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/load/session"
	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/engine/results/observe"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/engine/results/threshold"
	"github.com/llmload/llmload/engine/shared/clockskew"
)

// Run is a prepared run: every scenario's client, recorder and observer
// exist and share one epoch; nothing has been sent yet.
type Run struct {
	cfg       Config
	epoch     time.Time
	scenarios []*ScenarioRun
	stopSim   func()
	cancel    context.CancelFunc // stops every scenario (a Script's stop)

	clock    clockskew.Estimator // this machine's clock against the server's (meta.shard)
	receipts atomic.Int64        // results observeReceipt took
}

// ScenarioRun is everything one scenario of a run owns.
type ScenarioRun struct {
	sc      Scenario
	run     *Run
	shared  int
	builder *openai.Builder
	cals    []*prompt.Calibration
	client  *client.Client
	rec     *record.Recorder

	sessions  *session.Executor  // session scenarios; nil for open-loop ones
	capacity  *capacity.Executor // capacity searches; nil otherwise
	obs       *observe.Observer  // nil: server metrics off and no GPU metrics
	obsReport *observe.Report    // set by the runner's BeforeClose

	handle atomic.Pointer[runner.Handle]
	live   Live
	out    ScenarioOutcome
}

// ScenarioOutcome is what one scenario produced.
type ScenarioOutcome struct {
	Scenario *Scenario
	Summary  *record.Summary // nil when the run failed before writing one
	Err      error           // the runner's error
	LiveErr  error           // a hook error or an abort_on_fail threshold
	Checks   threshold.Results
	Observed observe.Summary
	Capacity *capacity.Result // a capacity search's outcome; nil for other scenarios
	Sessions *session.Summary // a session scenario's sessions; nil for other scenarios
}

// Outcome is what the run produced, scenario by scenario.
type Outcome struct {
	Scenarios []ScenarioOutcome
}

// Prepare settles each scenario's endpoint and prompt model (requests to
// the servers, each bounded by cfg.ProbeTimeout), then, with the epoch set
// cfg.EpochLead ahead, builds each scenario's pipeline. Probes never
// count against the schedule: the clock starts after them. On error
// everything already started is stopped.
func Prepare(ctx context.Context, cfg Config) (*Run, error) {
	begun := time.Now()
	cfg.defaults()
	cfg.Scenarios = append([]Scenario(nil), cfg.Scenarios...)
	if err := checkShard(&cfg); err != nil {
		return nil, err
	}
	startAtSeed(&cfg)
	if cfg.PromptSeed == 0 {
		// A fresh salt per run, so a repeated run does not hit the
		// prefix cache that the previous one filled.
		cfg.PromptSeed = rand.Uint64() | 1
	}
	r := &Run{cfg: cfg}
	var err error
	if r.stopSim, err = settleEndpoints(ctx, &r.cfg, r.probeClient()); err != nil {
		r.Close()
		return nil, err
	}
	for i := range r.cfg.Scenarios {
		sr := &ScenarioRun{sc: r.cfg.Scenarios[i], run: r}
		sr.cals = fitPromptModels(ctx, &r.cfg, &sr.sc, r.probeClient())
		for _, o := range r.cfg.Scenarios {
			if o.URL == sr.sc.URL {
				sr.shared++
			}
		}
		r.scenarios = append(r.scenarios, sr)
	}
	// All scenarios share one start, so side-by-side results line up;
	// with StartAt, all shards do.
	if err := r.setEpoch(begun); err != nil {
		r.Close()
		return nil, err
	}
	for _, sr := range r.scenarios {
		if err := sr.prepare(); err != nil {
			r.Close()
			return nil, fmt.Errorf("scenario %s: %w", sr.sc.Name, err)
		}
	}
	return r, nil
}

// Epoch is the run's start: every due time and result instant counts from it.
func (r *Run) Epoch() time.Time { return r.epoch }

// Scenarios are the run's scenarios, in the order of Config.Scenarios.
func (r *Run) Scenarios() []*ScenarioRun { return r.scenarios }

func (sr *ScenarioRun) prepare() error {
	cfg, sc, epoch := &sr.run.cfg, &sr.sc, sr.run.epoch
	var err error
	sr.builder, err = openai.NewBuilder(openai.BuilderConfig{
		BaseURL: sc.URL, Model: sc.Model, Seed: cfg.PromptSeed,
		TokenIDs: cfg.TokenIDs, ContinuousUsage: cfg.ContinuousUsage, BlockSize: cfg.BlockSize,
	}, sr.cals...)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	if sp := sc.Sessions; sp != nil {
		scfg := sp.Config
		scfg.Name, scfg.Builder, scfg.Program = sc.Name, sr.builder, sp.Program(sr.builder)
		scfg.Duration, scfg.Limit, scfg.Shard = sc.Duration, sc.Limit, cfg.Shard
		if sr.sessions, err = session.New(scfg); err != nil {
			return err
		}
	}
	if sc.Capacity != nil {
		ccfg := *sc.Capacity
		ccfg.Name, ccfg.SLO, ccfg.Budget, ccfg.Limit = sc.Name, sc.SLO, sc.Duration, sc.Limit
		if sr.sessions != nil { // the search steps the session users
			sr.capacity, err = capacity.NewUsers(ccfg, sr.sessions)
		} else {
			sr.capacity, err = capacity.New(ccfg, sc.Source, sc.Mapper, sr.builder)
		}
		if err != nil {
			return err
		}
	}
	sr.client, err = client.New(client.Config{
		Epoch: epoch, MaxConns: sc.Concurrency + 8,
		Timeout: sc.Timeout, StallTimeout: sc.StallTimeout, APIKey: sc.APIKey,
	})
	if err != nil {
		return err
	}
	meta := map[string]any{
		"url": redact.URL(sc.URL), "model": sc.Model,
		"concurrency": sc.Concurrency, "on_full": sc.OnFull.String(),
		"version": cfg.Version, "seed": cfg.Seed, "prompt_seed": cfg.PromptSeed,
		"machine": map[string]any{"os": runtime.GOOS, "arch": runtime.GOARCH, "cpus": runtime.NumCPU()},
	}
	maps.Copy(meta, cfg.Meta)
	if cfg.Shard.On() {
		meta["shard"] = sr.run.shardMeta()
	}
	sr.rec, err = record.New(record.Config{
		Name: sc.Name, OutDir: sc.Out, SampleInterval: sc.SampleInterval, Epoch: epoch,
		SLO: sc.SLO, WarmupRequests: sc.WarmupRequests, WarmupDuration: sc.WarmupDuration,
		Finish: sr.finish, Meta: meta,
	})
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	// The baseline scrape happens here, before the first request.
	if targets := observeTargets(sc); len(targets) > 0 {
		sr.obs, err = observe.Start(observe.Config{
			Targets: targets, Epoch: epoch, Interval: sc.SampleInterval, OutDir: sc.Out, Log: cfg.Log,
		})
		if err != nil {
			return fmt.Errorf("observing the server: %w", err)
		}
	}
	return nil
}

// finish is the recorder's Finish: thresholds, the server's view and
// custom metrics go into the summary.
func (sr *ScenarioRun) finish(s *record.Summary) {
	sr.out.Checks = threshold.Check(sr.sc.Thresholds, s)
	sr.out.Observed = sr.obsReport.Summarize(observe.Client{
		Completed: s.Completed, InputTokens: s.TotalInputTokens, OutputTokens: s.TotalOutputTokens,
		MeanTTFT: time.Duration(s.TTFT.Mean), MeanE2E: time.Duration(s.E2EL.Mean), Scenarios: sr.shared,
	})
	s.Extra = map[string]any{"thresholds": sr.out.Checks,
		"server": sr.out.Observed.Server, "energy": sr.out.Observed.Energy,
		"skipped_rows": trace.SkipsOf(sr.sc.Source)}
	if sr.sessions != nil {
		sr.out.Sessions = sr.sessions.Summary()
		s.Extra["sessions"] = sr.out.Sessions
	}
	if sr.capacity != nil {
		sr.out.Capacity = sr.capacity.Result()
		s.Extra["capacity"] = sr.out.Capacity
	}
	if custom := sr.run.cfg.Custom; custom != nil {
		s.Extra["custom"] = custom()
	}
}

// observeTargets are the endpoints ServerMetrics and GPUMetrics name, the
// same URL once (a prom+ URL once per role: it reads the role's series).
func observeTargets(sc *Scenario) []observe.Target {
	var ts []observe.Target
	seen := map[string]bool{}
	var gpus []string
	for _, id := range strings.Split(sc.GPUIDs, ",") {
		if id = strings.TrimSpace(id); id != "" {
			gpus = append(gpus, id)
		}
	}
	add := func(role, u, key string) {
		id := u
		if observe.IsProm(u) {
			id = role + " " + u // one query per role: vLLM's series for the server, DCGM's for GPUs
		}
		if u != "" && !seen[id] {
			seen[id] = true
			t := observe.Target{Role: role, URL: u, APIKey: key, KeyOrigin: sc.URL, KeyAnyOrigin: sc.ServerMetricsAuth}
			if observe.IsProm(u) { // the Prometheus's own token, never the endpoint's key
				t.APIKey, t.KeyOrigin = sc.PrometheusToken, ""
			}
			if role == "gpu" {
				t.GPUs = gpus
			}
			ts = append(ts, t)
		}
	}
	switch sc.ServerMetrics {
	case "off":
	case "auto", "":
		add("server", openai.BaseURL(sc.URL)+"/metrics", sc.APIKey)
	default:
		add("server", sc.ServerMetrics, sc.APIKey)
	}
	for _, u := range observe.SplitTargets(sc.GPUMetrics) {
		add("gpu", u, "")
	}
	return ts
}

// Start runs the scenario's Script setup and starts every scenario, each
// with its watch (watches[i] for scenario i; missing ones are empty). ctx
// cancelled is a graceful stop: nothing new is sent, in-flight requests
// drain. After an error, call Close.
func (r *Run) Start(ctx context.Context, watches []Watch) error {
	ctx, r.cancel = context.WithCancel(ctx)
	if err := r.waitStart(ctx); err != nil {
		return err
	}
	for i, sr := range r.scenarios {
		var w Watch
		if i < len(watches) {
			w = watches[i]
		}
		if err := sr.start(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

func (sr *ScenarioRun) start(ctx context.Context, w Watch) error {
	sc := &sr.sc
	if sc.Script != nil {
		if err := sc.Script.Setup(); err != nil {
			return err
		}
		sr.live = sc.Script.StartLive(sr.rec.Snapshot, min(sc.SampleInterval/4, time.Second), func(err error) {
			fmt.Fprintf(sr.run.cfg.Log, "llmload run: scenario %s: %v; stopping\n", sc.Name, err)
			sr.run.cancel()
		})
	}
	h, err := runner.Start(ctx, sr.runnerConfig(w))
	if err != nil {
		return fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	sr.handle.Store(h)
	return nil
}

// runnerConfig is the scenario's pipeline as the runner takes it.
func (sr *ScenarioRun) runnerConfig(w Watch) runner.Config {
	sc := &sr.sc
	every := w.Every
	if every == 0 {
		every = sc.LogEvery
	}
	var sinks []runner.Sink
	if w.OnResult != nil {
		sinks = append(sinks, runner.SinkFunc(w.OnResult))
	}
	sinks = append(sinks, runner.SinkFunc(sr.builder.Observe))
	if sr.run.cfg.Shard.On() {
		sinks = append(sinks, runner.SinkFunc(sr.run.observeReceipt))
	}
	if sr.live != nil {
		sinks = append(sinks, runner.SinkFunc(sr.live.OnResult))
	}
	return runner.Config{
		Name: sc.Name, Epoch: sr.run.epoch, Executor: sr.executor(),
		Source: sc.Source, Schedule: sc.Schedule, Mapper: sc.Mapper, Builder: sr.builder,
		Client: sr.client, Recorder: sr.rec, Sinks: sinks,
		Concurrency: sc.Concurrency, OnFull: sc.OnFull,
		Limit: sc.Limit, Duration: sc.Duration, Shard: sr.run.cfg.Shard,
		DrainTimeout: sc.DrainTimeout, Abort: sr.run.cfg.Abort,
		BeforeClose: sr.beforeClose,
		Every:       every, Progress: w.Progress,
	}
}

// executor is the capacity search or the session executor, or nil: the
// runner then builds the open-loop one from Source, Schedule and Mapper.
func (sr *ScenarioRun) executor() runner.Executor {
	switch {
	case sr.capacity != nil:
		return sr.capacity
	case sr.sessions != nil:
		return sr.sessions
	}
	return nil // not a typed nil in the interface
}

// beforeClose runs after the last request finished, before summary.json
// is written.
func (sr *ScenarioRun) beforeClose(final runner.Status) {
	sr.stopObserver() // the final scrape: every finished request is counted
	reports := map[string]any{}
	for _, c := range sr.cals {
		reports[c.Endpoint().String()] = c.Report()
	}
	log := sr.run.cfg.Log
	if err := sr.rec.SetMeta("prompt_calibration", reports); err != nil {
		fmt.Fprintf(log, "llmload run: %v\n", err)
	}
	if sr.run.cfg.Shard.On() {
		// The offset again: the run's receipts bound it far better than
		// the probes' Date headers did.
		if err := sr.rec.SetMeta("shard", sr.run.shardMeta()); err != nil {
			fmt.Fprintf(log, "llmload run: %v\n", err)
		}
	}
	if n := final.Unsent; n > 0 {
		sr.rec.SetMeta("unsent_at_stop", n)
		fmt.Fprintf(log, "scenario %s: %d requests waiting at the concurrency gate were not sent (stopped)\n", sr.sc.Name, n)
	}
}

// stopObserver ends sampling; the first call's report is the run's.
func (sr *ScenarioRun) stopObserver() {
	if sr.obs != nil && sr.obsReport == nil {
		sr.obsReport = sr.obs.Stop()
	}
}

// Wait waits for every started scenario to finish, finishes its Script
// (Live.Finish, then Teardown) and returns what each produced.
func (r *Run) Wait() *Outcome {
	out := &Outcome{}
	for _, sr := range r.scenarios {
		h := sr.handle.Load()
		if h == nil {
			sr.out.Err = errors.New("not started")
		} else {
			sr.out.Summary, sr.out.Err = h.Wait()
		}
		if sr.live != nil {
			sr.out.LiveErr = sr.live.Finish(sr.rec.Snapshot())
		}
		if sr.out.Summary != nil && sr.sc.Script != nil {
			if err := sr.sc.Script.Teardown(sr.out.Summary); err != nil && sr.out.LiveErr == nil {
				sr.out.LiveErr = err
			}
		}
		sr.out.Scenario = &sr.sc
		out.Scenarios = append(out.Scenarios, sr.out)
	}
	return out
}

// Close releases what Prepare started: connections, observers, the
// simulator. Call it once, after Wait (or after a failed Start).
func (r *Run) Close() {
	if r.cancel != nil {
		r.cancel()
	}
	for _, sr := range r.scenarios {
		if sr.client != nil {
			sr.client.Close()
		}
		sr.stopObserver()
	}
	if r.stopSim != nil {
		r.stopSim()
	}
}

// Scenario is the scenario's settings as they take effect (URL and model
// settled).
func (sr *ScenarioRun) Scenario() *Scenario { return &sr.sc }

// Shared is how many scenarios of the run send to this one's server.
func (sr *ScenarioRun) Shared() int { return sr.shared }

// Observer is the scenario's scraper of the server's metrics; nil when off.
func (sr *ScenarioRun) Observer() *observe.Observer { return sr.obs }

// Recorder is the scenario's recorder.
func (sr *ScenarioRun) Recorder() *record.Recorder { return sr.rec }

// Status is the scenario's current status; false before it started.
func (sr *ScenarioRun) Status() (runner.Status, bool) {
	h := sr.handle.Load()
	if h == nil {
		return runner.Status{}, false
	}
	return h.Status(), true
}

// SetPaused pauses or resumes the scenario's schedule (no-op before Start).
func (sr *ScenarioRun) SetPaused(paused bool) {
	if h := sr.handle.Load(); h != nil {
		if paused {
			h.Pause()
		} else {
			h.Resume()
		}
	}
}
