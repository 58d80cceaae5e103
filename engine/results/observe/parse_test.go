package observe

import (
	"math"
	"strings"
	"testing"
)

// vllmText is shaped like vLLM V1 with two data-parallel engines and a
// DCGM exporter with two GPUs, as prometheus_client and dcgm-exporter
// write them (HELP/TYPE lines, _total counters, _created samples).
const vllmText = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_running{engine="1",model_name="m"} 4.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 1.0
vllm:num_requests_waiting{engine="1",model_name="m"} 0.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.75
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="m"} 1000.0
vllm:generation_tokens_total{engine="1",model_name="m"} 500.0
# TYPE vllm:generation_tokens_created gauge
vllm:generation_tokens_created{engine="0",model_name="m"} 1.7e+09
# TYPE vllm:request_success_total counter
vllm:request_success_total{engine="0",finished_reason="length",model_name="m"} 7.0
vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 2.0
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} 8.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 9.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 9.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 0.45
# TYPE vllm:unrelated_total counter
vllm:unrelated_total 12
# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).
# TYPE DCGM_FI_DEV_POWER_USAGE gauge
DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-a",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="h"} 300.5
DCGM_FI_DEV_POWER_USAGE{gpu="1",UUID="GPU-b",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="h"} 200
# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu="0",UUID="GPU-a",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="h"} 123456789
`

// byName groups points by sample name.
func byName(pts []point) map[string][]point {
	m := map[string][]point{}
	for _, p := range pts {
		m[p.name] = append(m[p.name], p)
	}
	return m
}

func sum(pts []point) float64 {
	var s float64
	for _, p := range pts {
		s += p.value
	}
	return s
}

func mustParse(t *testing.T, text string) map[string][]point {
	t.Helper()
	pts, err := parse([]byte(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return byName(pts)
}

func TestParseVLLMAndDCGM(t *testing.T) {
	m := mustParse(t, vllmText)
	for _, c := range []struct {
		name string
		n    int
		sum  float64
	}{
		{mRunning, 2, 7}, {mWaiting, 2, 1}, {mKVUsage, 2, 1}, {mGenTok, 2, 1500},
		{mSuccess, 2, 9}, {hTTFT + "_count", 1, 9}, {hTTFT + "_sum", 1, 0.45},
		{mPower, 2, 500.5}, {mEnergy, 1, 123456789},
	} {
		if got := m[c.name]; len(got) != c.n || sum(got) != c.sum {
			t.Errorf("%s: %d series summing to %v, want %d and %v", c.name, len(got), sum(got), c.n, c.sum)
		}
	}
	for _, n := range []string{"vllm:unrelated_total", "vllm:generation_tokens_created", hTTFT + "_bucket"} {
		if len(m[n]) > 0 {
			t.Errorf("%s was kept; only wanted series should be", n)
		}
	}
	if u := m[mPower][0].uuid; u != "GPU-a" && u != "GPU-b" {
		t.Errorf("DCGM UUID label = %q", u)
	}
	// Label order on the wire must not change a series' identity.
	other := mustParse(t, `DCGM_FI_DEV_POWER_USAGE{Hostname="h",modelName="NVIDIA H100 80GB HBM3",device="nvidia0",UUID="GPU-a",gpu="0"} 1`)
	found := false
	for _, p := range m[mPower] {
		found = found || p.labels == other[mPower][0].labels
	}
	if !found {
		t.Errorf("label key %q is not canonical: %v", other[mPower][0].labels, m[mPower])
	}
}

func TestParseLegacyNames(t *testing.T) {
	old := `vllm:gpu_cache_usage_perc{model_name="m"} 0.5
# TYPE vllm:time_per_output_token_seconds histogram
vllm:time_per_output_token_seconds_bucket{le="+Inf",model_name="m"} 4
vllm:time_per_output_token_seconds_sum{model_name="m"} 0.2
vllm:time_per_output_token_seconds_count{model_name="m"} 4
`
	m := mustParse(t, old)
	if sum(m[mKVUsage]) != 0.5 || sum(m[hITL+"_sum"]) != 0.2 || sum(m[hITL+"_count"]) != 4 {
		t.Fatalf("older vLLM names not mapped: %v", m)
	}
	// Both present (a deprecation period): the current name only.
	both := old + `vllm:kv_cache_usage_perc{model_name="m"} 0.25
vllm:inter_token_latency_seconds_sum{model_name="m"} 0.1
vllm:inter_token_latency_seconds_count{model_name="m"} 3
`
	m = mustParse(t, both)
	if len(m[mKVUsage]) != 1 || sum(m[mKVUsage]) != 0.25 || sum(m[hITL+"_count"]) != 3 || sum(m[hITL+"_sum"]) != 0.1 {
		t.Fatalf("current and legacy names counted together: %v", m)
	}
}

func TestParseUntypedAndOddValues(t *testing.T) {
	// No TYPE lines at all: _sum and _count are plain samples.
	m := mustParse(t, `vllm:e2e_request_latency_seconds_sum 12.5
vllm:e2e_request_latency_seconds_count 5
vllm:num_requests_running NaN
vllm:num_requests_waiting +Inf
DCGM_FI_DEV_GPU_UTIL{gpu="0"} 87 1700000000000
`)
	if sum(m[hE2E+"_sum"]) != 12.5 || sum(m[hE2E+"_count"]) != 5 {
		t.Errorf("untyped histogram lines: %v", m)
	}
	if len(m[mRunning])+len(m[mWaiting]) != 0 {
		t.Errorf("non-finite values kept: %v", m)
	}
	if sum(m[mGPUUtil]) != 87 {
		t.Errorf("sample with a timestamp: %v", m[mGPUUtil])
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	_, err := parse([]byte("vllm:num_requests_running 1\nvllm:num_requests_waiting{engine=\"0\" 2\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("want an error naming line 2, got %v", err)
	}
	if _, err := parse(nil); err != nil {
		t.Fatalf("an empty body is valid (no series): %v", err)
	}
}

// FuzzParse feeds arbitrary bytes to the parser: it must never panic, and
// what it keeps must be finite wanted series.
func FuzzParse(f *testing.F) {
	f.Add([]byte(vllmText))
	f.Add([]byte("vllm:gpu_cache_usage_perc 0.5\n"))
	f.Add([]byte("# TYPE x histogram\nx_bucket{le=\"+Inf\"} 1\nx_sum 1\nx_count 1\n"))
	f.Add([]byte("# TYPE vllm:time_per_output_token_seconds summary\nvllm:time_per_output_token_seconds{quantile=\"0.5\"} 1\n"))
	f.Add([]byte("DCGM_FI_DEV_POWER_USAGE{UUID=\"\\\"\\n\"} -1e308\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pts, err := parse(b)
		if err != nil {
			return
		}
		for _, p := range pts {
			if !wanted[p.name] {
				t.Fatalf("kept unwanted series %q", p.name)
			}
			if math.IsNaN(p.value) || math.IsInf(p.value, 0) {
				t.Fatalf("non-finite value kept: %+v", p)
			}
		}
		// The accumulator must take anything the parser returns.
		a := newAccumulator()
		a.add(0, phaseBaseline, []scrape{{ok: true, points: pts}})
		s := a.add(1e9, phaseTick, []scrape{{ok: true, points: pts}})
		if _, err := s.MarshalJSON(); err != nil {
			t.Fatalf("sample not JSON: %v", err)
		}
	})
}
