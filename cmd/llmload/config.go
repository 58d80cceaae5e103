package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmload/llmload/engine/guard/credentials"
	"github.com/llmload/llmload/engine/guard/redact"
	"github.com/llmload/llmload/engine/guard/urlcheck"
	"github.com/llmload/llmload/engine/launch"
	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/session"
	"github.com/llmload/llmload/engine/results/observe"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/scripting"
)

// fallbackAPIKey is the API key when neither --api-key nor llmload.toml's
// api_key gives one: the variable api_key_env names, else, for an endpoint
// the user chose (userEndpoint), $LLMLOAD_API_KEY or $OPENAI_API_KEY.
// `llmload run` and `llmload stack status` both find the key this way.
func fallbackAPIKey(s fileSettings, userEndpoint bool) string {
	if s.APIKeyEnv != "" {
		return os.Getenv(s.APIKeyEnv)
	}
	if userEndpoint {
		key, _ := credentials.FromEnv(os.Getenv)
		return key
	}
	return ""
}

// resolve gives one scenario its settings by precedence: the flag when
// given, then the scenario's own value, then llmload.toml, then the
// flag's default. The result is what the engine runs.
func resolve(f runFlags, set map[string]bool, s fileSettings, sc *scripting.Scenario) (launch.Scenario, error) {
	e := launch.Scenario{
		Name: sc.Name, Source: sc.Source, Schedule: sc.Schedule, Mapper: sc.Mapper,
		Script: scriptHooks{sc}, Thresholds: sc.Thresholds, SLO: sc.SLO,
		WarmupRequests: sc.WarmupRequests, WarmupDuration: sc.WarmupDuration,

		URL: pickStr(set["url"], f.url, sc.URL, s.URL), Model: pickStr(set["model"], f.model, sc.Model, s.Model),
		APIKey: pickStr(set["api-key"], f.apiKey, "", s.APIKey), Out: pickStr(set["out"], f.out, "", s.Out),
		Timeout:        pickDur(set["timeout"], f.timeout, 0, s.Timeout.Duration),
		StallTimeout:   pickDur(set["stall-timeout"], f.stallTimeout, 0, s.StallTimeout.Duration),
		LogEvery:       pickDur(set["log-every"], f.logEvery, 0, s.LogEvery.Duration),
		SampleInterval: pickDur(set["sample-interval"], f.sampleInterval, 0, s.SampleInterval.Duration),
		DrainTimeout:   pickDur(set["drain-timeout"], f.drainTimeout, 0, s.DrainTimeout.Duration),
		Duration:       pickDur(set["duration"], f.duration, sc.Duration, 0),
		Limit:          f.limit,
		ServerMetrics:  pickStr(set["server-metrics"], f.serverMetrics, "", s.ServerMetrics),
		GPUMetrics:     pickStr(set["gpu-metrics"], f.gpuMetrics, "", s.GPUMetrics),
		GPUIDs:         pickStr(set["gpu-ids"], f.gpuIDs, "", s.GPUIDs),

		ServerMetricsAuth: f.serverMetricsAuth,
		PrometheusToken:   os.Getenv(credentials.PrometheusTokenEnv),
	}
	if e.ServerMetrics == "" {
		e.ServerMetrics = "auto"
	}
	if e.APIKey == "" {
		// The environment's key goes only to an endpoint the user chose
		// (--url, llmload.toml, the built-in simulator), not to a URL the
		// scenario's author wrote into it.
		e.APIKey = fallbackAPIKey(s, set["url"] || sc.URL == "")
	}
	switch {
	case set["limit"]:
	case sc.Limit > 0:
		e.Limit = sc.Limit
	case s.Limit > 0:
		e.Limit = s.Limit
	}
	if err := validateGiven(f, set); err != nil {
		return e, err
	}
	switch {
	case set["concurrency"]:
		e.Concurrency = f.concurrency
	case sc.Concurrency > 0:
		e.Concurrency = sc.Concurrency
	case s.Concurrency > 0:
		e.Concurrency = s.Concurrency
	default:
		e.Concurrency = 16
	}
	// Defaults for durations come from the flag set's own defaults.
	def := runFlags{}
	newRunFlagSet(&def)
	for _, d := range []struct{ v, def *time.Duration }{
		{&e.Timeout, &def.timeout}, {&e.StallTimeout, &def.stallTimeout}, {&e.LogEvery, &def.logEvery},
		{&e.SampleInterval, &def.sampleInterval}, {&e.DrainTimeout, &def.drainTimeout},
	} {
		if *d.v == 0 {
			*d.v = *d.def
		}
	}
	if err := validateLimits(&e); err != nil {
		return e, err
	}
	var err error
	if e.OnFull, err = onFull(sc); err != nil {
		return e, err
	}
	return e, validateURLs(&e)
}

