package observe

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sample names (as they appear on the wire, counters with their _total
// suffix, histograms by their _sum and _count lines) of the series an
// Observer reads. Everything else on an endpoint is ignored.
const (
	mRunning      = "vllm:num_requests_running"
	mWaiting      = "vllm:num_requests_waiting"
	mKVUsage      = "vllm:kv_cache_usage_perc"
	mPrefixQuery  = "vllm:prefix_cache_queries_total"
	mPrefixHit    = "vllm:prefix_cache_hits_total"
	mPromptTok    = "vllm:prompt_tokens_total"
	mGenTok       = "vllm:generation_tokens_total"
	mPreemptions  = "vllm:num_preemptions_total"
	mSuccess      = "vllm:request_success_total"
	hTTFT         = "vllm:time_to_first_token_seconds"
	hITL          = "vllm:inter_token_latency_seconds"
	hE2E          = "vllm:e2e_request_latency_seconds"
	hQueue        = "vllm:request_queue_time_seconds"
	mPower        = "DCGM_FI_DEV_POWER_USAGE"              // W, gauge
	mEnergy       = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" // mJ since boot, counter
	mGPUUtil      = "DCGM_FI_DEV_GPU_UTIL"                 // %, gauge
	mFBUsed       = "DCGM_FI_DEV_FB_USED"                  // MiB, gauge
	legacyKVUsage = "vllm:gpu_cache_usage_perc"            // vLLM V0 and early V1
	legacyITL     = "vllm:time_per_output_token_seconds"   // vLLM before inter_token_latency_seconds (same meaning)
)

// histograms whose _sum and _count the Observer reads.
var histograms = []string{hTTFT, hITL, hE2E, hQueue}

// legacy maps an older vLLM name to the current one. The older name is
// read only when the scrape has no series of the current name, so a vLLM
// that exports both (during a deprecation period) is not counted twice.
var legacy = map[string]string{
	legacyKVUsage:        mKVUsage,
	legacyITL + "_sum":   hITL + "_sum",
	legacyITL + "_count": hITL + "_count",
}

// wanted is the set of family or sample names the parser keeps.
var wanted = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{mRunning, mWaiting, mKVUsage, mPrefixQuery, mPrefixHit, mPromptTok,
		mGenTok, mPreemptions, mSuccess, mPower, mEnergy, mGPUUtil, mFBUsed, legacyKVUsage} {
		m[n] = true
	}
	for _, h := range append(slices.Clone(histograms), legacyITL) {
		m[h] = true // typed histogram family
		m[h+"_sum"] = true
		m[h+"_count"] = true // untyped _sum/_count lines
	}
	return m
}()

// point is one value of one wanted series in one scrape.
type point struct {
	name   string // sample name: a counter with _total, a histogram's X_sum / X_count
	labels string // canonical label set: name="value" pairs sorted, comma-separated
	uuid   string // the UUID label of DCGM series (one GPU), "" when absent
	gpu    string // the gpu label (device index) of DCGM series, "" when absent
	// instance is what the series is reported under in the per-instance
	// figures: the target's URL for a /metrics scrape, the grouping
	// label's value (instance) for a Prometheus query.
	instance string
	value    float64
}

// parse reads one response of a Prometheus text exposition endpoint
// (format 0.0.4; OpenMetrics text parses too, its counters carrying the
// same _total names) and returns the wanted series. Non-finite values are
// skipped. An error says which line was malformed.
func parse(body []byte) ([]point, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	var in io.Reader = bytes.NewReader(body)
	if len(body) > 0 && body[len(body)-1] != '\n' {
		// The format ends every line with \n; a body cut after its last
		// sample is still whole.
		in = io.MultiReader(in, strings.NewReader("\n"))
	}
	fams, err := p.TextToMetricFamilies(in)
	if err != nil {
		return nil, fmt.Errorf("parsing Prometheus text format: %w", err)
	}
	var pts []point
	for name, mf := range fams {
		if !wanted[name] {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels, uuid, gpu := canonLabels(m.GetLabel())
			add := func(n string, v float64) {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return
				}
				pts = append(pts, point{name: n, labels: labels, uuid: uuid, gpu: gpu, value: v})
			}
			switch {
			case m.Histogram != nil:
				h := m.GetHistogram()
				add(name+"_sum", h.GetSampleSum())
				add(name+"_count", float64(h.GetSampleCount()))
			case m.Summary != nil:
				s := m.GetSummary()
				add(name+"_sum", s.GetSampleSum())
				add(name+"_count", float64(s.GetSampleCount()))
			case m.Counter != nil:
				add(name, m.GetCounter().GetValue())
			case m.Gauge != nil:
				add(name, m.GetGauge().GetValue())
			case m.Untyped != nil:
				add(name, m.GetUntyped().GetValue())
			}
		}
	}
	return preferCurrent(pts), nil
}

// preferCurrent renames the older vLLM names of one endpoint's series to
// the current ones, and drops them where the current name is present.
func preferCurrent(pts []point) []point {
	has := map[string]bool{}
	for _, pt := range pts {
		has[pt.name] = true
	}
	out := pts[:0]
	for _, pt := range pts {
		if cur, old := legacy[pt.name]; old {
			if has[cur] {
				continue
			}
			pt.name = cur
		}
		out = append(out, pt)
	}
	return out
}

// canonLabels renders a label set in a fixed order so that the same series
// has the same key in every scrape. It also returns the DCGM labels UUID
// and gpu.
func canonLabels(ls []*dto.LabelPair) (key, uuid, gpu string) {
	if len(ls) == 0 {
		return "", "", ""
	}
	pairs := make([]string, 0, len(ls))
	for _, l := range ls {
		switch l.GetName() {
		case "UUID":
			uuid = l.GetValue()
		case "gpu":
			gpu = l.GetValue()
		}
		pairs = append(pairs, l.GetName()+"="+fmt.Sprintf("%q", l.GetValue()))
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ","), uuid, gpu
}
