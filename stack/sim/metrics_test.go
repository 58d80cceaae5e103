package sim

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func bucketsOf(text, name string) []float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `_bucket\{[^}]*le="([^"]+)"\}`)
	var out []float64
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		if m[1] == "+Inf" {
			continue
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		out = append(out, v)
	}
	return out
}

func metricValue(t *testing.T, text, series string) float64 {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimPrefix(l, series+" "), 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("series %s not exposed", series)
	return 0
}

func TestMetricsExposition(t *testing.T) {
	cfg := testConfig()
	ts := startServer(t, cfg)
	post(t, ts.url+"/v1/completions", `{"prompt":"a b c","max_tokens":4,"ignore_eos":true}`)
	r := do(t, http.MethodGet, ts.url+"/metrics", "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %q", r.status, r.header.Get("Content-Type"))
	}
	text := string(r.body)
	lbl := `{engine="0",model_name="test-model"}`
	for _, typed := range []string{
		"vllm:num_requests_running gauge", "vllm:num_requests_waiting gauge", "vllm:kv_cache_usage_perc gauge",
		"vllm:prompt_tokens_total counter", "vllm:generation_tokens_total counter", "vllm:request_success_total counter",
		"vllm:num_preemptions_total counter", "vllm:prefix_cache_queries_total counter", "vllm:prefix_cache_hits_total counter",
		"vllm:time_to_first_token_seconds histogram", "vllm:inter_token_latency_seconds histogram",
		"vllm:request_time_per_output_token_seconds histogram", "vllm:e2e_request_latency_seconds histogram",
		"vllm:request_queue_time_seconds histogram", "vllm:iteration_tokens_total histogram",
		"llmload_sim_step_overruns_total counter", "llmload_sim_lag_seconds histogram",
		"DCGM_FI_DEV_POWER_USAGE gauge", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter",
	} {
		if !strings.Contains(text, "# TYPE "+typed+"\n") {
			t.Errorf("missing # TYPE %s", typed)
		}
	}
	for _, series := range []string{"vllm:num_requests_running" + lbl, "vllm:prompt_tokens_total" + lbl,
		`vllm:request_success_total{engine="0",finished_reason="length",model_name="test-model"}`,
		`vllm:request_success_total{engine="0",finished_reason="stop",model_name="test-model"}`,
		`vllm:request_success_total{engine="0",finished_reason="abort",model_name="test-model"}`,
	} {
		metricValue(t, text, series)
	}
	// Counted as vLLM counts them: prompt tokens with the first token,
	// generation tokens as produced, the request when finished.
	if v := metricValue(t, text, "vllm:prompt_tokens_total"+lbl); v != 4 {
		t.Errorf("prompt tokens %v, want 4", v)
	}
	if v := metricValue(t, text, "vllm:generation_tokens_total"+lbl); v != 4 {
		t.Errorf("generation tokens %v, want 4", v)
	}
	if v := metricValue(t, text, `vllm:request_success_total{engine="0",finished_reason="length",model_name="test-model"}`); v != 1 {
		t.Errorf("finished requests %v, want 1", v)
	}
	if v := metricValue(t, text, "vllm:time_to_first_token_seconds_sum"+lbl); v != cfg.TTFT.Seconds() {
		t.Errorf("TTFT sum %v, want %v", v, cfg.TTFT.Seconds())
	}
	if v := metricValue(t, text, "vllm:inter_token_latency_seconds_count"+lbl); v != 3 {
		t.Errorf("ITL observations %v, want 3", v)
	}
	// vLLM's own bucket bounds.
	for name, want := range map[string][]float64{
		"vllm:time_to_first_token_seconds":           ttftBuckets,
		"vllm:inter_token_latency_seconds":           itlBuckets,
		"vllm:request_time_per_output_token_seconds": itlBuckets,
		"vllm:e2e_request_latency_seconds":           requestLatencyBuckets,
		"vllm:request_queue_time_seconds":            requestLatencyBuckets,
		"vllm:iteration_tokens_total":                iterationTokenBuckets,
		"vllm:request_prompt_tokens":                 build125Buckets(131072),
	} {
		if got := bucketsOf(text, name); !slices.Equal(got, want) {
			t.Errorf("%s buckets %v, want %v", name, got, want)
		}
	}
	if got := build125Buckets(100); !slices.Equal(got, []float64{1, 2, 5, 10, 20, 50, 100}) {
		t.Errorf("build125Buckets(100) = %v", got)
	}
	if got := ttftBuckets[len(ttftBuckets)-1]; got != 2560 {
		t.Errorf("TTFT buckets end at %v", got)
	}
	dcgm := `{Hostname="llmload-sim",UUID="GPU-00000000-0000-0000-0000-00000000511a",device="nvidia0",gpu="0",modelName="NVIDIA H100 80GB HBM3"}`
	if w := metricValue(t, text, "DCGM_FI_DEV_POWER_USAGE"+dcgm); w != powerIdleW {
		t.Errorf("idle power %v W, want %v", w, powerIdleW)
	}
	e1 := metricValue(t, text, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"+dcgm)
	time.Sleep(20 * time.Millisecond)
	e2 := metricValue(t, string(do(t, http.MethodGet, ts.url+"/metrics", "").body), "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"+dcgm)
	if d := e2 - e1; d < powerIdleW*20 || d > powerIdleW*500 {
		t.Errorf("energy grew %v mJ in ~20 ms idle, want ~%v", d, powerIdleW*20)
	}
}

