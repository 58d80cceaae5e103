package accuracy

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"time"
)

// SimLag is the simulator's own lateness during a step, from its
// /metrics: every token delivery it timed, how many started more than
// 1 ms after their deadline, and the lag distribution (percentiles are
// bucket upper bounds).
type SimLag struct {
	Deliveries      int64   `json:"deliveries"`
	Overruns        int64   `json:"overruns"`
	OverrunFraction float64 `json:"overrun_fraction"`
	MeanMs          float64 `json:"mean_ms"`
	P50Ms           float64 `json:"p50_le_ms"`
	P99Ms           float64 `json:"p99_le_ms"`

	// With a jitter probe (Machine.Known): the overruns whose wait
	// overlapped a machine stall, and the rest, the simulator's own.
	// Overruns the simulator's log no longer held count as its own.
	Matched      bool    `json:"matched_with_stalls"`
	DuringStalls int64   `json:"overruns_during_stalls"`
	Own          int64   `json:"own_overruns"`
	OwnFraction  float64 `json:"own_overrun_fraction"`
}

// OwnOrAll is the fraction of deliveries that were late through the
// simulator's own doing: its own overruns when they could be told apart
// from machine stalls, else every overrun.
func (s SimLag) OwnOrAll() float64 {
	if s.Matched {
		return s.OwnFraction
	}
	return s.OverrunFraction
}

// MachineStalls is what the jitter probe (`llmload jitter`, one pinned
// thread per CPU waking every 500 µs) saw during a step: how often the
// machine failed to run a thread that asked to run, for 1 ms or more.
type MachineStalls struct {
	Known      bool    `json:"known"`
	Error      string  `json:"error,omitempty"`
	Wakeups    int64   `json:"wakeups"`
	Stalls     int64   `json:"stalls"`
	StalledMs  float64 `json:"stalled_ms"` // summed over CPUs
	LongestMs  float64 `json:"longest_ms"`
	WakeP99Ms  float64 `json:"wake_p99_ms"` // the worst CPU's
	Coverage   float64 `json:"coverage"`    // fraction of the step inside some CPU's stall
	ProbeCores float64 `json:"probe_cores"` // the probe's own CPU use
}

// StepResult is what one step measured. Errors are measured minus true
// (the simulator's TTFT and ITL); lags are how late a request was
// released by the pacer (ReleaseLag) and sent (SendLag) against its due
// time. It is a value once Run returns.
type StepResult struct {
	Step        Step    `json:"step"`
	Concurrency int     `json:"concurrency_limit"`
	WallSeconds float64 `json:"wall_s"`

	Requests     int64            `json:"requests"`
	Completed    int64            `json:"completed"`
	Failed       int64            `json:"failed"`
	Errors       map[string]int64 `json:"errors_by_class,omitempty"`
	WrongTokens  int64            `json:"wrong_token_count"` // completed with another length than asked
	Measured     int64            `json:"measured"`          // completed after the warm-up, in the error figures
	OutputTokens int64            `json:"output_tokens"`

	TTFTError ErrStats `json:"ttft_error"`
	// TTFTSplit splits each measured TTFT error at the simulator's receipt
	// of the request (its X-Llmload-Sim-Receipt header; one host, one
	// clock): ToServer is sent -> received (the client's write, loopback,
	// the simulator's accept and parse), Back is the rest (the simulator's
	// lateness, loopback, the client's read and parse). N is 0 when the
	// simulator did not say.
	TTFTSplit struct {
		ToServer ErrStats `json:"to_server"`
		Back     ErrStats `json:"back"`
	} `json:"ttft_error_split"`
	ITLError   ErrStats `json:"itl_error"`
	SendLag    ErrStats `json:"send_lag"`
	ReleaseLag ErrStats `json:"release_lag"`

	TargetRate   float64 `json:"target_rate"`
	AchievedRate float64 `json:"achieved_rate"`
	RateError    float64 `json:"rate_error"` // achieved/target - 1

	ExpectedInFlight float64 `json:"expected_in_flight"`
	InFlightMean     float64 `json:"in_flight_mean"`
	InFlightMax      int     `json:"in_flight_max"`

	CPUs                int     `json:"cpus"`
	GOMAXPROCS          int     `json:"gomaxprocs"`
	ClientCPUKnown      bool    `json:"client_cpu_known"`
	ClientCPUSeconds    float64 `json:"client_cpu_s"`
	ClientCores         float64 `json:"client_cores"`
	ClientCPUPerMTokens float64 `json:"client_cpu_s_per_1m_tokens"`
	SimInProcess        bool    `json:"sim_in_process"` // client figures then include the simulator
	SimCPUKnown         bool    `json:"sim_cpu_known"`
	SimCPUSeconds       float64 `json:"sim_cpu_s"`
	SimCores            float64 `json:"sim_cores"`
	BoxKnown            bool    `json:"box_known"`
	BoxBusy             float64 `json:"box_busy"`    // fraction of all CPUs busy, from every process's CPU time
	BoxCores            float64 `json:"box_cores"`   // CPUs' worth busy
	OtherCores          float64 `json:"other_cores"` // busy CPUs neither client nor simulator used
	PressureKnown       bool    `json:"cpu_pressure_known"`
	CPUPressure         float64 `json:"cpu_pressure"` // fraction of the time some runnable task waited for a CPU (PSI)
	LoadAvg             float64 `json:"load_avg_1m"`
	ClientRSS           int64   `json:"client_rss_bytes"`
	ClientPeakRSS       int64   `json:"client_peak_rss_bytes"`
	SimPeakRSS          int64   `json:"sim_peak_rss_bytes,omitempty"`

	Sim     SimLag        `json:"sim_lag"`
	Machine MachineStalls `json:"machine_stalls"`

	// Sessions holds a Sessions step's own figures; nil for other steps.
	Sessions *SessionResult `json:"sessions,omitempty"`

	Trusted  bool     `json:"trusted"`
	Problems []string `json:"problems,omitempty"` // why it is not trusted
	Notes    []string `json:"notes,omitempty"`    // caveats that do not void it

	errorKeys []string
}

