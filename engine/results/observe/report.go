package observe

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/llmload/llmload/engine/results/record"

	"github.com/llmload/llmload/engine/guard/redact"
)

// Report is what an Observer saw over the whole run, from the baseline
// scrape to the final one. It is immutable.
type Report struct {
	Targets    []string // URLs scraped
	Notes      []string // targets disabled (404), with the reason
	Rounds     int64    // scrape rounds with at least one answer
	Failures   int64    // failed scrapes (one per target and round)
	FirstError string   // the first failure, "" when none
	WriteError string   // server.jsonl could not be written, "" when fine
	Span       time.Duration

	// Counter increases over the run, summed over label sets.
	PromptTokens, GenerationTokens Value
	PrefixQueries, PrefixHits      Value
	Preemptions, RequestsSucceeded Value
	TTFT, ITL, E2E, QueueTime      Value // server means, seconds
	TTFTCount, ITLCount            Value
	E2ECount, QueueCount           Value

	MeanRunning, MaxRunning Value
	MeanWaiting, MaxWaiting Value
	MeanKVUsage, MaxKVUsage Value

	EnergySource        string // dcgm_energy_counter, integrated_power, mixed, none
	GPUs                int
	GPUIDs              []string // the GPUs counted (--gpu-ids); nil: every GPU reported
	EnergyJ             Value
	EnergySpan          time.Duration
	MeanPowerW          Value // EnergyJ / EnergySpan
	MaxPowerW           Value // the highest sampled power or mean power of one scrape interval (from the energy counter), so MeanPowerW <= MaxPowerW
	MeanGPUUtilPct      Value
	MaxFBUsedMiB        Value
	JPerGenerationToken Value
	answeredAtLeastOnce bool
}

func (o *Observer) buildReport() *Report {
	a := o.acc
	r := &Report{
		Notes: o.notes, Rounds: a.answered, Failures: o.failures, FirstError: o.firstError,
		GPUs: a.maxGPUs, EnergySource: a.energySource(),
		answeredAtLeastOnce: a.answered > 0,
	}
	for _, t := range o.cfg.Targets {
		r.Targets = append(r.Targets, redact.URL(t.URL))
		for _, id := range t.GPUs {
			if !slices.Contains(r.GPUIDs, id) {
				r.GPUIDs = append(r.GPUIDs, id)
			}
		}
	}
	if o.writeErr != nil {
		r.WriteError = o.writeErr.Error()
	}
	if a.answered > 0 {
		r.Span = a.last - a.first
	}
	d := func(name string) Value {
		if !a.deltaOK[name] {
			return Value{}
		}
		return known(a.delta[name])
	}
	r.PromptTokens, r.GenerationTokens = d(mPromptTok), d(mGenTok)
	r.PrefixQueries, r.PrefixHits = d(mPrefixQuery), d(mPrefixHit)
	r.Preemptions, r.RequestsSucceeded = d(mPreemptions), d(mSuccess)
	r.TTFT, r.TTFTCount = ratio(d(hTTFT+"_sum"), d(hTTFT+"_count")), d(hTTFT+"_count")
	r.ITL, r.ITLCount = ratio(d(hITL+"_sum"), d(hITL+"_count")), d(hITL+"_count")
	r.E2E, r.E2ECount = ratio(d(hE2E+"_sum"), d(hE2E+"_count")), d(hE2E+"_count")
	r.QueueTime, r.QueueCount = ratio(d(hQueue+"_sum"), d(hQueue+"_count")), d(hQueue+"_count")

	// Gauges over the scrapes taken while the run went; a run shorter than
	// one interval has none, and then every scrape counts.
	i := 0
	if a.running[0].n == 0 && a.kv[0].n == 0 {
		i = 1
	}
	r.MeanRunning, r.MaxRunning = a.running[i].mean(), a.running[i].maximum()
	r.MeanWaiting, r.MaxWaiting = a.waiting[i].mean(), a.waiting[i].maximum()
	r.MeanKVUsage, r.MaxKVUsage = a.kv[i].mean(), a.kvMax[i].maximum()

	r.MaxPowerW, r.MeanGPUUtilPct, r.MaxFBUsedMiB = maxOf(a.power.maximum(), a.intervalPowerMax.maximum()), a.util.mean(), a.fb.maximum()
	if a.energyOK {
		r.EnergyJ = known(a.energyJ)
		r.EnergySpan = a.energyLast - a.energyFirst
		if r.EnergySpan > 0 {
			r.MeanPowerW = known(a.energyJ / r.EnergySpan.Seconds())
		}
	}
	r.JPerGenerationToken = ratio(r.EnergyJ, r.GenerationTokens)
	return r
}