func TestPowerModel(t *testing.T) {
	var now time.Duration
	p := newPowerModel(func() time.Duration { return now })
	now = time.Second
	p.set(busyUtilisation(4096)) // full load from t=1s
	now = 3 * time.Second
	w, e, u := p.read()
	if w != powerMaxW || u != 1 {
		t.Fatalf("full load: %v W, util %v", w, u)
	}
	if want := powerIdleW*1 + powerMaxW*2; e != want {
		t.Fatalf("energy %v J, want %v", e, want)
	}
	if u := busyUtilisation(1); u <= powerBusyFloor || u >= 0.31 {
		t.Fatalf("one-token step utilisation %v", u)
	}
}

// The batching profile's engine counters move as requests flow: a
// repeated prompt hits the prefix cache, and a tiny KV cache preempts.
func TestBatchingProfileMetrics(t *testing.T) {
	cfg := testConfig()
	cfg.Profile = ProfileH100
	cfg.MaxModelLen = 2048
	ts := startServer(t, cfg)
	prompt := strings.Repeat("shared words ", 100) // 200 words
	for range 2 {
		r := post(t, ts.url+"/v1/completions", fmt.Sprintf(`{"prompt":%q,"max_tokens":4,"ignore_eos":true}`, prompt))
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	text := string(do(t, http.MethodGet, ts.url+"/metrics", "").body)
	lbl := `{engine="0",model_name="test-model"}`
	if q := metricValue(t, text, "vllm:prefix_cache_queries_total"+lbl); q != 2*201 {
		t.Errorf("prefix cache queries %v, want %d", q, 2*201)
	}
	if h := metricValue(t, text, "vllm:prefix_cache_hits_total"+lbl); h != 192 {
		t.Errorf("prefix cache hits %v, want 192 (12 blocks of the repeated 201-token prompt)", h)
	}
	if n := metricValue(t, text, "llmload_sim_steps_total"+`{profile="h100-llama3-8b"}`); n < 8 {
		t.Errorf("%v engine steps for two 4-token requests", n)
	}

	tiny := testConfig()
	tiny.Profile = ProfileH100
	tiny.NumGPUBlocks, tiny.BlockSize, tiny.MaxModelLen = 8, 16, 128
	tiny.MaxNumSeqs, tiny.MaxNumBatchedTokens = 4, 64
	ts2 := startServer(t, tiny)
	done := make(chan response, 4)
	for i := range 4 {
		go func() {
			done <- post(t, ts2.url+"/v1/completions", fmt.Sprintf(`{"prompt":"p%d","max_tokens":60,"ignore_eos":true}`, i))
		}()
	}
	for range 4 {
		if r := <-done; r.status != 200 || !strings.Contains(string(r.body), `"completion_tokens":60`) {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	text = string(do(t, http.MethodGet, ts2.url+"/metrics", "").body)
	if p := metricValue(t, text, "vllm:num_preemptions_total"+lbl); p == 0 {
		t.Errorf("no preemption with 4 x 62 tokens in a 128-token KV cache")
	}
	if u := metricValue(t, text, "vllm:kv_cache_usage_perc"+lbl); u != 0 {
		t.Errorf("KV usage %v after all requests finished", u)
	}
}