func (r *StepResult) problem(format string, a ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, a...))
}

func (r *StepResult) note(format string, a ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, a...))
}

// Thresholds of the verdict.
const (
	saturated       = 0.90 // of the CPUs a process (or the machine) can use
	simOverrunNote  = 0.01 // of the simulator's deliveries more than 1 ms late
	simOverrunLimit = 0.05
	otherCoresNote  = 0.25 // CPUs' worth used by other processes
	pressureNote    = 0.50
	minMeasured     = 20
)

// judge decides whether the step's numbers describe the client.
func (r *StepResult) judge() {
	if r.Failed > 0 {
		var parts []string
		for _, k := range r.errorKeys {
			parts = append(parts, fmt.Sprintf("%s %d", k, r.Errors[k]))
		}
		r.problem("%d of %d requests failed (%s)", r.Failed, r.Requests, strings.Join(parts, ", "))
	}
	if r.WrongTokens > 0 {
		r.problem("%d requests completed with another token count than the %d asked for", r.WrongTokens, r.Step.Tokens)
	}
	if r.BoxKnown && r.BoxBusy >= saturated {
		r.problem("the machine was CPU-saturated (%.0f%% of %d CPUs busy): the errors include waiting for a CPU", r.BoxBusy*100, r.CPUs)
	}
	if r.ClientCPUKnown {
		usable := float64(min(r.GOMAXPROCS, r.CPUs))
		if r.ClientCores >= saturated*usable {
			who := "the client"
			if r.SimInProcess {
				who = "the process (client and in-process simulator)"
			}
			r.problem("%s was CPU-saturated (%.2f of %.0f usable CPUs)", who, r.ClientCores, usable)
		}
	}
	if r.SimCPUKnown && r.SimCores >= saturated*float64(r.CPUs) {
		r.problem("the simulator was CPU-saturated (%.2f CPUs)", r.SimCores)
	}
	switch {
	case r.Sim.Deliveries > 0 && r.Sim.OverrunFraction > simOverrunLimit:
		r.problem("the simulator fell behind: %.1f%% of its %d token deliveries started more than 1 ms late (mean lag %s, p99 <= %s), so the errors are partly its own, not the client's: lower the streams or raise the ITL",
			r.Sim.OverrunFraction*100, r.Sim.Deliveries, fmtMs(r.Sim.MeanMs), fmtMs(r.Sim.P99Ms))
	case r.Sim.Deliveries > 0 && r.Sim.OverrunFraction > simOverrunNote:
		r.note("%.1f%% of the simulator's token deliveries started more than 1 ms late (mean lag %s): part of the errors is the simulator's",
			r.Sim.OverrunFraction*100, fmtMs(r.Sim.MeanMs))
	}
	if r.Sim.Matched && r.Sim.Overruns > 0 {
		r.note("of the simulator's %d late deliveries, %d waited through a machine stall (stalls cover %.1f%% of the step), %d (%.2f%% of all deliveries) are its own",
			r.Sim.Overruns, r.Sim.DuringStalls, r.Machine.Coverage*100, r.Sim.Own, r.Sim.OwnFraction*100)
	}
	if r.Machine.Known && r.Machine.Stalls > 0 {
		r.note("the machine stalled %d times for 1 ms or more (longest %s; a pinned probe thread per CPU saw it): those delays are in every figure and are neither llmload's nor the simulator's",
			r.Machine.Stalls, fmtMs(r.Machine.LongestMs))
	}
	if r.Machine.Error != "" {
		r.note("no machine-stall figures: %s", r.Machine.Error)
	}
	if r.Measured < minMeasured {
		r.problem("only %d requests were measured after the warm-up: lengthen the step", r.Measured)
	}
	if r.Sessions != nil {
		r.Sessions.judge(r)
	}
	if r.SimInProcess {
		r.note("in-process simulator: client and simulator share one Go runtime, and the CPU figures include both")
	}
	if r.BoxKnown && r.OtherCores >= otherCoresNote {
		r.note("other processes used %.2f CPUs during the step: the numbers are noisier than on a quiet machine", r.OtherCores)
	}
	if r.PressureKnown && r.CPUPressure >= pressureNote {
		r.note("some runnable task was waiting for a CPU %.0f%% of the time (CPU pressure): the errors include CPU queueing", r.CPUPressure*100)
	}
	if r.Step.Kind == Streams && r.InFlightMean > 0 && r.InFlightMean < 0.9*r.ExpectedInFlight {
		r.note("only %.0f of %d streams were in flight on average", r.InFlightMean, r.Step.Streams)
	}
	r.Trusted = len(r.Problems) == 0
}