// Client is what the load generator itself measured over the run, to set
// beside the server's view.
type Client struct {
	Completed                 int64
	InputTokens, OutputTokens int64         // over completed requests
	MeanTTFT, MeanE2E         time.Duration // 0 = no completed request
	Scenarios                 int           // scenarios sharing this server during the run (1 = alone)
}

// Summary holds the "server" and "energy" sections of summary.json.
type Summary struct {
	Server ServerSummary
	Energy EnergySummary
}

// ServerSummary is summary.json's "server" section (keys in
// docs/metrics.md).
type ServerSummary struct {
	Status       string   `json:"status"` // ok, off, unavailable
	Targets      []string `json:"targets"`
	Notes        []string `json:"notes,omitempty"`
	Scrapes      int64    `json:"scrapes"`
	ScrapeErrors int64    `json:"scrape_errors"`
	FirstError   string   `json:"first_error,omitempty"`
	WriteError   string   `json:"write_error,omitempty"`
	SpanS        float64  `json:"span_s"`

	PromptTokens       Value `json:"prompt_tokens"`
	ClientInputTokens  int64 `json:"client_input_tokens"`
	GenerationTokens   Value `json:"generation_tokens"`
	ClientOutputTokens int64 `json:"client_output_tokens"`
	RequestsSucceeded  Value `json:"requests_succeeded"`
	ClientCompleted    int64 `json:"client_completed"`
	SharedScenarios    int   `json:"shared_by_scenarios,omitempty"`

	PrefixQueries Value `json:"prefix_cache_queries"`
	PrefixHits    Value `json:"prefix_cache_hits"`
	PrefixHitRate Value `json:"prefix_cache_hit_rate"`
	Preemptions   Value `json:"preemptions"`

	MeanRunning Value `json:"mean_running"`
	MaxRunning  Value `json:"max_running"`
	MeanWaiting Value `json:"mean_waiting"`
	MaxWaiting  Value `json:"max_waiting"`
	MeanKVUsage Value `json:"mean_kv_cache_usage"`
	MaxKVUsage  Value `json:"max_kv_cache_usage"`

	MeanTTFTms              Value `json:"mean_ttft_ms"`
	TTFTCount               Value `json:"ttft_count"`
	ClientMinusServerTTFTms Value `json:"client_minus_server_ttft_ms"`
	MeanITLms               Value `json:"mean_itl_ms"`
	ITLCount                Value `json:"itl_count"`
	MeanE2ELms              Value `json:"mean_e2el_ms"`
	E2ELCount               Value `json:"e2el_count"`
	ClientMinusServerE2ELms Value `json:"client_minus_server_e2el_ms"`
	MeanQueueTimems         Value `json:"mean_queue_time_ms"`
	QueueTimeCount          Value `json:"queue_time_count"`
}

// EnergySummary is summary.json's "energy" section.
type EnergySummary struct {
	Source string `json:"source"`
	GPUs   int    `json:"gpus"`
	// GPUIDs are the GPUs counted (run --gpu-ids), absent when every GPU
	// the exporter reports counts.
	GPUIDs              []string `json:"gpu_ids,omitempty"`
	EnergyJ             Value    `json:"energy_j"`
	SpanS               float64  `json:"span_s"`
	MeanPowerW          Value    `json:"mean_power_w"`
	MaxPowerW           Value    `json:"max_power_w"`
	OutputTokens        int64    `json:"output_tokens"`
	JPerOutputToken     Value    `json:"j_per_output_token"`
	OutputTokensPerJ    Value    `json:"output_tokens_per_j"`
	GenerationTokens    Value    `json:"generation_tokens"`
	JPerGenerationToken Value    `json:"j_per_generation_token"`
	MeanGPUUtilPct      Value    `json:"mean_gpu_util_pct"`
	MaxFBUsedMiB        Value    `json:"max_fb_used_mib"`
}

