package sim

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmload/llmload/engine/shared/wire"
)

// Counter names carry their _total suffix explicitly: Python's
// prometheus_client (vLLM) appends it, client_golang's text format does not.

// Bucket bounds are vLLM's (package wire), so that dashboards and
// histogram_quantile queries written for vLLM work unchanged.
var (
	ttftBuckets           = wire.TTFTBuckets
	itlBuckets            = wire.ITLBuckets
	requestLatencyBuckets = wire.RequestLatencyBuckets
	iterationTokenBuckets = []float64{1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384}
	// lagBuckets resolve the simulator's own lateness from 10 us to 1 s.
	lagBuckets = []float64{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 1}
)

// build125Buckets is vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, ...
// up to max.
func build125Buckets(max int) []float64 {
	var out []float64
	for e := 1; ; e *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*e > max {
				return out
			}
			out = append(out, float64(m*e))
		}
	}
}

// overrunThreshold is how late an engine step or a token delivery may start
// before it counts in llmload_sim_step_overruns_total.
const overrunThreshold = time.Millisecond

// Finish reasons vLLM reports in request_success_total.
var finishReasons = []string{"stop", "length", "abort"}

// metrics are the simulator's Prometheus series. Every field is safe for
// concurrent use (client_golang metrics are atomic).
type metrics struct {
	running, waiting, kvUsage             prometheus.Gauge
	promptTokens, genTokens, preemptions  prometheus.Counter
	prefixQueries, prefixHits             prometheus.Counter
	success                               map[string]prometheus.Counter
	ttft, itl, tpot, e2e, queue           prometheus.Observer
	inference, prefill, decode            prometheus.Observer
	promptLen, genLen, maxTokens, iterTok prometheus.Observer

	steps, overruns prometheus.Counter
	lag             prometheus.Observer
	overrunLog      *overrunLog

	power *powerModel
}

func newMetrics(reg prometheus.Registerer, cfg *Config, now func() time.Duration) (*metrics, error) {
	labels := prometheus.Labels{"model_name": cfg.Model, "engine": "0"}
	m := &metrics{success: map[string]prometheus.Counter{}, overrunLog: newOverrunLog(now)}
	var cs []prometheus.Collector
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels})
		cs = append(cs, g)
		return g
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels})
		cs = append(cs, c)
		return c
	}
	hist := func(name, help string, buckets []float64) prometheus.Observer {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets, ConstLabels: labels})
		cs = append(cs, h)
		return h
	}
	m.running = gauge("vllm:num_requests_running", "Number of requests in model execution batches.")
	m.waiting = gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.")
	m.kvUsage = gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.")
	m.prefixQueries = counter("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.")
	m.prefixHits = counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.")
	m.preemptions = counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.")
	m.promptTokens = counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.")
	m.genTokens = counter("vllm:generation_tokens_total", "Number of generation tokens processed.")

	success := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vllm:request_success_total", Help: "Count of successfully processed requests.", ConstLabels: labels,
	}, []string{"finished_reason"})
	cs = append(cs, success)
	for _, r := range finishReasons {
		m.success[r] = success.WithLabelValues(r)
	}

	lenBuckets := build125Buckets(cfg.MaxModelLen)
	m.promptLen = hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", lenBuckets)
	m.genLen = hist("vllm:request_generation_tokens", "Number of generation tokens processed.", lenBuckets)
	m.maxTokens = hist("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", lenBuckets)
	m.iterTok = hist("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", iterationTokenBuckets)
	m.ttft = hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttftBuckets)
	m.itl = hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", itlBuckets)
	m.tpot = hist("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.", itlBuckets)
	m.e2e = hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", requestLatencyBuckets)
	m.queue = hist("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", requestLatencyBuckets)
	m.inference = hist("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", requestLatencyBuckets)
	m.prefill = hist("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", requestLatencyBuckets)
	m.decode = hist("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", requestLatencyBuckets)

	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "vllm:cache_config_info", Help: "Information of the LLMEngine CacheConfig",
		ConstLabels: prometheus.Labels{
			"engine":                 "0",
			"block_size":             strconv.Itoa(cfg.BlockSize),
			"num_gpu_blocks":         strconv.Itoa(cfg.NumGPUBlocks),
			"cache_dtype":            "auto",
			"enable_prefix_caching":  pyBool(cfg.PrefixCaching),
			"gpu_memory_utilization": "0.9",
		},
	})
	info.Set(1)
	cs = append(cs, info)

	simLabels := prometheus.Labels{"profile": cfg.Profile}
	m.steps = prometheus.NewCounter(prometheus.CounterOpts{Name: "llmload_sim_steps_total", ConstLabels: simLabels,
		Help: "Engine steps (profile h100-llama3-8b) or token deliveries (profile fixed) the simulator timed."})
	m.overruns = prometheus.NewCounter(prometheus.CounterOpts{Name: "llmload_sim_step_overruns_total", ConstLabels: simLabels,
		Help: "Engine steps or token deliveries that started more than 1 ms after their deadline: the simulator, not the client, was late."})
	lag := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "llmload_sim_lag_seconds", ConstLabels: simLabels, Buckets: lagBuckets,
		Help: "How late the simulator started an engine step or a token delivery after its deadline."})
	m.lag = lag
	cs = append(cs, m.steps, m.overruns, lag)

	m.power = newPowerModel(now)
	cs = append(cs, m.power.collectors()...)

	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// observeLag records how late a step or delivery due at due started (at