// OneLine is a short human summary of the step.
func (r *StepResult) OneLine() string {
	v := "ok"
	if !r.Trusted {
		v = "NOT TRUSTWORTHY: " + strings.Join(r.Problems, "; ")
	}
	split := ""
	if sp := r.TTFTSplit; sp.ToServer.N > 0 {
		split = fmt.Sprintf(" (%s to the simulator, %s back)", fmtMs(sp.ToServer.Mean), fmtMs(sp.Back.Mean))
	}
	turns := ""
	if ss := r.Sessions; ss != nil {
		turns = fmt.Sprintf(" (turn 1 %s, later turns %s p99 %s)", fmtMs(ss.FirstTurn.Mean), fmtMs(ss.LaterTurns.Mean), fmtMs(ss.LaterTurns.P99))
	}
	return fmt.Sprintf("%s: %d requests, TTFT error mean %s%s%s p99 %s, ITL error mean %s p99 %s, send lag p99 %s, %.0f/%.0f req/s; %s",
		r.Step.Name(), r.Requests, fmtMs(r.TTFTError.Mean), split, turns, fmtMs(r.TTFTError.P99),
		fmtMs(r.ITLError.MeanAbs), fmtMs(r.ITLError.P99), fmtMs(r.SendLag.P99),
		r.AchievedRate, r.TargetRate, v)
}

// Machine describes where the calibration ran.
type Machine struct {
	CPUs        int     `json:"cpus"`
	GOMAXPROCS  int     `json:"gomaxprocs"`
	GoVersion   string  `json:"go_version"`
	OS          string  `json:"os"`
	Arch        string  `json:"arch"`
	CPUModel    string  `json:"cpu_model,omitempty"`
	Kernel      string  `json:"kernel,omitempty"`
	LoadAvgFrom float64 `json:"load_avg_1m_at_start"`
}