// Summarize sets the report beside the client's figures. A nil report
// (observation off) gives status "off" and energy source "none".
func (r *Report) Summarize(c Client) Summary {
	sv := ServerSummary{
		Status: "off", Targets: []string{},
		ClientInputTokens: c.InputTokens, ClientOutputTokens: c.OutputTokens, ClientCompleted: c.Completed,
	}
	en := EnergySummary{Source: "none", OutputTokens: c.OutputTokens}
	if r == nil {
		return Summary{sv, en}
	}
	sv.Status = "ok"
	if !r.answeredAtLeastOnce {
		sv.Status = "unavailable"
	}
	if c.Scenarios > 1 {
		sv.SharedScenarios = c.Scenarios
	}
	sv.Targets, sv.Notes = r.Targets, r.Notes
	sv.Scrapes, sv.ScrapeErrors, sv.FirstError, sv.WriteError = r.Rounds, r.Failures, r.FirstError, r.WriteError
	sv.SpanS = r.Span.Seconds()
	sv.PromptTokens, sv.GenerationTokens, sv.RequestsSucceeded = r.PromptTokens, r.GenerationTokens, r.RequestsSucceeded
	sv.PrefixQueries, sv.PrefixHits = r.PrefixQueries, r.PrefixHits
	sv.PrefixHitRate = ratio(r.PrefixHits, r.PrefixQueries)
	sv.Preemptions = r.Preemptions
	sv.MeanRunning, sv.MaxRunning, sv.MeanWaiting, sv.MaxWaiting = r.MeanRunning, r.MaxRunning, r.MeanWaiting, r.MaxWaiting
	sv.MeanKVUsage, sv.MaxKVUsage = r.MeanKVUsage, r.MaxKVUsage
	sv.MeanTTFTms, sv.TTFTCount = r.TTFT.scale(1e3), r.TTFTCount
	sv.MeanITLms, sv.ITLCount = r.ITL.scale(1e3), r.ITLCount
	sv.MeanE2ELms, sv.E2ELCount = r.E2E.scale(1e3), r.E2ECount
	sv.MeanQueueTimems, sv.QueueTimeCount = r.QueueTime.scale(1e3), r.QueueCount
	en.Source, en.GPUs, en.GPUIDs, en.EnergyJ = r.EnergySource, r.GPUs, r.GPUIDs, r.EnergyJ
	en.SpanS, en.MeanPowerW, en.MaxPowerW = r.EnergySpan.Seconds(), r.MeanPowerW, r.MaxPowerW
	en.GenerationTokens, en.JPerGenerationToken = r.GenerationTokens, r.JPerGenerationToken
	en.MeanGPUUtilPct, en.MaxFBUsedMiB = r.MeanGPUUtilPct, r.MaxFBUsedMiB
	s := Summary{sv, en}
	s.SetClient(c)
	return s
}

// SetClient sets the client's figures and the comparisons made with them
// (client minus server latencies, energy per output token). llmload merge
// calls it to set one shard's observation of the server beside the merged
// client figures.
func (s *Summary) SetClient(c Client) {
	sv, en := &s.Server, &s.Energy
	sv.ClientInputTokens, sv.ClientOutputTokens, sv.ClientCompleted = c.InputTokens, c.OutputTokens, c.Completed
	sv.ClientMinusServerTTFTms, sv.ClientMinusServerE2ELms = Value{}, Value{}
	if c.Completed > 0 && sv.Status != "off" {
		sv.ClientMinusServerTTFTms = known(msf(c.MeanTTFT)).minus(sv.MeanTTFTms)
		sv.ClientMinusServerE2ELms = known(msf(c.MeanE2E)).minus(sv.MeanE2ELms)
	}
	en.OutputTokens = c.OutputTokens
	out := known(float64(c.OutputTokens))
	en.JPerOutputToken, en.OutputTokensPerJ = ratio(en.EnergyJ, out), ratio(out, en.EnergyJ)
}