// validateLimits checks the numbers that have no safe meaning out of range.
func validateLimits(e *launch.Scenario) error {
	switch {
	case e.Concurrency < 1:
		return fmt.Errorf("--concurrency must be at least 1, got %d", e.Concurrency)
	case e.Limit < 0:
		return fmt.Errorf("--limit must be >= 0, got %d", e.Limit)
	case e.SampleInterval < 100*time.Millisecond:
		return fmt.Errorf("--sample-interval must be at least 100ms, got %s", e.SampleInterval)
	case e.LogEvery < 0:
		return fmt.Errorf("--log-every must be >= 0, got %s", e.LogEvery)
	}
	return nil
}

// validateGiven refuses a value the user gave that the defaults would
// replace (0) or that means nothing (negative), naming the flag.
func validateGiven(f runFlags, set map[string]bool) error {
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
			return fmt.Errorf("--%s must be %s, got %s", d.name, d.want, d.v)
		}
	}
	return nil
}

// validateURLs checks the endpoints' form before anything is sent: no
// probe goes out with the key to a URL that is then refused. Whether
// they answer is the run's to find out.
func validateURLs(e *launch.Scenario) error {
	if e.URL != "" {
		if err := urlcheck.HTTP("--url", e.URL, "http://host:8000 or http://host:8000/v1/chat/completions"); err != nil {
			return err
		}
	}
	if m := e.ServerMetrics; m != "auto" && m != "off" {
		if err := metricsURL("--server-metrics", m, "http://host:8000/metrics (or auto, off, or "+observe.PromExample+")"); err != nil {
			return err
		}
	}
	for _, u := range observe.SplitTargets(e.GPUMetrics) {
		if err := metricsURL("--gpu-metrics", u, "comma-separated http://gpu-node:9400/metrics"); err != nil {
			return err
		}
	}
	if strings.TrimSpace(e.GPUIDs) != "" && strings.TrimSpace(e.GPUMetrics) == "" {
		return fmt.Errorf("--gpu-ids %q selects GPUs of --gpu-metrics, which is not set: add --gpu-metrics http://gpu-node:9400/metrics", e.GPUIDs)
	}
	return nil
}

// metricsURL checks a /metrics URL, or a Prometheus query API's prom+ URL.
func metricsURL(flag, u, example string) error {
	if !observe.IsProm(u) {
		return urlcheck.HTTP(flag, u, example)
	}
	if _, err := observe.ParseProm(u); err != nil {
		return fmt.Errorf("%s %s: %w", flag, redact.URL(u), err)
	}
	return nil
}

func onFull(sc *scripting.Scenario) (pace.OnFull, error) {
	switch sc.OnFull {
	case "", "queue":
		return pace.Queue, nil
	case "drop":
		return pace.Drop, nil
	}
	return pace.Queue, fmt.Errorf("scenario %s: on_full must be \"queue\" or \"drop\", got %q", sc.Name, sc.OnFull)
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

// assignOutDirs gives each scenario its results directory: --out (or
// llmload.toml's out), else results/<scenario>-<time>; with several
// scenarios, one subdirectory each under the script's name.
func assignOutDirs(scs []launch.Scenario, script string) {
	base := scs[0].Out
	if base == "" {
		name := scs[0].Name
		if len(scs) > 1 {
			name = strings.TrimSuffix(filepath.Base(script), filepath.Ext(script))
		}
		base = filepath.Join("results", fmt.Sprintf("%s-%s", name, time.Now().Format("20060102-150405")))
	}
	for i := range scs {
		scs[i].Out = base
		if len(scs) > 1 {
			scs[i].Out = filepath.Join(base, scs[i].Name)
		}
	}
}

// scriptHooks is a scenario's Lua code as the engine's launch.Script.
type scriptHooks struct{ sc *scripting.Scenario }

func (h scriptHooks) Setup() error                     { return h.sc.Hooks.Setup() }
func (h scriptHooks) Teardown(s *record.Summary) error { return h.sc.Hooks.Teardown(s) }

func (h scriptHooks) StartLive(snapshot func() *record.Snapshot, every time.Duration, stop func(error)) launch.Live {
	return h.sc.StartLive(scripting.LiveConfig{Snapshot: snapshot, Every: every, Stop: stop})
}

// sessionSpec is a session scenario's sessions as the engine runs them:
// its Lua session function, run per session on the script's Lua state.
func sessionSpec(scr *scripting.Script, sc *scripting.Scenario, seed uint64) *launch.SessionSpec {
	sp := sc.Session
	return &launch.SessionSpec{
		Config: session.Config{
			Users: sp.Users, Stages: sp.Stages, StartUsers: sp.StartUsers, Iterations: sp.Iterations,
			Starts: sp.Starts, Trace: sp.Trace, SessionHeader: sp.Header, Steered: sp.Steered,
		},
		Program: func(text *openai.Builder) session.Program { return scr.SessionProgram(sc, text, seed) },
	}
}