// Report is a whole calibration. It is a value once Run returns.
type Report struct {
	Version string        `json:"version,omitempty"`
	Started time.Time     `json:"started"`
	Seconds float64       `json:"duration_s"`
	Mode    string        `json:"mode"` // "separate-process" or "in-process"
	Machine Machine       `json:"machine"`
	Steps   []*StepResult `json:"steps"`
	Targets []TargetCheck `json:"targets"`
	Trusted bool          `json:"trusted"` // every step trusted
}

func newReport(opt Options) *Report {
	r := &Report{Version: opt.Version, Started: time.Now(), Mode: "separate-process"}
	if opt.InProcess {
		r.Mode = "in-process"
	}
	r.Machine = Machine{
		CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPUModel: cpuModel(), Kernel: kernelRelease(),
	}
	if la, err := loadAvg(); err == nil {
		r.Machine.LoadAvgFrom = la
	}
	return r
}

func (r *Report) finish() {
	r.Seconds = time.Since(r.Started).Seconds()
	r.Trusted = true
	for _, s := range r.Steps {
		r.Trusted = r.Trusted && s.Trusted
	}
	r.Targets = CheckTargets(r.Steps)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteTable writes the report as two aligned tables (accuracy, then
// cost), each untrustworthy step's reasons, and the targets.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "llmload calibrate %s: %s simulator, %d CPUs (GOMAXPROCS %d), %s, %s %s/%s; load average %.2f at start\n",
		r.Version, r.Mode, r.Machine.CPUs, r.Machine.GOMAXPROCS, orDash(r.Machine.CPUModel), r.Machine.GoVersion,
		r.Machine.OS, r.Machine.Arch, r.Machine.LoadAvgFrom)
	fmt.Fprintln(w, "errors are measured minus the simulator's true TTFT / ITL (ms); ITL columns are |error|; lags are against the schedule;")
	fmt.Fprintln(w, "sim lag is the simulator's own lateness, included in the errors (TTFT error - sim lag ~ the client's own)")
	fmt.Fprintln(w)
	t := &table{}
	t.row("step", "ttft", "itl", "tok", "reqs", "meas",
		"ttft err mean", "p50", "p99", "sim lag mean", "itl err mean", "p50", "p99",
		"send lag p50", "p99", "req/s target", "achieved", "verdict")
	for _, s := range r.Steps {
		v := "ok"
		if !s.Trusted {
			v = "UNTRUSTED"
		}
		t.row(s.Step.Name(), fmtDur(s.Step.TTFT), fmtDur(s.Step.ITL), itoa(s.Step.Tokens), i64(s.Requests), i64(s.Measured),
			f3(s.TTFTError.Mean), f3(s.TTFTError.P50), f3(s.TTFTError.P99), f3(s.Sim.MeanMs),
			f3(s.ITLError.MeanAbs), f3(s.ITLError.P50), f3(s.ITLError.P99),
			f3(s.SendLag.P50), f3(s.SendLag.P99),
			f1(s.TargetRate), fmt.Sprintf("%.1f (%+.2f%%)", s.AchievedRate, s.RateError*100), v)
	}
	t.write(w)
	fmt.Fprintln(w)
	t = &table{}
	t.row("step", "streams avg/max", "tok/s", "client CPUs", "CPU s/1M tok", "client RSS MB", "sim CPUs", "sim RSS MB",
		"box busy", "others", "cpu pressure", "sim late>1ms", "own", "sim lag p99<=", "stalls", "longest", "stalled")
	for _, s := range r.Steps {
		tokRate := "-"
		if s.WallSeconds > 0 {
			tokRate = fmt.Sprintf("%.0f", float64(s.OutputTokens)/s.WallSeconds)
		}
		client, perM := "-", "-"
		if s.ClientCPUKnown {
			client, perM = f2(s.ClientCores), f1(s.ClientCPUPerMTokens)
			if s.SimInProcess {
				client += " (+sim)"
			}
		}
		simc, box, others, psi := "-", "-", "-", "-"
		if s.SimCPUKnown {
			simc = f2(s.SimCores)
		}
		if s.BoxKnown {
			box, others = fmt.Sprintf("%.0f%%", s.BoxBusy*100), f2(s.OtherCores)
		}
		if s.PressureKnown {
			psi = fmt.Sprintf("%.0f%%", s.CPUPressure*100)
		}
		simRSS := "-"
		if s.SimPeakRSS > 0 {
			simRSS = mb(s.SimPeakRSS)
		}
		own, stalls, longest, stalled := "-", "-", "-", "-"
		if s.Sim.Matched {
			own = fmt.Sprintf("%.2f%%", s.Sim.OwnFraction*100)
		}
		if s.Machine.Known {
			stalls = i64(s.Machine.Stalls)
			longest = fmtMs(s.Machine.LongestMs)
			stalled = fmt.Sprintf("%.1f%%", s.Machine.Coverage*100)
		}
		t.row(s.Step.Name(), fmt.Sprintf("%.0f/%d", s.InFlightMean, s.InFlightMax), tokRate, client, perM,
			mb(s.ClientPeakRSS), simc, simRSS, box, others, psi,
			fmt.Sprintf("%.2f%%", s.Sim.OverrunFraction*100), own, fmtMs(s.Sim.P99Ms), stalls, longest, stalled)
	}
	t.write(w)
	r.writeSessionTable(w)
	for _, s := range r.Steps {
		for _, p := range s.Problems {
			fmt.Fprintf(w, "\n%s NOT TRUSTWORTHY: %s", s.Step.Name(), p)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "\n%s note: %s", s.Step.Name(), n)
		}
	}
	fmt.Fprintln(w)
	if len(r.Targets) > 0 {
		fmt.Fprintln(w, "\ntargets (set for a 2-vCPU machine; see docs/performance.md):")
		for _, c := range r.Targets {
			fmt.Fprintf(w, "  %-4s %s: %s\n", c.verdict(), c.Target, c.Measured)
		}
	}
	if !r.Trusted {
		fmt.Fprintln(w, "\nSome steps are NOT TRUSTWORTHY (reasons above): their errors describe this machine's load, not llmload. Re-run on a quieter machine, or with fewer streams / a longer ITL.")
	}
}

