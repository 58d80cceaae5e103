package accuracy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/llmload/llmload/engine/launch"
	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/engine/shared/monoclock"
	"github.com/llmload/llmload/stack/sim"
)

// Options configure a calibration.
type Options struct {
	Steps []Step // DefaultSteps when empty

	// InProcess serves the simulator from this process instead of a child.
	// Quicker to start, but client and simulator then share one Go
	// runtime (scheduler, GC) and client CPU cannot be told from the
	// simulator's: the numbers are for smoke tests, not for publishing.
	InProcess bool
	// SimCommand returns the command that serves the simulator with the
	// given `llmload sim` flags (the first line it prints must contain
	// "on http://HOST:PORT"). Nil: SelfSimCommand, this executable's
	// `sim` subcommand.
	SimCommand func(args []string) (*exec.Cmd, error)
	// SimGOMAXPROCS, when > 0, is the child simulator's GOMAXPROCS.
	SimGOMAXPROCS int
	// ProbeCommand, when set, returns the command of a jitter probe
	// (`llmload jitter` with the given flags; SelfProbeCommand) to run
	// beside each step, so that the simulator's late deliveries can be
	// told apart: its own, or the machine stalled (docs/calibrate.md).
	// Nil: no probe; the simulator's lateness is then all counted as its
	// own.
	ProbeCommand func(args []string) (*exec.Cmd, error)

	// OutDir, when set, receives each step's results files, exactly as
	// `llmload run` writes them (summary.json, requests.jsonl,
	// windows.jsonl), under OutDir/NN-<step name>/. "" writes none; the
	// recorder then skips the per-request log, which `llmload run` never
	// does.
	OutDir string
	// Progress, when set, gets a line as each step starts and ends.
	Progress io.Writer
	// Pause is the idle time between steps (default 500 ms), so that one
	// step's teardown (closing thousands of sockets) does not load the
	// next one's start.
	Pause time.Duration
	// Version is recorded in the report.
	Version string
}

// Run calibrates: for each step it starts a fixed-profile simulator on
// loopback, drives it with the engine's own runner, pacer, gate, client
// and recorder, and measures the client's error against the timing the
// simulator promises. A step whose results are bad (failed requests, a
// saturated machine) is reported as untrustworthy, not as an error; Run
// fails only when a step cannot run at all. Results of the steps that ran
// are returned with the error.
func Run(ctx context.Context, opt Options) (*Report, error) {
	steps := opt.Steps
	if len(steps) == 0 {
		steps = DefaultSteps(false)
	}
	for _, s := range steps {
		if err := s.Validate(); err != nil {
			return nil, err
		}
	}
	if opt.SimCommand == nil {
		opt.SimCommand = SelfSimCommand
	}
	if opt.Pause <= 0 {
		opt.Pause = 500 * time.Millisecond
	}
	rep := newReport(opt)
	for i, s := range steps {
		if i > 0 {
			select {
			case <-time.After(opt.Pause):
			case <-ctx.Done():
			}
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, "step %d/%d: %s (TTFT %v, ITL %v, %d tokens, %.0f req/s, ~%.0f streams) for %v ...\n",
				i+1, len(steps), s.Name(), s.TTFT, s.ITL, s.Tokens, s.ArrivalRate(), s.InFlight(), s.Length)
		}
		dir := ""
		if opt.OutDir != "" {
			dir = filepath.Join(opt.OutDir, fmt.Sprintf("%02d-%s", i+1, s.Name()))
		}
		res, err := runStep(ctx, s, opt, dir)
		if err != nil {
			return rep, fmt.Errorf("calibration step %s: %w", s.Name(), err)
		}
		rep.Steps = append(rep.Steps, res)
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, "  %s\n", res.OneLine())
		}
	}
	rep.finish()
	return rep, nil
}

func startSim(ctx context.Context, s Step, opt Options) (simulator, error) {
	if opt.InProcess {
		return startInProcess(s.TTFT, s.ITL)
	}
	cmd, err := opt.SimCommand(simArgs(s.TTFT, s.ITL))
	if err != nil {
		return nil, err
	}
	return startChild(ctx, cmd, opt.SimGOMAXPROCS)
}

// rows is an endless synthetic source of identical rows: the schedule,
// not the rows, decides when requests are due.
type rows struct{ prompt, tokens int }

func (r *rows) Next() (trace.Row, error) {
	return trace.Row{ContextTokens: r.prompt, GeneratedTokens: r.tokens}, nil
}
func (r *rows) Close() error { return nil }

// mapper asks for exactly the row's output length (ignore_eos), so the
// simulator's schedule for every token is known.
type mapper struct{}

func (mapper) Map(row trace.Row) (openai.Spec, error) {
	return openai.Spec{Endpoint: request.Chat, PromptTokens: row.ContextTokens,
		MaxTokens: row.GeneratedTokens, IgnoreEOS: true}, nil
}

