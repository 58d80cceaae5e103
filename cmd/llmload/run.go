package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmload/llmload/engine/guard/fdlimit"
	"github.com/llmload/llmload/engine/guard/redact"
	"github.com/llmload/llmload/engine/guard/resultsdir"
	"github.com/llmload/llmload/engine/launch"
	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/results/progress"
	"github.com/llmload/llmload/engine/results/record"
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

// runCmd is `llmload run`: flags and files to a launch.Config, the run,
// then tables and an exit code.
func runCmd(args []string, stdout, stderr io.Writer) int {
	rc, code, done := loadRun(args, stdout, stderr)
	if done {
		return code
	}
	defer rc.scr.Close()
	metrics, err := startMetrics(rc.f, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "llmload run: %v\n", err)
		return exitConfig
	}
	defer metrics.close()
	stop := catchSignals(stderr, rc.scr.Interrupt)
	defer stop.release()
	rc.cfg.Abort = stop.abort
	rc.cfg.StartSim = func(model string) (string, func(), error) {
		addr, closeSim, err := startBuiltinSim(rc.f, model)
		if err == nil {
			fmt.Fprintf(stdout, "no --url: built-in simulator on http://%s\n", addr)
		}
		return "http://" + addr, closeSim, err
	}
	run, err := launch.Prepare(stop.ctx, rc.cfg)
	if err != nil {
		fmt.Fprintf(stderr, "llmload run: %v\n", err)
		return exitConfig
	}
	defer run.Close()
	for _, sr := range run.Scenarios() {
		sc := sr.Scenario()
		fmt.Fprintf(stdout, "scenario %s -> %s (model %s, concurrency %d, results in %s)\n", sc.Name, redact.URL(sc.URL), sc.Model, sc.Concurrency, sc.Out)
	}
	var dash *dashboardRun
	if useDashboard(rc.f, stdout) {
		if dash, err = startDashboard(rc.f, run.Scenarios(), stop.userStop, stop.abortNow); err != nil {
			fmt.Fprintf(stderr, "llmload run: no dashboard (%v); printing progress lines instead (--no-ui)\n", err)
			dash = nil
		}
	}
	watches, err := runWatches(rc.f, run.Scenarios(), metrics, dash, stdout)
	if err == nil {
		err = run.Start(stop.ctx, watches)
	}
	if err != nil {
		dash.finish()
		fmt.Fprintf(stderr, "llmload run: %v\n", err)
		return exitConfig
	}
	out := run.Wait()
	dash.finish()
	code = reportRun(out, stop.interrupted.Load(), stdout, stderr)
	if rc.f.report {
		code = max(code, writeRunReports(out, stdout, stderr))
	}
	if code == exitOK && stop.interrupted.Load() {
		code = exitInterrupted
	}
	metrics.finish(stop.ctx, stop.abort, stdout)
	return code
}

// runConfig is `llmload run` after its command line, llmload.toml and the
// scenario file are read.
type runConfig struct {
	f   runFlags
	scr *scripting.Script
	cfg launch.Config
}

// loadRun reads the command line, llmload.toml and the scenario file. It
// returns an exit code when that ended the command (help or an error).
func loadRun(args []string, stdout, stderr io.Writer) (rc runConfig, code int, done bool) {
	fs := newRunFlagSet(&rc.f)
	f := &rc.f
	script, engineArgs, options, err := splitArgs(fs, args)
	if err != nil {
		fmt.Fprintf(stderr, "llmload run: %v\n", err)
		return rc, exitConfig, true
	}
	if err := fs.Parse(engineArgs); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			runHelp(stdout, fs, script)
			return rc, exitOK, true
		}
		fmt.Fprintf(stderr, "llmload run: %v (see llmload run --help)\n", err)
		return rc, exitConfig, true
	}
	if script == "" {
		fmt.Fprintln(stderr, "llmload run: no scenario file; try: llmload run scenarios/azure_conv.lua")
		return rc, exitConfig, true
	}
	switch f.calibrate {
	case launch.CalibrateAuto, launch.CalibrateUsage, launch.CalibrateOff:
	default:
		fmt.Fprintf(stderr, "llmload run: --calibrate %q: want auto, usage or off\n", f.calibrate)
		return rc, exitConfig, true
	}
	if err := applyShardFlags(f, &rc.cfg, time.Now()); err != nil {
		fmt.Fprintf(stderr, "llmload run: %v\n", err)
		return rc, exitConfig, true
	}
	if rc.cfg.Scenarios, rc.scr, err = loadScenarios(fs, f, script, options); err != nil {
		fmt.Fprintf(stderr, "llmload run: %v\n", err)
		return rc, exitConfig, true
	}
	assignOutDirs(rc.cfg.Scenarios, script)
	for _, sc := range rc.cfg.Scenarios {
		if err := resultsdir.Prepare(sc.Out, f.overwrite); err != nil {
			rc.scr.Close()
			fmt.Fprintf(stderr, "llmload run: scenario %s: %v\n", sc.Name, err)
			return rc, exitConfig, true
		}
	}
	raiseFileLimit(rc.cfg.Scenarios, stderr)
	rc.cfg.Calibrate, rc.cfg.TokenIDs, rc.cfg.ContinuousUsage = f.calibrate, f.tokenIDs, f.contUsage
	rc.cfg.BlockSize, rc.cfg.Seed, rc.cfg.PromptSeed = f.blockSize, f.seed, f.promptSeed
	rc.cfg.Version, rc.cfg.Custom, rc.cfg.Log = version, rc.scr.CustomMetrics, stderr
	rc.cfg.Meta = map[string]any{"scenario_file": script, "args": redact.Args(append([]string{"run"}, args...), func(name string) bool {
		fl := fs.Lookup(name)
		return fl != nil && isBoolFlag(fl)
	})}
	if digest, err := scenarioDigest(script); err == nil {
		rc.cfg.Meta["scenario_sha256"] = digest
	}
	if len(rc.f.metadata) > 0 {
		rc.cfg.Meta["metadata"] = map[string]string(rc.f.metadata)
	}
	return rc, 0, false
}

