// Package launch runs one or more scenarios side by side against their
// servers: it settles what a run needs before its clock starts (the
// built-in simulator, the model name, the prompt-length probes), then
// wires client, prompt builder, recorder, server observer and runner for
// each scenario on one shared epoch, and collects what each produced.
// `llmload run` and `llmload calibrate` both run through it, so a
// calibration measures exactly the pipeline a run uses.
//
// Concurrency: Prepare, Run.Start, Run.Wait and Run.Close are called from
// one goroutine, in that order (Close also after a failed Start). Methods
// of ScenarioRun are safe from any goroutine. The callbacks a caller hands
// in are called as their doc comments say.
package launch

import (
	"io"
	"time"

	"github.com/llmload/llmload/engine/load/capacity"
	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/load/session"
	"github.com/llmload/llmload/engine/load/shard"
	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/engine/results/threshold"
)

// Defaults of Config.
const (
	// DefaultEpochLead puts the run's start a moment ahead of the end of
	// Prepare, so the planners have built the first plans before they
	// are due: the first request is not late by a mapper's warm-up.
	DefaultEpochLead = 200 * time.Millisecond
	// DefaultProbeTimeout bounds each request made before the run starts
	// (GET /v1/models, POST /tokenize): a server that does not answer
	// them delays the start by this much, never the schedule.
	DefaultProbeTimeout = 5 * time.Second
)

// Calibration modes of the prompt-length model (Config.Calibrate).
const (
	CalibrateAuto  = "auto"  // POST /tokenize, else learn from usage
	CalibrateUsage = "usage" // learn from usage.prompt_tokens only
	CalibrateOff   = "off"   // one word, one token
)

// Scenario is one scenario of a run: its traffic and its settings as they
// take effect (after flag > scenario > llmload.toml > default).
type Scenario struct {
	Name     string
	Source   trace.Source
	Schedule pace.Schedule
	Mapper   runner.Mapper
	// Script, when set, runs the scenario's hooks around and during the
	// run; nil = none.
	Script Script

	Thresholds     []threshold.Threshold // checked against the summary
	SLO            record.SLO
	WarmupRequests int64
	WarmupDuration time.Duration

	URL    string // "" = the built-in simulator (Config.StartSim)
	Model  string // "" = the first model the server lists at /v1/models
	APIKey string
	Out    string // results directory; "" writes no file

	Timeout, StallTimeout time.Duration // per request
	LogEvery              time.Duration // progress interval; 0 = no progress calls
	SampleInterval        time.Duration // recorder window and server scrape interval
	Duration              time.Duration // plan nothing due later; 0 = no limit
	DrainTimeout          time.Duration
	Concurrency           int
	Limit                 int64
	OnFull                pace.OnFull

	// ServerMetrics is "auto" (the endpoint's base URL + /metrics), "off"
	// or a URL; GPUMetrics comma-separated DCGM exporter URLs
	// (observe.SplitTargets). Either may be a Prometheus query API's
	// prom+ URL.
	ServerMetrics, GPUMetrics string
	// GPUIDs, comma-separated DCGM gpu labels or UUIDs, limits the GPU
	// series of GPUMetrics to the GPUs the server uses; empty: all.
	GPUIDs string
	// ServerMetricsAuth sends the API key to a ServerMetrics URL of
	// another origin than URL too; by default only to the endpoint's own.
	ServerMetricsAuth bool
	// PrometheusToken is the bearer token for a Prometheus that
	// ServerMetrics or GPUMetrics reads through its query API (prom+ URLs,
	// observe.ParseProm); "" sends none.
	PrometheusToken string

	// Sessions, when set, makes this a session scenario: closed-loop users
	// or open-loop session starts (engine/load/session) drive it instead of
	// Source, Schedule and Mapper.
	Sessions *SessionSpec

	// Capacity, when set, makes this a capacity search (engine/load/capacity):
	// its steps send Source's rows through Mapper instead of Schedule, or,
	// with Sessions (Config.Steered, by users), set the number of users.
	// Name, SLO, Budget (from Duration) and Limit are filled from the
	// scenario.
	Capacity *capacity.Config
}

// SessionSpec is how a session scenario runs. Config's Name, Builder,
// Program, Duration and Limit are filled from the scenario; Program is
// built once the scenario's prompt builder exists, which writes the
// sessions' synthetic text.
type SessionSpec struct {
	Config  session.Config
	Program func(text *openai.Builder) session.Program
}

// Config is a run: its scenarios and the settings they share.
type Config struct {
	Scenarios []Scenario

	Calibrate       string // CalibrateAuto (default), CalibrateUsage or CalibrateOff
	TokenIDs        bool   // completions prompts as token-id lists
	ContinuousUsage bool
	BlockSize       int    // tokens per prefix block of hash-id traces
	Seed            uint64 // the traffic's seed, recorded in the summary
	PromptSeed      uint64 // prompt text; 0 = a fresh one per run
	Version         string

	// Meta is added to every scenario's summary.json "meta".
	Meta map[string]any
	// Custom, when set, gives the script's custom metrics for the summary.
	Custom func() map[string]any

	// StartSim serves a simulator for the scenarios without a URL (one
	// for all of them) and returns its base URL and how to stop it. It is
	// called at most once, from Prepare.
	StartSim func(model string) (url string, stop func(), err error)

	EpochLead    time.Duration // default DefaultEpochLead
	ProbeTimeout time.Duration // default DefaultProbeTimeout

	// Shard, when on, runs only this shard's part of every scenario
	// (package shard); a capacity search cannot be split and is refused.
	Shard shard.Spec
	// StartAt, when set, is the epoch (--start-at): shards started apart
	// share one. Prepare must end before it; Start waits for it.
	StartAt time.Time

	// Abort, when closed, cancels in-flight requests at once (a second
	// Ctrl-C); cancelling Start's ctx only stops sending and drains.
	Abort <-chan struct{}
	// Log receives warnings (a failed probe, unsent requests); nil = discard.
	Log io.Writer
}

// Script is the user code of a scenario (scripting.Scenario's hooks and
// abort_on_fail thresholds). Setup and Teardown are called from the
// goroutine that calls Run.Start and Run.Wait; Teardown only when the run
// produced a summary.
type Script interface {
	Setup() error
	// StartLive starts the code that watches the run as it goes. snapshot
	// reads the recorder; every is how often to look at it; stop, called
	// at most once and without blocking, stops the run gracefully.
	StartLive(snapshot func() *record.Snapshot, every time.Duration, stop func(error)) Live
	Teardown(*record.Summary) error
}

// Live watches one running scenario.
type Live interface {
	// OnResult sees every result; it is called concurrently by the workers.
	OnResult(*request.Result)
	// Finish is called once, after the last OnResult, with the recorder's
	// final snapshot; its error (a hook error, a threshold abort) is the
	// scenario's ScenarioOutcome.LiveErr.
	Finish(final *record.Snapshot) error
}

// Watch is what a caller adds to one scenario's run (exporter, dashboard,
// calibration accumulator).
type Watch struct {
	// OnResult, when set, sees every result before the prompt model and
	// the script do; it must be safe for concurrent use.
	OnResult func(*request.Result)
	// Progress, when set, is called on the runner's progress goroutine
	// every Every (0 = Scenario.LogEvery) and once at the end.
	Progress func(runner.Status)
	Every    time.Duration
}

func (c *Config) defaults() {
	if c.Calibrate == "" {
		c.Calibrate = CalibrateAuto
	}
	if c.EpochLead <= 0 {
		c.EpochLead = DefaultEpochLead
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = DefaultProbeTimeout
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}