// sampler follows a running step: streams in flight and this process's
// resident memory.
type sampler struct {
	from, to time.Duration // the measured span

	mu       sync.Mutex
	n        int
	sum      float64
	maxIn    int
	maxRSS   int64
	rssKnown bool
}

func (sm *sampler) observe(st runner.Status) {
	rss, _, err := procMem(0)
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if err == nil {
		sm.maxRSS, sm.rssKnown = max(sm.maxRSS, rss), true
	}
	if st.Elapsed < sm.from || st.Elapsed > sm.to || st.Done {
		return
	}
	sm.n++
	sm.sum += float64(st.InFlight)
	sm.maxIn = max(sm.maxIn, st.InFlight)
}

// resources is a reading of the CPU and memory counters a step compares.
type resources struct {
	at              time.Time
	self, sim       time.Duration
	selfErr, simErr error
	probe           time.Duration // the jitter probe's CPU; 0 without one
	box             boxTimes
	boxErr          error
}

// readResources reads the CPU of this process, the simulator child
// (simPID 0: in-process) and the jitter probe (probePID 0: none).
func readResources(simPID, probePID int) resources {
	r := resources{at: time.Now()}
	r.self, r.selfErr = procCPU(0)
	if simPID > 0 {
		r.sim, r.simErr = procCPU(simPID)
	} else {
		r.simErr = errors.New("in-process")
	}
	if probePID > 0 {
		r.probe, _ = procCPU(probePID) // unreadable: counted under the others
	}
	r.box, r.boxErr = readBox()
	return r
}

func runStep(ctx context.Context, s Step, opt Options, dir string) (*StepResult, error) {
	sv, err := startSim(ctx, s, opt)
	if err != nil {
		return nil, err
	}
	defer sv.Close()

	// Leave the previous step's garbage behind, so this step's memory is
	// its own.
	runtime.GC()
	debug.FreeOSMemory()
	_ = resetPeak(0)
	if sv.PID() > 0 {
		_ = resetPeak(sv.PID())
	}

	var probe *probeChild
	if opt.ProbeCommand != nil {
		cmd, err := opt.ProbeCommand(probeArgs())
		if err != nil {
			return nil, err
		}
		if probe, err = startProbe(cmd); err != nil {
			return nil, err
		}
		defer probe.stop() // a no-op once stopped below
	}
	monoStart := monoclock.Now()
	before, err := scrapeSim(ctx, sv.URL())
	if err != nil {
		return nil, err
	}
	inFlight := s.InFlight()
	if s.Kind == Sessions {
		inFlight = float64(s.Sessions) // each user may have a turn out
	}
	limit := int(math.Ceil(inFlight*1.25)) + 16 // headroom: a late stream must not queue the next
	stream := s.StreamTime()

	acc := newAccum(s)
	smp := &sampler{from: s.warmup(), to: s.span()}
	// The same pipeline as `llmload run`, on a fixed prompt model (the
	// simulator counts words) and without scraping the server.
	sc := launch.Scenario{
		Name: "calibrate-" + s.Name(), URL: sv.URL(), Model: sim.DefaultConfig().Model, Out: dir,
		Concurrency: limit, OnFull: pace.Queue, Duration: s.span(), DrainTimeout: 5 * time.Second,
		Timeout: stream + 30*time.Second, StallTimeout: 10 * time.Second,
		SampleInterval: time.Second, ServerMetrics: "off",
	}
	var prog *chatProgram
	if s.Kind == Sessions {
		sc.Sessions = sessionSpec(s, &prog)
	} else {
		sc.Source, sc.Schedule, sc.Mapper = &rows{prompt: s.PromptTokens, tokens: s.Tokens}, pace.Constant(s.ArrivalRate()), mapper{}
	}
	run, err := launch.Prepare(ctx, launch.Config{
		Scenarios: []launch.Scenario{sc},
		Calibrate: launch.CalibrateOff,
		Meta:      map[string]any{"calibration_step": s},
		Version:   opt.Version,
	})
	if err != nil {
		return nil, err
	}
	defer run.Close()

	// Bound the step: its last request is due at span and ends one stream
	// time later; far beyond that something is stuck.
	stepCtx, cancel := context.WithTimeout(ctx, s.span()+stream+30*time.Second)
	defer cancel()
	start := readResources(sv.PID(), probe.PID())
	var sum *record.Summary
	runErr := run.Start(stepCtx, []launch.Watch{{OnResult: acc.add, Progress: smp.observe, Every: 100 * time.Millisecond}})
	if runErr == nil {
		o := run.Wait().Scenarios[0]
		sum, runErr = o.Summary, o.Err
	}
	end := readResources(sv.PID(), probe.PID())
	timedOut := stepCtx.Err() != nil && ctx.Err() == nil
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if runErr != nil && sum == nil {
		return nil, runErr
	}
	after, err := scrapeSim(ctx, sv.URL())
	if err != nil {
		return nil, err
	}
	simDelta, err := after.sub(before)
	if err != nil {
		return nil, err
	}

	res := &StepResult{Step: s, Concurrency: limit}
	res.fill(sum, acc, smp, start, end, simDelta, sv.PID())
	if s.Kind == Sessions {
		res.Sessions = sessionResult(sum, acc, prog)
	}
	if probe != nil {
		res.fillStalls(ctx, probe, sv.URL(), monoStart, monoclock.Now())
	}
	if runErr != nil {
		res.problem("the run ended with an error: %v", runErr)
	}
	if timedOut {
		res.problem("the step did not finish within %v of its schedule and was stopped", stream+30*time.Second)
	}
	res.judge()
	return res, nil
}

