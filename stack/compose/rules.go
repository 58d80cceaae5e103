package compose

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// RulesFile is the rendered rules file, beside prometheus.yml (its
// rule_files entry is relative to it).
const RulesFile = "prometheus/rules.yml"

// Objectives are the thresholds of the rendered alerting rules (stack
// init's --alert-* flags). Latencies are vLLM's own p99, per replica and
// model.
type Objectives struct {
	TTFTp99, ITLp99, E2Ep99 time.Duration
	KVCache                 float64       // share of the KV cache in use, 0 to 1
	QueueDepth              int           // requests waiting in one vLLM
	For                     time.Duration // how long a condition holds before it fires
}

// DefaultObjectives are interactive-chat objectives: first token within
// 2 s, 100 ms between tokens (10 tok/s, faster than reading), a minute
// end to end; a KV cache 95% full or 20 waiting requests mean the
// server is saturated; 5 minutes keeps a load ramp's spike from firing.
func DefaultObjectives() Objectives {
	return Objectives{TTFTp99: 2 * time.Second, ITLp99: 100 * time.Millisecond, E2Ep99: time.Minute,
		KVCache: 0.95, QueueDepth: 20, For: 5 * time.Minute}
}

// Validate names the flag of the first objective that cannot be rendered.
func (a Objectives) Validate() error {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--alert-ttft-p99", a.TTFTp99}, {"--alert-itl-p99", a.ITLp99}, {"--alert-e2e-p99", a.E2Ep99}} {
		if d.v < time.Millisecond || d.v%time.Millisecond != 0 {
			return fmt.Errorf("%s %s: want a latency of whole milliseconds, at least 1ms (e.g. 2s, 150ms)", d.flag, d.v)
		}
	}
	if a.KVCache <= 0 || a.KVCache > 1 {
		return fmt.Errorf("--alert-kv-cache %g: want a share of the KV cache above 0 and at most 1 (e.g. 0.95)", a.KVCache)
	}
	if a.QueueDepth < 1 {
		return fmt.Errorf("--alert-queue %d: want at least 1 waiting request", a.QueueDepth)
	}
	if a.For < 0 || a.For%time.Second != 0 {
		return fmt.Errorf("--alert-for %s: want whole seconds, 0 or more (e.g. 5m)", a.For)
	}
	return nil
}

// Recorded series: what the dashboard's heavy queries (histogram
// quantiles over every bucket) and the alerts read, evaluated once per
// scrape interval instead of once per panel, viewer and refresh. Named
// level:metric:operation as Prometheus recommends; the metric's own colons
// (vLLM's "vllm:") become underscores.
const (
	recClientBucket = "scenario_le:%s_bucket:rate"            // per scenario and bucket
	recServerBucket = "instance_model_name_le:%s_bucket:rate" // per replica, model and bucket
	recServerGen    = "instance_model_name:vllm_generation_tokens:rate"
	recGPUWatts     = "instance_gpu:dcgm_energy:watts" // rate of the energy counter, in W
)

// clientHistograms and serverHistograms are the histograms the dashboard
// and the alerts read quantiles of.
var (
	clientHistograms = []string{"llmload_ttft_seconds", "llmload_itl_seconds", "llmload_tpot_seconds",
		"llmload_e2e_seconds", "llmload_queue_time_seconds", "llmload_schedule_lag_seconds"}
	serverHistograms = []string{"vllm:time_to_first_token_seconds", "vllm:inter_token_latency_seconds",
		"vllm:e2e_request_latency_seconds", "vllm:request_queue_time_seconds"}
)

// recordedBucket is the recorded bucket rate of a histogram.
func recordedBucket(histogram string) string {
	if strings.HasPrefix(histogram, "vllm:") {
		return fmt.Sprintf(recServerBucket, strings.ReplaceAll(histogram, ":", "_"))
	}
	return fmt.Sprintf(recClientBucket, histogram)
}

// recordingRule is one rule of the recording group; Source is the metric
// it reads.
type recordingRule struct{ Name, Expr, Source string }

// recordingRules are the recording rules over window (a Prometheus
// duration).
func recordingRules(window string) []recordingRule {
	var recs []recordingRule
	for _, h := range clientHistograms {
		recs = append(recs, recordingRule{recordedBucket(h), fmt.Sprintf("sum by (scenario, le) (rate(%s_bucket[%s]))", h, window), h + "_bucket"})
	}
	for _, h := range serverHistograms {
		recs = append(recs, recordingRule{recordedBucket(h), fmt.Sprintf("sum by (instance, model_name, le) (rate(%s_bucket[%s]))", h, window), h + "_bucket"})
	}
	return append(recs,
		recordingRule{recServerGen, fmt.Sprintf("sum by (instance, model_name) (rate(vllm:generation_tokens_total[%s]))", window), "vllm:generation_tokens_total"},
		// DCGM counts mJ: a rate of it is mW.
		recordingRule{recGPUWatts, fmt.Sprintf("sum by (instance, gpu, UUID) (rate(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION[%s])) / 1000", window), "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"})
}

// ruleWindow is the rate window of the recording rules: four scrape
// intervals, Grafana's minimum $__rate_interval, so a rate always spans
// at least two samples even after a missed scrape.
func ruleWindow(scrape time.Duration) time.Duration { return 4 * scrape }

// RenderRules renders prometheus/rules.yml: the recording rules at the
// scrape interval's window and the alerting rules at a's objectives.
func RenderRules(scrape time.Duration, a Objectives, version string) ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	window := promDuration(ruleWindow(scrape))
	recs := recordingRules(window)
	p99 := func(h string) string {
		return fmt.Sprintf("histogram_quantile(0.99, sum by (le, instance, model_name) (%s))", recordedBucket(h))
	}
	seconds := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	return execute("prometheus/rules.yml.tmpl", template.FuncMap{"q": yamlQuote}, map[string]any{
		"Version": version, "Interval": promDuration(scrape), "Window": window, "Recorded": recs,
		"For": composeDuration(a.For), "TTFTp99": p99("vllm:time_to_first_token_seconds"), "TTFT": seconds(a.TTFTp99),
		"ITLp99": p99("vllm:inter_token_latency_seconds"), "ITL": seconds(a.ITLp99),
		"E2Ep99": p99("vllm:e2e_request_latency_seconds"), "E2E": seconds(a.E2Ep99),
		"KVCache": strconv.FormatFloat(a.KVCache, 'f', -1, 64), "Queue": a.QueueDepth, "PreemptWindow": window,
	})
}