func msf(d time.Duration) float64 { return float64(d) / 1e6 }

// WriteTable prints the server and energy block after the client's
// summary table, in its layout. Nothing when observation was off.
func (s Summary) WriteTable(w io.Writer) {
	sv, en := s.Server, s.Energy
	if sv.Status == "off" {
		return
	}
	var b bytes.Buffer
	row := func(label, value string) { fmt.Fprintf(&b, "%-40s %-10s\n", label, value) }
	pair := func(a, c Value) string { return a.String() + " / " + c.String() }
	b.WriteString(record.Center("Server (/metrics)", '=') + "\n")
	for _, t := range sv.Targets {
		row("Scraped:", t)
	}
	row("Scrapes / failed:", strconv.FormatInt(sv.Scrapes, 10)+" / "+strconv.FormatInt(sv.ScrapeErrors, 10))
	if sv.FirstError != "" {
		row("First scrape error:", sv.FirstError)
	}
	for _, n := range sv.Notes {
		row("Note:", n)
	}
	if sv.Status == "unavailable" {
		row("(no scrape succeeded)", "")
		b.WriteString(record.Center("", '=') + "\n")
		w.Write(b.Bytes())
		return
	}
	row("Server prompt tokens (client):", intv(sv.PromptTokens)+" ("+strconv.FormatInt(sv.ClientInputTokens, 10)+")")
	row("Server generation tokens (client):", intv(sv.GenerationTokens)+" ("+strconv.FormatInt(sv.ClientOutputTokens, 10)+")")
	if sv.SharedScenarios > 1 {
		row("  server shared by scenarios:", strconv.Itoa(sv.SharedScenarios))
	}
	row("Prefix cache hit rate (%):", sv.PrefixHitRate.scale(100).String())
	row("Preemptions:", intv(sv.Preemptions))
	row("Running requests, mean / max:", pair(sv.MeanRunning, sv.MaxRunning))
	row("Waiting requests, mean / max:", pair(sv.MeanWaiting, sv.MaxWaiting))
	row("KV cache usage, mean / max (%):", pair(sv.MeanKVUsage.scale(100), sv.MaxKVUsage.scale(100)))
	row("Server mean TTFT (ms):", sv.MeanTTFTms.String())
	row("  client minus server (ms):", sv.ClientMinusServerTTFTms.String())
	row("Server mean ITL (ms):", sv.MeanITLms.String())
	row("Server mean E2EL (ms):", sv.MeanE2ELms.String())
	row("  client minus server (ms):", sv.ClientMinusServerE2ELms.String())
	row("Server mean queue time (ms):", sv.MeanQueueTimems.String())
	b.WriteString(record.Center("Energy", '-') + "\n")
	if en.Source == "none" {
		row("(no GPU energy or power series)", "")
	} else {
		row("Energy from:", fmt.Sprintf("%s, %d GPU(s)", en.Source, en.GPUs))
		row("Energy (J):", en.EnergyJ.String())
		row("Mean / max power (W):", pair(en.MeanPowerW, en.MaxPowerW))
		row("Energy per output token (J):", fix4(en.JPerOutputToken))
		row("Output tokens per J:", fix4(en.OutputTokensPerJ))
	}
	b.WriteString(record.Center("", '=') + "\n")
	w.Write(b.Bytes())
}

func intv(v Value) string {
	if !v.OK {
		return "n/a"
	}
	return strconv.FormatFloat(v.V, 'f', 0, 64)
}

func fix4(v Value) string {
	if !v.OK {
		return "n/a"
	}
	return strconv.FormatFloat(v.V, 'f', 4, 64)
}
