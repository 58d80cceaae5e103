package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// observedSummary is the part of summary.json that engine/results/observe writes.
type observedSummary struct {
	TotalOutputTokens int64 `json:"total_output_tokens"`
	Server            struct {
		Status             string   `json:"status"`
		Targets            []string `json:"targets"`
		ScrapeErrors       int64    `json:"scrape_errors"`
		GenerationTokens   *float64 `json:"generation_tokens"`
		ClientOutputTokens int64    `json:"client_output_tokens"`
		PromptTokens       *float64 `json:"prompt_tokens"`
		ClientInputTokens  int64    `json:"client_input_tokens"`
		MeanTTFTms         *float64 `json:"mean_ttft_ms"`
	} `json:"server"`
	Energy struct {
		Source          string   `json:"source"`
		GPUs            int      `json:"gpus"`
		EnergyJ         *float64 `json:"energy_j"`
		SpanS           float64  `json:"span_s"`
		MeanPowerW      *float64 `json:"mean_power_w"`
		JPerOutputToken *float64 `json:"j_per_output_token"`
	} `json:"energy"`
}

func readObserved(t *testing.T, dir string) observedSummary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s observedSummary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	return s
}

// checkObserved asserts that the server counted exactly the client's
// tokens and that energy per token matches the simulator's power model:
// between its 70 W idle and 700 W peak over the observed span.
func checkObserved(t *testing.T, s observedSummary) {
	t.Helper()
	sv, en := s.Server, s.Energy
	if sv.Status != "ok" || sv.ScrapeErrors != 0 {
		t.Fatalf("server section: %+v", sv)
	}
	if sv.GenerationTokens == nil || int64(*sv.GenerationTokens) != s.TotalOutputTokens || sv.ClientOutputTokens != s.TotalOutputTokens {
		t.Errorf("server generation tokens %v, client output tokens %d", sv.GenerationTokens, s.TotalOutputTokens)
	}
	if sv.PromptTokens == nil || int64(*sv.PromptTokens) != sv.ClientInputTokens {
		t.Errorf("server prompt tokens %v, client input tokens %d", sv.PromptTokens, sv.ClientInputTokens)
	}
	if en.Source != "dcgm_energy_counter" || en.GPUs != 1 || en.EnergyJ == nil || en.JPerOutputToken == nil {
		t.Fatalf("energy section: %+v", en)
	}
	if *en.JPerOutputToken <= 0 || math.Abs(*en.JPerOutputToken*float64(s.TotalOutputTokens)-*en.EnergyJ) > 1e-6**en.EnergyJ {
		t.Errorf("J per output token %v inconsistent with %v J / %d tokens", *en.JPerOutputToken, *en.EnergyJ, s.TotalOutputTokens)
	}
	if lo, hi := 70*en.SpanS, 700*en.SpanS; *en.EnergyJ < lo || *en.EnergyJ > hi {
		t.Errorf("energy %v J outside the power model's [%v, %v] for %v s", *en.EnergyJ, lo, hi, en.SpanS)
	}
}

func TestRunObservesBuiltinSim(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log, err := runLLMLoad(t, ctx, "run", "scenarios/azure_conv.lua", "--limit", "30", "--speedup", "40",
		"--concurrency", "16", "--sim-profile", "fixed", "--sim-ttft", "20ms", "--sim-itl", "2ms",
		"--sample-interval", "0.5", "--out", out, "--no-ui", "--log-every", "0")
	if err != nil {
		t.Fatalf("llmload run: %v\n%s", err, log)
	}
	s := readObserved(t, out)
	checkObserved(t, s)
	// The fixed profile's TTFT is 20 ms on the server's side.
	if m := s.Server.MeanTTFTms; m == nil || math.Abs(*m-20) > 1 {
		t.Errorf("server mean TTFT %v ms, want 20", m)
	}
	for _, want := range []string{"Server (/metrics)", "Energy per output token (J):", "dcgm_energy_counter"} {
		if !strings.Contains(log, want) {
			t.Errorf("output lacks %q:\n%s", want, log)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "server.jsonl"))
	if err != nil || strings.Count(string(b), "\n") < 3 {
		t.Errorf("server.jsonl (%v):\n%s", err, b)
	}
}

func TestRunGPUMetricsFlag(t *testing.T) {
	// --server-metrics off and the separate simulator's /metrics given as
	// a DCGM exporter: its GPU series (and, read all the same, its vLLM
	// series) are sampled from there.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url := startSim(t, ctx, "--profile", "fixed", "--ttft", "10ms", "--itl", "2ms")
	out := t.TempDir()
	log, err := runLLMLoad(t, ctx, "run", "scenarios/azure_conv.lua", "--limit", "20", "--speedup", "40",
		"--url", url, "--server-metrics", "off", "--gpu-metrics", url+"/metrics",
		"--out", out, "--no-ui", "--log-every", "0")
	if err != nil {
		t.Fatalf("llmload run: %v\n%s", err, log)
	}
	s := readObserved(t, out)
	if len(s.Server.Targets) != 1 || s.Server.Targets[0] != url+"/metrics" {
		t.Errorf("targets %v, want only the --gpu-metrics URL", s.Server.Targets)
	}
	checkObserved(t, s)

	// A bad value is a configuration error that names the flag.
	log, err = runLLMLoad(t, ctx, "run", "scenarios/azure_conv.lua", "--limit", "1", "--gpu-metrics", "gpu-node:9400")
	if err == nil || !strings.Contains(log, "--gpu-metrics") {
		t.Errorf("bad --gpu-metrics: %v\n%s", err, log)
	}
}