// fill computes the step's figures.
func (r *StepResult) fill(sum *record.Summary, acc *accum, smp *sampler, start, end resources, sd simCounters, simPID int) {
	s := r.Step
	wall := end.at.Sub(start.at)
	r.WallSeconds = wall.Seconds()
	r.Requests = sum.Completed + sum.Failed
	r.Completed, r.Failed = sum.Completed, sum.Failed
	r.Errors = sum.ErrorsByClass
	r.OutputTokens = sum.TotalOutputTokens
	r.TargetRate, r.AchievedRate = sum.TargetRate, sum.AchievedRate
	if r.TargetRate > 0 {
		r.RateError = r.AchievedRate/r.TargetRate - 1
	}

	acc.mu.Lock()
	r.Measured = acc.measured
	r.WrongTokens = acc.wrongTokens
	r.TTFTError, r.ITLError = acc.ttft.stats(), acc.itl.stats()
	r.TTFTSplit.ToServer, r.TTFTSplit.Back = acc.toServer.stats(), acc.back.stats()
	r.SendLag, r.ReleaseLag = acc.send.stats(), acc.rel.stats()
	acc.mu.Unlock()

	smp.mu.Lock()
	r.ExpectedInFlight = s.InFlight()
	if smp.n > 0 {
		r.InFlightMean = smp.sum / float64(smp.n)
	}
	r.InFlightMax = smp.maxIn
	sampledRSS, rssKnown := smp.maxRSS, smp.rssKnown
	smp.mu.Unlock()

	r.CPUs = runtime.NumCPU()
	r.GOMAXPROCS = runtime.GOMAXPROCS(0)
	if start.selfErr == nil && end.selfErr == nil && wall > 0 {
		c := end.self - start.self
		r.ClientCPUSeconds = c.Seconds()
		r.ClientCores = c.Seconds() / wall.Seconds()
		if r.OutputTokens > 0 {
			r.ClientCPUPerMTokens = c.Seconds() / float64(r.OutputTokens) * 1e6
		}
		r.ClientCPUKnown = true
	}
	r.SimInProcess = simPID == 0
	if simPID > 0 && start.simErr == nil && end.simErr == nil && wall > 0 {
		c := end.sim - start.sim
		r.SimCPUSeconds = c.Seconds()
		r.SimCores = c.Seconds() / wall.Seconds()
		r.SimCPUKnown = true
	}
	if wall > 0 {
		r.Machine.ProbeCores = (end.probe - start.probe).Seconds() / wall.Seconds()
	}
	if start.boxErr == nil && end.boxErr == nil && wall > 0 {
		r.BoxCores = (end.box.all - start.box.all).Seconds() / wall.Seconds()
		// Our own counters are finer than the clock-tick sum: never report
		// less in all than client, simulator and probe used.
		ours := r.ClientCores + r.SimCores + r.Machine.ProbeCores
		r.BoxCores = max(r.BoxCores, ours)
		r.BoxBusy = r.BoxCores / float64(r.CPUs)
		r.OtherCores = r.BoxCores - ours
		r.BoxKnown = true
		if start.box.psiKnown && end.box.psiKnown {
			r.CPUPressure = (end.box.pressure - start.box.pressure).Seconds() / wall.Seconds()
			r.PressureKnown = true
		}
	}
	if rss, peak, err := procMem(0); err == nil {
		r.ClientRSS, r.ClientPeakRSS = rss, max(peak, sampledRSS)
	} else if rssKnown {
		r.ClientPeakRSS = sampledRSS
	}
	if simPID > 0 {
		if _, peak, err := procMem(simPID); err == nil {
			r.SimPeakRSS = peak
		}
	}
	if la, err := loadAvg(); err == nil {
		r.LoadAvg = la
	}

	r.Sim = SimLag{Deliveries: int64(sd.Deliveries), Overruns: int64(sd.Overruns)}
	if sd.Deliveries > 0 {
		r.Sim.OverrunFraction = sd.Overruns / sd.Deliveries
		r.Sim.MeanMs = sd.LagSum / sd.Deliveries * 1e3
		r.Sim.P99Ms = sd.lagQuantile(0.99) * 1e3
		r.Sim.P50Ms = sd.lagQuantile(0.50) * 1e3
	}
	if len(r.Errors) > 0 {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		r.errorKeys = keys
	}
}