// loadScenarios reads llmload.toml and the script, and resolves each
// scenario's settings. It also settles the run-wide exporter settings
// (flag, then llmload.toml, then off) in f.
func loadScenarios(fs *flag.FlagSet, f *runFlags, script string, options map[string]string) ([]launch.Scenario, *scripting.Script, error) {
	set := setFlags(fs)
	settings, err := loadSettings(f.config, set["config"])
	if err != nil {
		return nil, nil, err
	}
	var reserved []string
	fs.VisitAll(func(fl *flag.Flag) { reserved = append(reserved, fl.Name) })
	scr, err := scripting.Load(script, scripting.Env{Args: options, SkipBad: f.skipBad, Seed: f.seed, Reserved: reserved, AllowRead: f.allowRead})
	if err != nil {
		return nil, nil, err
	}
	if len(scr.Scenarios) == 0 {
		scr.Close()
		return nil, nil, fmt.Errorf("%s returns no scenario; end it with return llm.scenario{...}", script)
	}
	scs := make([]launch.Scenario, len(scr.Scenarios))
	for i, sc := range scr.Scenarios {
		// Before anything starts: a typo in the request function shows now.
		if err := scr.DryRun(sc); err != nil {
			scr.Close()
			return nil, nil, err
		}
		if scs[i], err = resolve(*f, set, settings, sc); err != nil {
			scr.Close()
			return nil, nil, err
		}
		if sc.Session != nil {
			scs[i].Sessions = sessionSpec(scr, sc, f.seed)
		}
		scs[i].Capacity = sc.Capacity
	}
	if !set["metrics-addr"] && settings.MetricsAddr != "" {
		f.metricsAddr = settings.MetricsAddr
	}
	if !set["metrics-linger"] && settings.MetricsLinger.Duration != 0 {
		f.metricsLinger = settings.MetricsLinger.Duration
	}
	return scs, scr, nil
}

// runWatches gives each scenario its exporter series and its progress:
// a dashboard page per scenario (keys 1-9, arrows), or progress lines.
func runWatches(f runFlags, runs []*launch.ScenarioRun, metrics *metricsRun, dash *dashboardRun, stdout io.Writer) ([]launch.Watch, error) {
	watches := make([]launch.Watch, len(runs))
	for i, sr := range runs {
		w := &watches[i]
		var err error
		if w.OnResult, err = metrics.attach(sr); err != nil {
			return nil, err
		}
		sc := sr.Scenario()
		if dash != nil {
			w.Progress = dash.progress(f, i, sr)
			if sc.LogEvery <= 0 {
				w.Every = time.Second
			}
			continue
		}
		prefix := ""
		if len(runs) > 1 {
			prefix = sc.Name + " "
		}
		var tracker progress.Tracker // called from the runner's progress goroutine only
		w.Progress = func(s runner.Status) {
			est := tracker.Update(progressInput(s))
			fmt.Fprintln(stdout, prefix+record.FormatProgress(s.Snapshot, record.ProgressExtra{
				Sent: s.Released, InFlight: s.InFlight, Queued: s.Queued, Total: s.Total,
				TokensPerSec: est.TokensPerSec, ETA: est.ETA,
			}))
		}
	}
	return watches, nil
}

// raiseFileLimit lifts the open-file limit for a socket per request in
// flight: a low `ulimit -n` fails requests as connect errors. It warns when
// the limit is still short.
func raiseFileLimit(scs []launch.Scenario, stderr io.Writer) {
	var need uint64
	for _, sc := range scs {
		need += fdlimit.Need(sc.Concurrency, sc.URL == "")
	}
	fdlimit.Raise()
	if w := fdlimit.Shortfall(need); w != "" {
		fmt.Fprintf(stderr, "llmload run: warning: %s\n", w)
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
