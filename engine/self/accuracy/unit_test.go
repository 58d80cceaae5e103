package accuracy

import (
	"bytes"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

func TestParseSimMetrics(t *testing.T) {
	// Scraped from `llmload sim --profile fixed` after three 5-token streams.
	f, err := os.Open("testdata/sim_metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := parseSimMetrics(f)
	if err != nil {
		t.Fatal(err)
	}
	if c.Deliveries != 15 || c.Overruns != 0 || math.Abs(c.LagSum-0.002667126) > 1e-12 {
		t.Errorf("deliveries %v overruns %v lag sum %v", c.Deliveries, c.Overruns, c.LagSum)
	}
	if len(c.LagLE) != 16 || !math.IsInf(c.LagLE[15], 1) || c.LagCount[15] != 15 {
		t.Fatalf("buckets %v %v", c.LagLE, c.LagCount)
	}
	// 14 of 15 within 250 us, the last within 500 us.
	if q := c.lagQuantile(0.5); q != 0.00025 {
		t.Errorf("p50 <= %v, want 0.00025", q)
	}
	if q := c.lagQuantile(0.99); q != 0.0005 {
		t.Errorf("p99 <= %v, want 0.0005", q)
	}
}

func TestSimCountersSub(t *testing.T) {
	le := []float64{0.001, 0.01, math.Inf(1)}
	a := simCounters{Deliveries: 10, Overruns: 1, LagSum: 0.5, LagLE: le, LagCount: []float64{5, 9, 10}}
	b := simCounters{Deliveries: 110, Overruns: 3, LagSum: 0.75, LagLE: le, LagCount: []float64{95, 105, 110}}
	d, err := b.sub(a)
	if err != nil {
		t.Fatal(err)
	}
	if d.Deliveries != 100 || d.Overruns != 2 || d.LagSum != 0.25 || d.LagCount[0] != 90 || d.LagCount[2] != 100 {
		t.Errorf("delta %+v", d)
	}
	if q := d.lagQuantile(0.9); q != 0.001 {
		t.Errorf("p90 <= %v, want 0.001", q)
	}
	if q := d.lagQuantile(0.95); q != 0.01 {
		t.Errorf("p95 <= %v, want 0.01", q)
	}
	if q := d.lagQuantile(0.99); !math.IsInf(q, 1) { // 4 of 100 in the overflow bucket
		t.Errorf("p99 <= %v, want +Inf", q)
	}
	if _, err := b.sub(simCounters{LagLE: le[:1], LagCount: []float64{1}}); err == nil {
		t.Error("different bucket layouts subtracted without an error")
	}
	if q := (simCounters{}).lagQuantile(0.5); q != 0 {
		t.Errorf("empty quantile = %v", q)
	}
}

func TestParseSimMetricsErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not the sim":  "vllm:num_requests_running{engine=\"0\"} 1\n",
		"bad value":    "llmload_sim_steps_total{profile=\"fixed\"} x\n",
		"no le":        "llmload_sim_steps_total 1\nllmload_sim_step_overruns_total 0\nllmload_sim_lag_seconds_bucket{profile=\"fixed\"} 1\n",
		"out of order": "llmload_sim_steps_total 1\nllmload_sim_step_overruns_total 0\nllmload_sim_lag_seconds_bucket{le=\"1\"} 1\nllmload_sim_lag_seconds_bucket{le=\"0.5\"} 1\n",
		"braces":       "llmload_sim_steps_total} 1 {\n",
	} {
		if _, err := parseSimMetrics(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzParseSimMetrics(f *testing.F) {
	seed, err := os.ReadFile("testdata/sim_metrics.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("llmload_sim_steps_total 1\nllmload_sim_step_overruns_total 0\nllmload_sim_lag_seconds_bucket{le=\"+Inf\"} 1\n"))
	f.Add([]byte("llmload_sim_lag_seconds_bucket{a=\"b\",le=\"0.1\"} 3 1700000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseSimMetrics(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(c.LagLE) != len(c.LagCount) {
			t.Fatalf("%d bounds, %d counts", len(c.LagLE), len(c.LagCount))
		}
		for i := 1; i < len(c.LagLE); i++ {
			if !(c.LagLE[i] > c.LagLE[i-1]) {
				t.Fatalf("bounds not increasing: %v", c.LagLE)
			}
		}
		for _, q := range []float64{0, 0.5, 0.99, 1} {
			c.lagQuantile(q) // must not panic
		}
	})
}

func TestErrDist(t *testing.T) {
	d := newErrDist()
	if s := d.stats(); s != (ErrStats{}) {
		t.Errorf("empty stats %+v", s)
	}
	for _, v := range []time.Duration{-2 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 0} {
		d.add(v)
	}
	s := d.stats()
	if s.N != 4 || s.Mean != 0.5 || s.MeanAbs != 1.5 || s.Max != 3 {
		t.Errorf("stats %+v", s)
	}
	// Nearest rank of |v| = {0, 1, 2, 3} ms: p50 is the 2nd, 1 ms.
	if math.Abs(s.P50-1) > 0.001 || math.Abs(s.P99-3) > 0.003 {
		t.Errorf("p50 %v p99 %v", s.P50, s.P99)
	}
	d.add(time.Hour) // beyond the histogram: clamped there, exact in max and mean
	if s := d.stats(); s.Max != float64(time.Hour)/1e6 || s.P99 > s.Max {
		t.Errorf("after an hour: %+v", s)
	}
}

func result(sent, first time.Duration, gaps ...time.Duration) *request.Result {
	r := &request.Result{Scheduled: sent - 300*time.Microsecond, Released: sent - 200*time.Microsecond,
		Sent: sent, FirstToken: first, CompletionTokens: len(gaps) + 1}
	at := first - sent
	r.TokenTimes = append(r.TokenTimes, at)
	for _, g := range gaps {
		at += g
		r.TokenTimes = append(r.TokenTimes, at)
	}
	return r
}

func TestAccum(t *testing.T) {
	s := Step{Kind: Streams, Streams: 1, TTFT: 50 * time.Millisecond, ITL: 10 * time.Millisecond, Tokens: 3, Length: time.Second}
	a := newAccum(s) // measured span: [70 ms, 1.07 s]
	ms := time.Millisecond

	a.add(result(10*ms, 60*ms, 10*ms, 10*ms))            // warm-up: lags only
	a.add(result(100*ms, 151*ms, 9*ms, 12*ms))           // TTFT +1 ms, ITL -1/+2 ms
	a.add(result(200*ms, 252*ms, 10*ms, 10*ms))          // TTFT +2 ms
	a.add(result(300*ms, 350*ms, 10*ms))                 // 2 tokens: wrong count
	fail := result(400*ms, 450*ms, 10*ms, 10*ms)         //
	fail.Error = request.ErrStall                        // failed: lags only
	a.add(fail)                                          //
	a.add(&request.Result{Error: request.ErrDropped})    // never sent: nothing
	late := result(2*time.Second, 2050*ms, 10*ms, 10*ms) // after the span (drain)
	a.add(late)                                          //
	multi := result(500*ms, 550*ms, 20*ms)               // one event with 2 tokens, due 2 ITLs later
	multi.TokenCounts = []int32{1, 2}                    //
	multi.CompletionTokens = 3                           //
	a.add(multi)                                         //

	if a.measured != 3 || a.wrongTokens != 1 {
		t.Errorf("measured %d wrong %d, want 3 and 1", a.measured, a.wrongTokens)
	}
	tt := a.ttft.stats()
	if tt.N != 3 || math.Abs(tt.Mean-1) > 1e-9 { // (1 + 2 + 0) / 3
		t.Errorf("TTFT error %+v", tt)
	}
	it := a.itl.stats()
	// gaps: -1, +2, 0, 0, and 0 for the 2-token event.
	if it.N != 5 || math.Abs(it.Mean-0.2) > 1e-9 || math.Abs(it.MeanAbs-0.6) > 1e-9 || it.Max != 2 {
		t.Errorf("ITL error %+v", it)
	}
	if sl := a.send.stats(); sl.N != 7 || math.Abs(sl.Mean-0.3) > 1e-9 {
		t.Errorf("send lag %+v", sl)
	}
	if rl := a.rel.stats(); rl.N != 7 || math.Abs(rl.Mean-0.1) > 1e-9 {
		t.Errorf("release lag %+v", rl)
	}
}

func TestJudge(t *testing.T) {
	good := func() *StepResult {
		return &StepResult{
			Step: StreamStep(100, time.Second), Requests: 500, Completed: 500, Measured: 400,
			CPUs: 2, GOMAXPROCS: 2, ClientCPUKnown: true, ClientCores: 0.3,
			SimCPUKnown: true, SimCores: 0.3, BoxKnown: true, BoxBusy: 0.35, BoxCores: 0.7, OtherCores: 0.1,
			Sim: SimLag{Deliveries: 8000, Overruns: 8, OverrunFraction: 0.001}, InFlightMean: 100, ExpectedInFlight: 100,
		}
	}
	r := good()
	r.judge()
	if !r.Trusted || len(r.Problems) != 0 || len(r.Notes) != 0 {
		t.Fatalf("good step judged %v %q %q", r.Trusted, r.Problems, r.Notes)
	}
	for name, c := range map[string]struct {
		mod  func(*StepResult)
		want string
		note bool
	}{
		"failed": {func(r *StepResult) {
			r.Failed = 3
			r.Errors = map[string]int64{"stall": 3}
			r.errorKeys = []string{"stall"}
		}, "3 of 500 requests failed (stall 3)", false},
		"tokens":      {func(r *StepResult) { r.WrongTokens = 2 }, "another token count", false},
		"box":         {func(r *StepResult) { r.BoxBusy = 0.95 }, "machine was CPU-saturated (95% of 2 CPUs", false},
		"client":      {func(r *StepResult) { r.ClientCores = 1.9 }, "the client was CPU-saturated", false},
		"sim cpu":     {func(r *StepResult) { r.SimCores = 1.85 }, "the simulator was CPU-saturated", false},
		"sim late":    {func(r *StepResult) { r.Sim.OverrunFraction = 0.2 }, "the simulator fell behind: 20.0%", false},
		"few":         {func(r *StepResult) { r.Measured = 5 }, "only 5 requests were measured", false},
		"sim lateish": {func(r *StepResult) { r.Sim.OverrunFraction = 0.02 }, "2.0% of the simulator's token deliveries", true},
		"others":      {func(r *StepResult) { r.OtherCores = 0.5 }, "other processes used 0.50 CPUs", true},
		"pressure":    {func(r *StepResult) { r.PressureKnown, r.CPUPressure = true, 0.7 }, "waiting for a CPU 70%", true},
		"in-process":  {func(r *StepResult) { r.SimInProcess, r.SimCPUKnown = true, false }, "in-process simulator", true},
		"ramp":        {func(r *StepResult) { r.InFlightMean = 50 }, "only 50 of 100 streams", true},
	} {
		r := good()
		c.mod(r)
		r.judge()
		got := strings.Join(r.Problems, "|")
		if c.note {
			got = strings.Join(r.Notes, "|")
			if !r.Trusted {
				t.Errorf("%s: a caveat made the step untrusted: %q", name, r.Problems)
			}
		} else if r.Trusted {
			t.Errorf("%s: still trusted", name)
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: %q does not say %q", name, got, c.want)
		}
	}
}

func TestTargetsAndRegressions(t *testing.T) {
	mk := func(s Step, mod func(*StepResult)) *StepResult {
		r := &StepResult{Step: s, Measured: 100, Trusted: true, Sim: SimLag{Deliveries: 100}}
		mod(r)
		return r
	}
	steps := []*StepResult{
		mk(StreamStep(100, time.Second), func(r *StepResult) {
			r.TTFTError.Mean = 0.6
			// 3% late, but only 0.5% outside machine stalls: not the limit.
			r.Sim.OverrunFraction, r.Sim.Matched, r.Sim.OwnFraction = 0.03, true, 0.005
		}),
		mk(StreamStep(1000, time.Second), func(r *StepResult) {
			r.TTFTError.Mean, r.ITLError.N, r.ITLError.MeanAbs = 6, 10, 0.4
			r.Sim.OverrunFraction, r.Trusted = 0.03, false
		}),
		mk(StreamStep(5000, time.Second), func(r *StepResult) { r.TTFTError.Mean, r.ClientPeakRSS = 3, 250<<20 }),
		mk(RateStep(2000, time.Second), func(r *StepResult) {
			r.TargetRate, r.AchievedRate, r.RateError = 2000, 1996, -0.002
			r.SendLag.N, r.SendLag.P99 = 10, 2.5
		}),
	}
	got := map[string]TargetCheck{}
	for _, c := range CheckTargets(steps) {
		got[c.Target] = c
	}
	want := map[string]bool{
		"mean TTFT error <= 1 ms at 100 streams":   true,
		"mean TTFT error <= 5 ms at 1000 streams":  false,
		"mean TTFT error <= 20 ms at 5000 streams": true,
		"mean ITL error <= 0.5 ms at 1000 streams": true,
		"achieved rate within 0.5% of 2000 req/s":  true,
		"pacer send lag p99 <= 2 ms at 2000 req/s": false,
		"client RSS <= 200 MB at 5000 streams":     false,
		"the simulator is not the limit at 100 streams (<= 1% of deliveries > 1 ms late through its own doing)":  true,
		"the simulator is not the limit at 1000 streams (<= 1% of deliveries > 1 ms late through its own doing)": false,
	}
	if len(got) != len(want) {
		t.Errorf("%d targets checked, want %d: %v", len(got), len(want), got)
	}
	for target, pass := range want {
		c, ok := got[target]
		if !ok {
			t.Errorf("target %q not checked", target)
			continue
		}
		if c.Pass != pass {
			t.Errorf("%q: pass = %v, want %v (measured %s)", target, c.Pass, pass, c.Measured)
		}
	}
	if c := got["mean TTFT error <= 5 ms at 1000 streams"]; c.Trusted || c.verdict() != "FAIL?" {
		t.Errorf("untrusted step's target: %+v %s", c, c.verdict())
	}

	rep := &Report{Steps: []*StepResult{
		mk(StreamStep(1, time.Second), func(r *StepResult) { r.TTFTError.Mean = 0.4 }),
		mk(StreamStep(100, time.Second), func(r *StepResult) { r.TTFTError.Mean, r.Trusted = 7, false }),
		mk(StreamStep(1000, time.Second), func(r *StepResult) { r.TTFTError.Mean = 9 }), // not checked: > 100 streams
		mk(StreamStep(10, time.Second), func(r *StepResult) { r.Measured, r.Failed = 0, 40 }),
	}}
	bad := rep.TTFTRegressions(5 * time.Millisecond)
	if len(bad) != 2 || !strings.Contains(bad[0], "streams=100: mean TTFT error 7.000 ms exceeds the bound 5ms") ||
		!strings.Contains(bad[1], "streams=10: no request was measured (40 failed)") {
		t.Errorf("regressions %q", bad)
	}
}

func TestSteps(t *testing.T) {
	s := StreamStep(100, 2*time.Second)
	if s.Name() != "streams=100" || s.StreamTime() != 200*time.Millisecond || s.ArrivalRate() != 500 || s.InFlight() != 100 {
		t.Errorf("%s: stream %v rate %v in flight %v", s.Name(), s.StreamTime(), s.ArrivalRate(), s.InFlight())
	}
	if s.planned() != 1101 { // due at i/500 for i/500 <= 2.2 s
		t.Errorf("planned %d", s.planned())
	}
	r := RateStep(2000, time.Second)
	if r.Name() != "rate=2000" || r.ArrivalRate() != 2000 || math.Abs(r.InFlight()-160) > 1e-9 {
		t.Errorf("%s: rate %v in flight %v", r.Name(), r.ArrivalRate(), r.InFlight())
	}
	if DefaultITL(100) != 10*time.Millisecond || DefaultITL(1000) != 100*time.Millisecond || DefaultITL(5000) != 400*time.Millisecond {
		t.Error("DefaultITL changed: update docs/calibrate.md and docs/performance.md")
	}
	for _, quick := range []bool{false, true} {
		var total time.Duration
		for _, s := range DefaultSteps(quick) {
			if err := s.Validate(); err != nil {
				t.Error(err)
			}
			total += s.Length + 2*s.StreamTime() + 300*time.Millisecond // + simulator start and pause
		}
		if quick && total > 25*time.Second {
			t.Errorf("--quick would take about %v, more than the 30 s promised", total)
		}
	}
	bad := []Step{
		{Kind: "x"}, {Kind: Streams}, {Kind: Rate, Rate: math.Inf(1)},
		{Kind: Rate, Rate: 1, ITL: 1, Tokens: 2, PromptTokens: 1, Length: time.Second},
		{Kind: Rate, Rate: 1, TTFT: 1, Tokens: 2, PromptTokens: 1, Length: time.Second},
		{Kind: Rate, Rate: 1, TTFT: 1, ITL: 1, Tokens: 1, PromptTokens: 1, Length: time.Second},
		{Kind: Rate, Rate: 1, TTFT: 1, ITL: 1, Tokens: 2, Length: time.Second},
		{Kind: Rate, Rate: 1, TTFT: 1, ITL: 1, Tokens: 2, PromptTokens: 1},
	}
	for _, s := range bad {
		if s.Validate() == nil {
			t.Errorf("%+v validated", s)
		}
	}
}

func TestProc(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	c0, err := procCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until getrusage moves by 50 ms: a loop bounded by CPU
	// time, not by a wall-clock sleep.
	x := 0
	for c := c0; c-c0 < 50*time.Millisecond; c, _ = procCPU(0) {
		for i := range 1_000_000 {
			x += i
		}
	}
	_ = x
	viaStat, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if viaStat < 40*time.Millisecond {
		t.Errorf("/proc/self/stat says %v of CPU after 50 ms of work", viaStat)
	}
	rss, peak, err := procMem(0)
	if err != nil || rss <= 0 || peak < rss {
		t.Errorf("rss %d peak %d err %v", rss, peak, err)
	}
	if err := resetPeak(0); err != nil {
		t.Logf("clear_refs not writable here (%v): peaks fall back to sampling", err)
	}
	b0, err := readBox()
	if err != nil {
		t.Fatal(err)
	}
	if b0.all < viaStat {
		t.Errorf("all processes' CPU %v < this process's %v", b0.all, viaStat)
	}
	if _, err := loadAvg(); err != nil {
		t.Error(err)
	}
	if _, err := statusKB([]byte("VmRSS:\t  12 MB\n"), "VmRSS:"); err == nil {
		t.Error("a line not in kB was accepted")
	}
	if v, err := statusKB([]byte("Name:\tx\nVmHWM:\t   2048 kB\n"), "VmHWM:"); err != nil || v != 2<<20 {
		t.Errorf("VmHWM = %d, %v", v, err)
	}
}
