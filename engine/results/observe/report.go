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

	// The server over every instance; Instances, each one's share (an
	// instance is a scraped URL, or a value of a Prometheus target's
	// grouping label), sorted.
	ServerFigures
	Instances []InstanceFigures

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
	InstanceEnergy      []InstanceEnergy // each instance's GPUs, sorted
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
	r.ServerFigures = a.total.figures()
	r.Instances, r.InstanceEnergy = a.perInstance()

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

	ClientInputTokens  int64 `json:"client_input_tokens"`
	ClientOutputTokens int64 `json:"client_output_tokens"`
	ClientCompleted    int64 `json:"client_completed"`
	SharedScenarios    int   `json:"shared_by_scenarios,omitempty"`

	// The server's figures over every instance.
	ServerCounts
	ClientMinusServerTTFTms Value `json:"client_minus_server_ttft_ms"`
	ClientMinusServerE2ELms Value `json:"client_minus_server_e2el_ms"`

	// Instances is each instance's share; the figures above are the total
	// over them (and over any series without an instance).
	Instances []InstanceSummary `json:"instances"`
}

// ServerCounts is what the server counted, in summary.json: the total in
// the "server" section, each instance's in an entry of server.instances.
type ServerCounts struct {
	PromptTokens      Value `json:"prompt_tokens"`
	GenerationTokens  Value `json:"generation_tokens"`
	RequestsSucceeded Value `json:"requests_succeeded"`
	PrefixQueries     Value `json:"prefix_cache_queries"`
	PrefixHits        Value `json:"prefix_cache_hits"`
	PrefixHitRate     Value `json:"prefix_cache_hit_rate"`
	Preemptions       Value `json:"preemptions"`
	MeanRunning       Value `json:"mean_running"`
	MaxRunning        Value `json:"max_running"`
	MeanWaiting       Value `json:"mean_waiting"`
	MaxWaiting        Value `json:"max_waiting"`
	MeanKVUsage       Value `json:"mean_kv_cache_usage"`
	MaxKVUsage        Value `json:"max_kv_cache_usage"`
	MeanTTFTms        Value `json:"mean_ttft_ms"`
	TTFTCount         Value `json:"ttft_count"`
	MeanITLms         Value `json:"mean_itl_ms"`
	ITLCount          Value `json:"itl_count"`
	MeanE2ELms        Value `json:"mean_e2el_ms"`
	E2ELCount         Value `json:"e2el_count"`
	MeanQueueTimems   Value `json:"mean_queue_time_ms"`
	QueueTimeCount    Value `json:"queue_time_count"`
}

// InstanceSummary is one entry of summary.json's server.instances.
type InstanceSummary struct {
	Instance string `json:"instance"`
	ServerCounts
}

func (f ServerFigures) counts() ServerCounts {
	return ServerCounts{
		PromptTokens: f.PromptTokens, GenerationTokens: f.GenerationTokens,
		RequestsSucceeded: f.RequestsSucceeded, PrefixQueries: f.PrefixQueries, PrefixHits: f.PrefixHits,
		PrefixHitRate: ratio(f.PrefixHits, f.PrefixQueries), Preemptions: f.Preemptions,
		MeanRunning: f.MeanRunning, MaxRunning: f.MaxRunning, MeanWaiting: f.MeanWaiting, MaxWaiting: f.MaxWaiting,
		MeanKVUsage: f.MeanKVUsage, MaxKVUsage: f.MaxKVUsage,
		MeanTTFTms: f.TTFT.scale(1e3), TTFTCount: f.TTFTCount, MeanITLms: f.ITL.scale(1e3), ITLCount: f.ITLCount,
		MeanE2ELms: f.E2E.scale(1e3), E2ELCount: f.E2ECount, MeanQueueTimems: f.QueueTime.scale(1e3), QueueTimeCount: f.QueueCount,
	}
}

// InstanceEnergySummary is one entry of summary.json's energy.instances.
type InstanceEnergySummary struct {
	Instance   string `json:"instance"`
	GPUs       int    `json:"gpus"`
	EnergyJ    Value  `json:"energy_j"`
	MeanPowerW Value  `json:"mean_power_w"`
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
	// Instances is each instance's GPUs' share of EnergyJ.
	Instances []InstanceEnergySummary `json:"instances"`
}

// Summarize sets the report beside the client's figures. A nil report
// (observation off) gives status "off" and energy source "none".
func (r *Report) Summarize(c Client) Summary {
	sv := ServerSummary{
		Status: "off", Targets: []string{}, Instances: []InstanceSummary{},
		ClientInputTokens: c.InputTokens, ClientOutputTokens: c.OutputTokens, ClientCompleted: c.Completed,
	}
	en := EnergySummary{Source: "none", OutputTokens: c.OutputTokens, Instances: []InstanceEnergySummary{}}
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
	sv.ServerCounts = r.ServerFigures.counts()
	for _, f := range r.Instances {
		sv.Instances = append(sv.Instances, InstanceSummary{Instance: f.Instance, ServerCounts: f.counts()})
	}
	en.Source, en.GPUs, en.GPUIDs, en.EnergyJ = r.EnergySource, r.GPUs, r.GPUIDs, r.EnergyJ
	en.SpanS, en.MeanPowerW, en.MaxPowerW = r.EnergySpan.Seconds(), r.MeanPowerW, r.MaxPowerW
	en.GenerationTokens, en.JPerGenerationToken = r.GenerationTokens, r.JPerGenerationToken
	en.MeanGPUUtilPct, en.MaxFBUsedMiB = r.MeanGPUUtilPct, r.MaxFBUsedMiB
	for _, e := range r.InstanceEnergy {
		ie := InstanceEnergySummary{Instance: e.Instance, GPUs: e.GPUs, EnergyJ: e.EnergyJ}
		if r.EnergySpan > 0 {
			ie.MeanPowerW = e.EnergyJ.scale(1 / r.EnergySpan.Seconds())
		}
		en.Instances = append(en.Instances, ie)
	}
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
	row := func(label, value string) { record.Row(&b, label, value) }
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