// start), both on the server clock.
func (m *metrics) observeLag(due, start time.Duration) {
	m.steps.Inc()
	lag := max(start-due, 0)
	m.lag.Observe(lag.Seconds())
	if lag > overrunThreshold {
		m.overruns.Inc()
		m.overrunLog.add(due, lag)
	}
}

// Power model of an H100 SXM (700 W TDP): ~70 W idle; a busy GPU draws
// powerBusyFloor of the dynamic range even for a tiny batch (weights stream
// from HBM every step) and reaches the TDP once a step has powerFullTokens
// tokens (tensor cores saturated).
const (
	powerIdleW      = 70.0
	powerMaxW       = 700.0
	powerBusyFloor  = 0.3
	powerFullTokens = 1024.0
)

// busyUtilisation maps a step's token count to the 0..1 load of the model.
func busyUtilisation(tokens int) float64 {
	f := float64(tokens) / powerFullTokens
	if f > 1 {
		f = 1
	}
	return powerBusyFloor + (1-powerBusyFloor)*f
}

// powerModel integrates a piecewise-constant power draw into energy, as the
// DCGM exporter's DCGM_FI_DEV_POWER_USAGE and
// DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION report it.
type powerModel struct {
	mu      sync.Mutex
	now     func() time.Duration
	since   time.Duration // when the current draw began
	util    float64       // current utilisation, 0..1
	energyJ float64       // energy before since
}

func newPowerModel(now func() time.Duration) *powerModel {
	return &powerModel{now: now, since: now()}
}

func watts(util float64) float64 { return powerIdleW + (powerMaxW-powerIdleW)*util }

// set changes the utilisation from now on.
func (p *powerModel) set(util float64) {
	p.mu.Lock()
	if util != p.util {
		t := p.now()
		p.energyJ += watts(p.util) * (t - p.since).Seconds()
		p.since, p.util = t, util
	}
	p.mu.Unlock()
}

func (p *powerModel) read() (w, energyJ, util float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w = watts(p.util)
	return w, p.energyJ + w*(p.now()-p.since).Seconds(), p.util
}

func (p *powerModel) collectors() []prometheus.Collector {
	labels := prometheus.Labels{
		"gpu": "0", "UUID": "GPU-00000000-0000-0000-0000-00000000511a", "device": "nvidia0",
		"modelName": "NVIDIA H100 80GB HBM3", "Hostname": "llmload-sim",
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "DCGM_FI_DEV_POWER_USAGE", ConstLabels: labels,
			Help: "Power draw (in W)."}, func() float64 { w, _, _ := p.read(); return w }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", ConstLabels: labels,
			Help: "Total energy consumption since boot (in mJ)."}, func() float64 { _, e, _ := p.read(); return e * 1000 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "DCGM_FI_DEV_GPU_UTIL", ConstLabels: labels,
			Help: "GPU utilization (in %)."}, func() float64 { _, _, u := p.read(); return u * 100 }),
	}
}
