package observe

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// ok parses text as a successful scrape of target.
func ok(t *testing.T, target int, lines ...string) scrape {
	t.Helper()
	pts, err := parse([]byte(strings.Join(lines, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return scrape{target: target, ok: true, points: pts}
}

func failed(target int) scrape { return scrape{target: target} }

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func wantV(t *testing.T, what string, got Value, want float64) {
	t.Helper()
	if !got.OK || !near(got.V, want) {
		t.Errorf("%s = %+v, want %v", what, got, want)
	}
}

func wantUnknown(t *testing.T, what string, got Value) {
	t.Helper()
	if got.OK {
		t.Errorf("%s = %v, want unknown", what, got.V)
	}
}

const sec = time.Second

func TestCounterDeltasAndRates(t *testing.T) {
	a := newAccumulator()
	s := a.add(0, phaseBaseline, []scrape{ok(t, 0,
		`vllm:generation_tokens_total{engine="0"} 1000`,
		`vllm:generation_tokens_total{engine="1"} 500`,
		`vllm:prompt_tokens_total{engine="0"} 10`,
		`vllm:time_to_first_token_seconds_sum{engine="0"} 1`,
		`vllm:time_to_first_token_seconds_count{engine="0"} 10`,
		`vllm:num_requests_running{engine="0"} 2`,
		`vllm:num_requests_running{engine="1"} 3`,
		`vllm:kv_cache_usage_perc{engine="0"} 0.2`,
		`vllm:kv_cache_usage_perc{engine="1"} 0.6`,
	)})
	// The baseline has gauges but no increases: the counters' history
	// before the run is not the run's.
	wantV(t, "baseline running", s.Running, 5)
	wantV(t, "baseline kv mean", s.KVUsage, 0.4)
	wantV(t, "baseline kv max", s.KVUsageMax, 0.6)
	wantUnknown(t, "baseline generation tokens", s.GenerationTokens)
	wantUnknown(t, "baseline rate", s.GenTokensPerS)

	s = a.add(2*sec, phaseTick, []scrape{ok(t, 0,
		`vllm:generation_tokens_total{engine="0"} 1300`,
		`vllm:generation_tokens_total{engine="1"} 600`,
		`vllm:prompt_tokens_total{engine="0"} 50`,
		`vllm:time_to_first_token_seconds_sum{engine="0"} 1.5`,
		`vllm:time_to_first_token_seconds_count{engine="0"} 15`,
	)})
	if s.DT != 2*sec {
		t.Errorf("DT = %v", s.DT)
	}
	wantV(t, "generation tokens", s.GenerationTokens, 400)
	wantV(t, "generation tokens/s", s.GenTokensPerS, 200)
	wantV(t, "prompt tokens", s.PromptTokens, 40)
	wantV(t, "server TTFT", s.TTFT, 0.1) // 0.5 s over 5 requests
	wantUnknown(t, "running (series gone)", s.Running)
	wantUnknown(t, "ITL (not exported)", s.ITL)
	wantUnknown(t, "prefix hit rate (not exported)", s.PrefixHitRate)

	r := (&Observer{acc: a}).buildReport()
	wantV(t, "run generation tokens", r.GenerationTokens, 400)
	wantV(t, "run TTFT", r.TTFT, 0.1)
	wantV(t, "run TTFT count", r.TTFTCount, 5)
}

func TestCounterResetAndNewSeries(t *testing.T) {
	a := newAccumulator()
	a.add(0, phaseBaseline, []scrape{ok(t, 0,
		`vllm:generation_tokens_total{engine="0"} 1000`,
		`vllm:num_preemptions_total{engine="0"} 4`,
	)})
	// The server restarted: its counter starts again from 0 and now says
	// 30, so 30 tokens were generated since. A series that appears (a
	// second engine, or a finished_reason seen for the first time) counts
	// in full: it was born after the baseline.
	s := a.add(sec, phaseTick, []scrape{ok(t, 0,
		`vllm:generation_tokens_total{engine="0"} 30`,
		`vllm:generation_tokens_total{engine="1"} 70`,
		`vllm:num_preemptions_total{engine="0"} 4`,
		`vllm:request_success_total{finished_reason="length"} 3`,
	)})
	wantV(t, "tokens after reset", s.GenerationTokens, 100)
	wantV(t, "preemptions", s.Preemptions, 0)
	wantV(t, "requests succeeded (new series)", s.RequestsSucceeded, 3)
	s = a.add(2*sec, phaseTick, []scrape{ok(t, 0,
		`vllm:generation_tokens_total{engine="0"} 40`,
		`vllm:generation_tokens_total{engine="1"} 75`,
		`vllm:num_preemptions_total{engine="0"} 6`,
	)})
	wantV(t, "tokens", s.GenerationTokens, 15)
	wantV(t, "preemptions", s.Preemptions, 2)
	r := (&Observer{acc: a}).buildReport()
	wantV(t, "run tokens", r.GenerationTokens, 115)
	wantV(t, "run preemptions", r.Preemptions, 2)
	wantV(t, "run requests succeeded", r.RequestsSucceeded, 3)
	wantUnknown(t, "run prompt tokens (never exported)", r.PromptTokens)
}

func TestTargetFirstAnsweringLateIsABaseline(t *testing.T) {
	a := newAccumulator()
	a.add(0, phaseBaseline, []scrape{ok(t, 0, `vllm:generation_tokens_total 10`), failed(1)})
	// Target 1 answers for the first time: its lifetime totals are not
	// the run's, whatever it says.
	s := a.add(sec, phaseTick, []scrape{ok(t, 0, `vllm:generation_tokens_total 20`),
		ok(t, 1, `vllm:generation_tokens_total 5000`)})
	wantV(t, "tokens", s.GenerationTokens, 10)
	if s.Targets != 2 || s.Failed != 0 {
		t.Errorf("targets %d failed %d", s.Targets, s.Failed)
	}
	// A failed round in between changes nothing: the next increase spans it.
	s = a.add(2*sec, phaseTick, []scrape{failed(0), ok(t, 1, `vllm:generation_tokens_total 5001`)})
	wantV(t, "tokens", s.GenerationTokens, 1)
	s = a.add(3*sec, phaseTick, []scrape{ok(t, 0, `vllm:generation_tokens_total 50`), ok(t, 1, `vllm:generation_tokens_total 5001`)})
	wantV(t, "tokens across a failed scrape", s.GenerationTokens, 30)
}

// dcgm renders the exporter's lines for one GPU.
func dcgm(uuid string, powerW, energyMJ float64) []string {
	l := fmt.Sprintf(`{gpu="%s",UUID="%s",device="nvidia%s",modelName="NVIDIA H100 80GB HBM3",Hostname="h"}`, uuid[len(uuid)-1:], uuid, uuid[len(uuid)-1:])
	out := []string{fmt.Sprintf("DCGM_FI_DEV_POWER_USAGE%s %g", l, powerW)}
	if energyMJ >= 0 {
		out = append(out, fmt.Sprintf("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION%s %g", l, energyMJ))
	}
	return out
}

func TestEnergyFromCountersOfSeveralGPUs(t *testing.T) {
	a := newAccumulator()
	lines := func(e0, e1 float64) []string {
		return append(append(dcgm("GPU-0", 400, e0), dcgm("GPU-1", 200, e1)...),
			`vllm:generation_tokens_total 0`)
	}
	a.add(0, phaseBaseline, []scrape{ok(t, 0, lines(1e9, 5e8)...)})
	s := a.add(2*sec, phaseTick, []scrape{ok(t, 0, append(lines(1e9+800e3, 5e8+400e3), `vllm:generation_tokens_total 600`)...)})
	wantV(t, "energy J", s.EnergyJ, 1200) // 800 J + 400 J
	wantV(t, "power W", s.PowerW, 600)
	wantV(t, "J per generation token", s.JPerGenToken, 2)
	if s.GPUs != 2 {
		t.Errorf("GPUs = %d", s.GPUs)
	}
	// GPU-1's counter restarts (driver reload): it has counted 100 J since.
	s = a.add(4*sec, phaseTick, []scrape{ok(t, 0, lines(1e9+1600e3, 100e3)...)})
	wantV(t, "energy J after a reset", s.EnergyJ, 900)
	r := (&Observer{acc: a}).buildReport()
	wantV(t, "run energy", r.EnergyJ, 2100)
	wantV(t, "mean power", r.MeanPowerW, 2100.0/4)
	wantV(t, "max power", r.MaxPowerW, 600)
	if r.EnergySource != "dcgm_energy_counter" || r.GPUs != 2 {
		t.Errorf("source %q, %d GPUs", r.EnergySource, r.GPUs)
	}
	sum := r.Summarize(Client{Completed: 10, OutputTokens: 700})
	wantV(t, "J per output token", sum.Energy.JPerOutputToken, 3)
	wantV(t, "output tokens per J", sum.Energy.OutputTokensPerJ, 1.0/3)
	wantV(t, "J per generation token", sum.Energy.JPerGenerationToken, 3.5)
}

func TestEnergyIntegratedFromPower(t *testing.T) {
	a := newAccumulator()
	// No energy counter: trapezoids of the power samples, per GPU.
	a.add(0, phaseBaseline, []scrape{ok(t, 0, append(dcgm("GPU-0", 100, -1), dcgm("GPU-1", 100, -1)...)...)})
	s := a.add(sec, phaseTick, []scrape{ok(t, 0, append(dcgm("GPU-0", 300, -1), dcgm("GPU-1", 100, -1)...)...)})
	wantV(t, "energy", s.EnergyJ, 200+100)
	s = a.add(3*sec, phaseTick, []scrape{ok(t, 0, append(dcgm("GPU-0", 300, -1), dcgm("GPU-1", 500, -1)...)...)})
	wantV(t, "energy", s.EnergyJ, 600+600)
	r := (&Observer{acc: a}).buildReport()
	wantV(t, "run energy", r.EnergyJ, 1500)
	wantV(t, "mean power", r.MeanPowerW, 500)
	if r.EnergySource != "integrated_power" {
		t.Errorf("source %q", r.EnergySource)
	}
}

func TestEnergyMixedSourcesAndSharedGPU(t *testing.T) {
	a := newAccumulator()
	// Target 0 is the server, which also exports GPU-0 (as the simulator
	// does); target 1 is a DCGM exporter on the same node with GPU-0 and
	// GPU-1, GPU-1 without an energy counter. GPU-0 must count once.
	round := func(p1, e0 float64) []scrape {
		return []scrape{
			ok(t, 0, append(dcgm("GPU-0", 300, e0), `vllm:num_requests_running 1`)...),
			ok(t, 1, append(dcgm("GPU-0", 300, e0), dcgm("GPU-1", p1, -1)...)...),
		}
	}
	a.add(0, phaseBaseline, round(100, 0))
	s := a.add(2*sec, phaseTick, round(300, 600e3))
	wantV(t, "energy", s.EnergyJ, 600+400)
	wantV(t, "power", s.PowerW, 600)
	if s.GPUs != 2 {
		t.Errorf("GPUs = %d, want 2 (GPU-0 reached twice)", s.GPUs)
	}
	r := (&Observer{acc: a}).buildReport()
	if r.EnergySource != "mixed" {
		t.Errorf("source %q", r.EnergySource)
	}
}

func TestNoGPUSeries(t *testing.T) {
	a := newAccumulator()
	a.add(0, phaseBaseline, []scrape{ok(t, 0, `vllm:generation_tokens_total 0`)})
	a.add(sec, phaseTick, []scrape{ok(t, 0, `vllm:generation_tokens_total 10`)})
	r := (&Observer{acc: a}).buildReport()
	sum := r.Summarize(Client{Completed: 1, OutputTokens: 10})
	if sum.Energy.Source != "none" || sum.Energy.EnergyJ.OK || sum.Energy.JPerOutputToken.OK {
		t.Errorf("energy without GPU series: %+v", sum.Energy)
	}
	b, err := json.Marshal(sum.Energy)
	if err != nil || !strings.Contains(string(b), `"j_per_output_token":null`) {
		t.Errorf("energy JSON %s (%v): unknown values must be null", b, err)
	}
}

func TestGaugeMeansSkipBaselineAndFinal(t *testing.T) {
	a := newAccumulator()
	a.add(0, phaseBaseline, []scrape{ok(t, 0, `vllm:num_requests_running 0`, `vllm:num_requests_waiting 0`)})
	a.add(sec, phaseTick, []scrape{ok(t, 0, `vllm:num_requests_running 10`, `vllm:num_requests_waiting 4`)})
	a.add(2*sec, phaseTick, []scrape{ok(t, 0, `vllm:num_requests_running 20`, `vllm:num_requests_waiting 0`)})
	a.add(3*sec, phaseFinal, []scrape{ok(t, 0, `vllm:num_requests_running 0`, `vllm:num_requests_waiting 0`)})
	r := (&Observer{acc: a}).buildReport()
	wantV(t, "mean running", r.MeanRunning, 15)
	wantV(t, "max running", r.MaxRunning, 20)
	wantV(t, "mean waiting", r.MeanWaiting, 2)
	if r.Span != 3*sec {
		t.Errorf("span %v", r.Span)
	}
	// A run shorter than one interval has no tick: every scrape counts.
	a = newAccumulator()
	a.add(0, phaseBaseline, []scrape{ok(t, 0, `vllm:num_requests_running 0`)})
	a.add(sec/2, phaseFinal, []scrape{ok(t, 0, `vllm:num_requests_running 2`)})
	r = (&Observer{acc: a}).buildReport()
	wantV(t, "mean running (no tick)", r.MeanRunning, 1)
}

func TestSummaryClientComparison(t *testing.T) {
	a := newAccumulator()
	a.add(0, phaseBaseline, []scrape{ok(t, 0, `vllm:time_to_first_token_seconds_sum 0`, `vllm:time_to_first_token_seconds_count 0`,
		`vllm:prefix_cache_queries_total 0`, `vllm:prefix_cache_hits_total 0`)})
	a.add(sec, phaseFinal, []scrape{ok(t, 0, `vllm:time_to_first_token_seconds_sum 0.4`, `vllm:time_to_first_token_seconds_count 8`,
		`vllm:prefix_cache_queries_total 1000`, `vllm:prefix_cache_hits_total 250`)})
	sum := (&Observer{acc: a}).buildReport().Summarize(Client{Completed: 8, MeanTTFT: 53 * time.Millisecond})
	wantV(t, "server TTFT ms", sum.Server.MeanTTFTms, 50)
	wantV(t, "client - server TTFT", sum.Server.ClientMinusServerTTFTms, 3)
	wantV(t, "prefix hit rate", sum.Server.PrefixHitRate, 0.25)
	wantUnknown(t, "client - server E2EL (server has none)", sum.Server.ClientMinusServerE2ELms)
	if sum.Server.Status != "ok" {
		t.Errorf("status %q", sum.Server.Status)
	}
	var off *Report
	if s := off.Summarize(Client{}); s.Server.Status != "off" || s.Energy.Source != "none" {
		t.Errorf("nil report: %+v", s)
	}
}