// writeSessionTable writes a row per Sessions step: the TTFT error of
// the turns after the first, that of the first for comparison, and how
// the conversations grew. Nothing when no Sessions step ran.
func (r *Report) writeSessionTable(w io.Writer) {
	t := &table{}
	for _, s := range r.Steps {
		ss := s.Sessions
		if ss == nil {
			continue
		}
		if len(t.rows) == 0 {
			t.row("step", "think", "sessions started/done", "turn 1 n", "ttft err mean", "p99",
				"later turns n", "ttft err mean", "p99", "req bytes turn 1", "last turn", "answers resent", "step cost p99 ms", "verdict")
		}
		v := "ok"
		if !s.Trusted {
			v = "UNTRUSTED"
		}
		first, last := "-", "-"
		if n := len(ss.RequestBytes); n > 0 {
			first, last = fmt.Sprintf("%.0f", ss.RequestBytes[0]), fmt.Sprintf("%.0f", ss.RequestBytes[n-1])
		}
		t.row(s.Step.Name(), fmtDur(s.Step.Think), fmt.Sprintf("%d/%d", ss.Started, ss.Completed),
			i64(ss.FirstTurn.N), f3(ss.FirstTurn.Mean), f3(ss.FirstTurn.P99),
			i64(ss.LaterTurns.N), f3(ss.LaterTurns.Mean), f3(ss.LaterTurns.P99),
			first, last, i64(ss.AnswersResent), f3(ss.StepCost.P99), v)
	}
	if len(t.rows) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "sessions: TTFT error (ms) of the first turn and of the later turns, which resend the conversation with the real answers")
	t.write(w)
}

type table struct{ rows [][]string }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	var width []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len(c))
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			if i == 0 || i == len(r)-1 {
				b.WriteString(c + strings.Repeat(" ", width[i]-len(c)))
			} else {
				b.WriteString(strings.Repeat(" ", width[i]-len(c)) + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }
func f3(v float64) string { return fmt.Sprintf("%.3f", v) }
func itoa(v int) string   { return fmt.Sprint(v) }
func i64(v int64) string  { return fmt.Sprint(v) }
func mb(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(b)/(1<<20))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtMs(v float64) string {
	if math.IsInf(v, 1) {
		return ">1s"
	}
	return fmt.Sprintf("%.3f ms", v)
}

func fmtDur(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return d.String()
}
