package compose

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The dashboard is declared as data (rows of panels of PromQL queries) and
// turned into Grafana's JSON model by the Grafana Foundation SDK, whose
// types are generated from Grafana's own schema: field names and enum values
// are Grafana's, not guessed. The same Rows feed the Prometheus test that
// runs every query against a real Prometheus, and docs/stack.md's table.

// Dashboard variables. Each "All" value is the regex .*, so a panel still
// returns data while a label has no values yet (no client running).
const (
	dsVar       = "${datasource}"
	selScenario = `scenario=~"$scenario"`
	selModel    = `model_name=~"$model_name", instance=~"$instance"` // instance: the vLLM replica
	rateWindow  = "$__rate_interval"
	// DatasourceUID is the uid of the provisioned Prometheus data source.
	DatasourceUID = "prometheus"
	// DashboardUID is the provisioned dashboard's uid (its URL is /d/DashboardUID).
	DashboardUID = "llmload-stack"
)

// Source says which exporter a query reads; the test that runs the queries
// needs to know which ones the simulator can answer.
type Source string

const (
	SourceClient Source = "llmload" // llmload run --metrics-addr
	SourceServer Source = "vllm"    // vLLM /metrics
	SourceGPU    Source = "dcgm"    // DCGM exporter
)

// Query is one PromQL expression of a panel and its legend.
type Query struct {
	Expr, Legend string
}

// Panel is one graph (or a single number when Stat is set).
type Panel struct {
	Title, Description string
	Unit               string // Grafana unit id: s, reqps, percentunit, watt, ...
	Max                float64
	Stat               bool
	Sources            []Source // exporters its queries read
	Queries            []Query
}

// Row is a titled band of panels.
type Row struct {
	Title   string
	Panels  []Panel
	Columns int // panels per line
}

// rate is rate(metric{sel}[$__rate_interval]).
func rate(metric, sel string) string {
	return fmt.Sprintf("rate(%s{%s}[%s])", metric, sel, rateWindow)
}

// quantile is the q-quantile of a histogram, summed over everything but
// by, from the bucket rates the recording rules keep (rules.go).
func quantile(q float64, histogram, sel, by string) string {
	return fmt.Sprintf("histogram_quantile(%g, sum by (le%s) (%s{%s}))", q, by, recordedBucket(histogram), sel)
}

// DashboardSpec is what the dashboard depends on in a stack's options.
type DashboardSpec struct {
	// GPUs are the gpu variable's default selection: the GPUs vLLM uses
	// (Options.ServedGPUs), so power and energy per token count them and
	// not the node's idle ones. UUIDs select by the exporter's UUID label.
	// Empty: All.
	GPUs []string
}

// gpuLabel is the DCGM label the gpu variable selects on.
func (d DashboardSpec) gpuLabel() string {
	if len(d.GPUs) > 0 && strings.HasPrefix(d.GPUs[0], "GPU-") {
		return "UUID"
	}
	return "gpu"
}

// selGPU selects the GPUs of the gpu variable.
func (d DashboardSpec) selGPU() string { return d.gpuLabel() + `=~"$gpu"` }

// Rows returns the dashboard's content for a stack whose GPUs are
// selected by index (the default): Overview, Client vs server, Client
// (llmload), Server (vLLM), GPU (DCGM).
func Rows() []Row { return DashboardSpec{}.rows() }

func (d DashboardSpec) rows() []Row {
	e := newPanelExprs(d.selGPU())
	return []Row{overviewRow(e), clientVsServerRow(e), clientRow(e), serverRow(e), gpuRow(e, d.selGPU())}
}

const (
	byScenario = ", scenario" // quantile's "by" for per-scenario client series
	byInstance = ", instance" // quantile's "by" for per-replica server series
	tokS       = "suffix: tok/s"
)

// panelExprs are the queries that more than one row shows.
type panelExprs struct {
	clientTTFT95, serverTTFT95, clientITL95, serverITL95, clientE2E95, serverE2E95 string
	clientOut, serverGen, joulesPerToken, power                                    string
}

func newPanelExprs(selGPU string) panelExprs {
	var e panelExprs
	e.clientTTFT95 = quantile(0.95, "llmload_ttft_seconds", selScenario, byScenario)
	e.serverTTFT95 = quantile(0.95, "vllm:time_to_first_token_seconds", selModel, "")
	e.clientITL95 = quantile(0.95, "llmload_itl_seconds", selScenario, byScenario)
	e.serverITL95 = quantile(0.95, "vllm:inter_token_latency_seconds", selModel, "")
	e.clientE2E95 = quantile(0.95, "llmload_e2e_seconds", selScenario, byScenario)
	e.serverE2E95 = quantile(0.95, "vllm:e2e_request_latency_seconds", selModel, "")
	e.clientOut = fmt.Sprintf("sum by (scenario) (%s)", rate("llmload_output_tokens_total", selScenario))
	e.serverGen = fmt.Sprintf("sum(%s{%s})", recServerGen, selModel)
	// The recorded energy rate is in W = J/s; divided by tokens/s it is J
	// per token. "> 0" leaves idle periods empty instead of dividing by
	// zero.
	e.joulesPerToken = fmt.Sprintf("sum(%s{%s}) / (%s > 0)", recGPUWatts, selGPU, e.serverGen)
	e.power = fmt.Sprintf("sum(DCGM_FI_DEV_POWER_USAGE{%s})", selGPU)
	return e
}

// overviewRow is the Overview row: the headline figures, as stat panels.
func overviewRow(e panelExprs) Row {
	return Row{Title: "Overview", Columns: 6, Panels: []Panel{
		{Title: "Requests/s completed (client)", Unit: "reqps", Stat: true, Sources: []Source{SourceClient},
			Description: "Requests llmload saw complete per second, all selected scenarios.",
			Queries:     []Query{{Expr: fmt.Sprintf(`sum(%s)`, rate("llmload_requests_total", selScenario+`, outcome="completed"`))}}},
		{Title: "TTFT p95 (client)", Unit: "s", Stat: true, Sources: []Source{SourceClient},
			Description: "95th percentile time to first token measured by llmload, over the selected scenarios.",
			Queries:     []Query{{Expr: quantile(0.95, "llmload_ttft_seconds", selScenario, "")}}},
		{Title: "Generation tok/s (vLLM)", Unit: tokS, Stat: true, Sources: []Source{SourceServer},
			Description: "Output tokens vLLM generates per second.",
			Queries:     []Query{{Expr: e.serverGen}}},
		{Title: "KV cache usage (vLLM)", Unit: "percentunit", Max: 1, Stat: true, Sources: []Source{SourceServer},
			Description: "Share of vLLM's KV cache blocks in use (highest of the selected models).",
			Queries:     []Query{{Expr: fmt.Sprintf("max(vllm:kv_cache_usage_perc{%s})", selModel)}}},
		{Title: "GPU power", Unit: "watt", Stat: true, Sources: []Source{SourceGPU},
			Description: "Power draw of the selected GPUs, summed.",
			Queries:     []Query{{Expr: e.power}}},
		{Title: "J per output token", Unit: "J", Stat: true, Sources: []Source{SourceGPU, SourceServer},
			Description: "Joules the selected GPUs used per token vLLM generated, over the rate window.",
			Queries:     []Query{{Expr: e.joulesPerToken}}},
	}}
}

// clientVsServerRow is the Client vs server row: the same figure measured by llmload and by vLLM, side by side.
func clientVsServerRow(e panelExprs) Row {
	return Row{Title: "Client vs server", Columns: 4, Panels: []Panel{
		{Title: "TTFT p95: client vs vLLM", Unit: "s", Sources: []Source{SourceClient, SourceServer},
			Description: "Time to first token as llmload measured it (from send) and as vLLM measured it (from arrival). The gap is network, HTTP front end and tokenization.",
			Queries:     []Query{{Expr: e.clientTTFT95, Legend: "client {{scenario}}"}, {Expr: e.serverTTFT95, Legend: "vLLM"}}},
		{Title: "ITL p95: client vs vLLM", Unit: "s", Sources: []Source{SourceClient, SourceServer},
			Description: "Inter-token latency seen by llmload and by vLLM. A client ITL far above the server's means streaming chunks are delayed or batched on the way.",
			Queries:     []Query{{Expr: e.clientITL95, Legend: "client {{scenario}}"}, {Expr: e.serverITL95, Legend: "vLLM"}}},
		{Title: "E2E latency p95: client vs vLLM", Unit: "s", Sources: []Source{SourceClient, SourceServer},
			Description: "Whole-request latency from llmload's send and from vLLM's arrival.",
			Queries:     []Query{{Expr: e.clientE2E95, Legend: "client {{scenario}}"}, {Expr: e.serverE2E95, Legend: "vLLM"}}},
		{Title: "Output tok/s: client vs vLLM", Unit: tokS, Sources: []Source{SourceClient, SourceServer},
			Description: "Output tokens per second received by llmload and generated by vLLM. They match when llmload is vLLM's only client.",
			Queries:     []Query{{Expr: e.clientOut, Legend: "client {{scenario}}"}, {Expr: e.serverGen, Legend: "vLLM"}}},
	}}
}

// clientRow is the Client (llmload) row: what llmload measured.
func clientRow(e panelExprs) Row {
	return Row{Title: "Client (llmload)", Columns: 4, Panels: []Panel{
		{Title: "Requests by outcome", Unit: "reqps", Sources: []Source{SourceClient},
			Description: "Requests per second that completed, failed or were dropped at the concurrency gate, and the goodput (completed requests that met every SLO).",
			Queries: []Query{
				{Expr: fmt.Sprintf("sum by (scenario, outcome) (%s)", rate("llmload_requests_total", selScenario)), Legend: "{{scenario}} {{outcome}}"},
				{Expr: fmt.Sprintf("sum by (scenario) (%s)", rate("llmload_good_requests_total", selScenario)), Legend: "{{scenario}} good"},
			}},
		{Title: "TTFT p50 / p95 (client)", Unit: "s", Sources: []Source{SourceClient},
			Description: "Time to first token, from send to the first generated content.",
			Queries: []Query{
				{Expr: quantile(0.5, "llmload_ttft_seconds", selScenario, byScenario), Legend: "{{scenario}} p50"},
				{Expr: e.clientTTFT95, Legend: "{{scenario}} p95"},
			}},
		{Title: "ITL p50 / p95, TPOT p95 (client)", Unit: "s", Sources: []Source{SourceClient},
			Description: "Inter-token latency (gaps between token events) and time per output token ((E2E - TTFT) / (tokens - 1)).",
			Queries: []Query{
				{Expr: quantile(0.5, "llmload_itl_seconds", selScenario, byScenario), Legend: "{{scenario}} ITL p50"},
				{Expr: e.clientITL95, Legend: "{{scenario}} ITL p95"},
				{Expr: quantile(0.95, "llmload_tpot_seconds", selScenario, byScenario), Legend: "{{scenario}} TPOT p95"},
			}},
		{Title: "E2E latency p50 / p95 (client)", Unit: "s", Sources: []Source{SourceClient},
			Description: "Send to last byte.",
			Queries: []Query{
				{Expr: quantile(0.5, "llmload_e2e_seconds", selScenario, byScenario), Legend: "{{scenario}} p50"},
				{Expr: e.clientE2E95, Legend: "{{scenario}} p95"},
			}},
		{Title: "Tokens per second (client)", Unit: tokS, Sources: []Source{SourceClient},
			Description: "Output tokens received and input tokens sent per second.",
			Queries: []Query{
				{Expr: e.clientOut, Legend: "{{scenario}} output"},
				{Expr: fmt.Sprintf("sum by (scenario) (%s)", rate("llmload_input_tokens_total", selScenario)), Legend: "{{scenario}} input"},
			}},
		{Title: "In flight and queued (client)", Unit: "short", Sources: []Source{SourceClient},
			Description: "Requests in flight, and requests waiting at the concurrency gate (on_full = \"queue\").",
			Queries: []Query{
				{Expr: fmt.Sprintf("sum by (scenario) (llmload_requests_in_flight{%s})", selScenario), Legend: "{{scenario}} in flight"},
				{Expr: fmt.Sprintf("sum by (scenario) (llmload_requests_queued{%s})", selScenario), Legend: "{{scenario}} queued"},
			}},
		{Title: "Errors by class (client)", Unit: "reqps", Sources: []Source{SourceClient},
			Description: "Failed requests per second by class: connect, http_status, timeout, stall, protocol, server_error, canceled, dropped.",
			Queries:     []Query{{Expr: fmt.Sprintf("sum by (scenario, class) (%s)", rate("llmload_request_errors_total", selScenario)), Legend: "{{scenario}} {{class}}"}}},
		{Title: "Client queue time and schedule lag p95", Unit: "s", Sources: []Source{SourceClient},
			Description: "Time waiting for a free concurrency slot, and how late the pacer released requests. Near zero means the run was truly open-loop.",
			Queries: []Query{
				{Expr: quantile(0.95, "llmload_queue_time_seconds", selScenario, byScenario), Legend: "{{scenario}} queue p95"},
				{Expr: quantile(0.95, "llmload_schedule_lag_seconds", selScenario, byScenario), Legend: "{{scenario}} lag p95"},
			}},
	}}
}

// serverRow is the Server (vLLM) row: what vLLM reports about itself,
// one line per replica (instance) so a slow or saturated one stands out.
func serverRow(e panelExprs) Row {
	byInst := func(expr string) string { return fmt.Sprintf("sum by (instance) (%s)", expr) }
	return Row{Title: "Server (vLLM)", Columns: 4, Panels: []Panel{
		{Title: "Requests running / waiting (vLLM)", Unit: "short", Sources: []Source{SourceServer},
			Description: "Requests in each replica's running batch and waiting queue.",
			Queries: []Query{
				{Expr: byInst(fmt.Sprintf("vllm:num_requests_running{%s}", selModel)), Legend: "{{instance}} running"},
				{Expr: byInst(fmt.Sprintf("vllm:num_requests_waiting{%s}", selModel)), Legend: "{{instance}} waiting"},
			}},
		{Title: "KV cache usage", Unit: "percentunit", Max: 1, Sources: []Source{SourceServer},
			Description: "Share of KV cache blocks in use per replica. Near 100% vLLM preempts requests and queues new ones.",
			Queries:     []Query{{Expr: fmt.Sprintf("max by (instance) (vllm:kv_cache_usage_perc{%s})", selModel), Legend: "{{instance}}"}}},
		{Title: "Prefix cache hit rate", Unit: "percentunit", Max: 1, Sources: []Source{SourceServer},
			Description: "Prompt tokens served from the prefix cache / prompt tokens looked up, per replica, over the rate window.",
			Queries: []Query{{Expr: fmt.Sprintf("%s / (%s > 0)",
				byInst(rate("vllm:prefix_cache_hits_total", selModel)), byInst(rate("vllm:prefix_cache_queries_total", selModel))), Legend: "{{instance}}"}}},
		{Title: "Tokens per second (vLLM)", Unit: tokS, Sources: []Source{SourceServer},
			Description: "Generated (output) and prefilled (prompt) tokens per second, per replica.",
			Queries: []Query{
				{Expr: byInst(fmt.Sprintf("%s{%s}", recServerGen, selModel)), Legend: "{{instance}} generation"},
				{Expr: byInst(rate("vllm:prompt_tokens_total", selModel)), Legend: "{{instance}} prompt"},
			}},
		{Title: "TTFT / ITL p95 (vLLM)", Unit: "s", Sources: []Source{SourceServer},
			Description: "Time to first token and inter-token latency as each replica measures them.",
			Queries: []Query{
				{Expr: quantile(0.95, "vllm:time_to_first_token_seconds", selModel, byInstance), Legend: "{{instance}} TTFT p95"},
				{Expr: quantile(0.95, "vllm:inter_token_latency_seconds", selModel, byInstance), Legend: "{{instance}} ITL p95"},
			}},
		{Title: "Queue time p50 / p95 (vLLM)", Unit: "s", Sources: []Source{SourceServer},
			Description: "Time requests spent in a replica's waiting queue before they were scheduled.",
			Queries: []Query{
				{Expr: quantile(0.5, "vllm:request_queue_time_seconds", selModel, byInstance), Legend: "{{instance}} p50"},
				{Expr: quantile(0.95, "vllm:request_queue_time_seconds", selModel, byInstance), Legend: "{{instance}} p95"},
			}},
		{Title: "Preemptions per second (vLLM)", Unit: "short", Sources: []Source{SourceServer},
			Description: "Requests evicted from a replica's batch because the KV cache ran out; they are recomputed later.",
			Queries:     []Query{{Expr: byInst(rate("vllm:num_preemptions_total", selModel)), Legend: "{{instance}}"}}},
		{Title: "Finished requests by reason (vLLM)", Unit: "reqps", Sources: []Source{SourceServer},
			Description: "Requests each replica finished per second: stop (EOS or stop string), length (max_tokens), abort (client went away).",
			Queries:     []Query{{Expr: fmt.Sprintf("sum by (instance, finished_reason) (%s)", rate("vllm:request_success_total", selModel)), Legend: "{{instance}} {{finished_reason}}"}}},
	}}
}

// gpuRow is the GPU (DCGM) row: what the DCGM exporter reports.
func gpuRow(e panelExprs, selGPU string) Row {
	return Row{Title: "GPU (DCGM)", Columns: 6, Panels: []Panel{
		{Title: "Power", Unit: "watt", Sources: []Source{SourceGPU},
			Description: "Power draw per GPU (DCGM_FI_DEV_POWER_USAGE).",
			Queries:     []Query{{Expr: fmt.Sprintf("DCGM_FI_DEV_POWER_USAGE{%s}", selGPU), Legend: "GPU {{gpu}}"}, {Expr: e.power, Legend: "total"}}},
		{Title: "Energy per output token", Unit: "J", Sources: []Source{SourceGPU, SourceServer},
			Description: "rate(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION) / 1000 / rate(vllm:generation_tokens_total): joules per generated token of the selected replicas. Idle GPUs in the selection count against it.",
			Queries:     []Query{{Expr: e.joulesPerToken, Legend: "J per token"}}},
		{Title: "GPU utilization", Unit: "percent", Max: 100, Sources: []Source{SourceGPU},
			Description: "Share of time a kernel was running (DCGM_FI_DEV_GPU_UTIL). 100% does not mean the tensor cores are saturated.",
			Queries:     []Query{{Expr: fmt.Sprintf("DCGM_FI_DEV_GPU_UTIL{%s}", selGPU), Legend: "GPU {{gpu}}"}}},
		{Title: "Tensor-core, SM and DRAM activity", Unit: "percentunit", Max: 1, Sources: []Source{SourceGPU},
			Description: "DCGM profiling fields: share of cycles the tensor pipe is active (DCGM_FI_PROF_PIPE_TENSOR_ACTIVE), an SM has a warp (DCGM_FI_PROF_SM_ACTIVE), the memory interface moves data (DCGM_FI_PROF_DRAM_ACTIVE). Decode is memory-bound: high DRAM, low tensor activity at 100% utilization is normal.",
			Queries: []Query{
				{Expr: fmt.Sprintf("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{%s}", selGPU), Legend: "tensor GPU {{gpu}}"},
				{Expr: fmt.Sprintf("DCGM_FI_PROF_SM_ACTIVE{%s}", selGPU), Legend: "SM GPU {{gpu}}"},
				{Expr: fmt.Sprintf("DCGM_FI_PROF_DRAM_ACTIVE{%s}", selGPU), Legend: "DRAM GPU {{gpu}}"}}},
		{Title: "Framebuffer memory used", Unit: "mbytes", Sources: []Source{SourceGPU},
			Description: "GPU memory in use (DCGM_FI_DEV_FB_USED, MiB). vLLM reserves --gpu-memory-utilization of it at start, so it stays flat under load.",
			Queries:     []Query{{Expr: fmt.Sprintf("DCGM_FI_DEV_FB_USED{%s}", selGPU), Legend: "GPU {{gpu}}"}}},
	}}
}

func strPtr(s string) *string { return &s }

// Dashboard builds the Grafana dashboard from Rows, in the classic JSON
// model (schemaVersion 42). The SDK marks it deprecated in favour of the v2
// schema, but file provisioning of v2 dashboards needs Grafana 12+ with
// feature toggles, while this model loads in every Grafana a user may point
// at the same Prometheus.
//
//lint:ignore SA1019 see above: the classic model is the portable one.
func Dashboard(spec DashboardSpec) (dashboard.Dashboard, error) {
	ds := common.DataSourceRef{Type: strPtr("prometheus"), Uid: strPtr(dsVar)}
	queryVar := func(name, label, query string) *dashboard.QueryVariableBuilder {
		return dashboard.NewQueryVariableBuilder(name).Label(label).Datasource(ds).
			Query(dashboard.StringOrMap{String: strPtr(query)}).Definition(query).
			Multi(true).IncludeAll(true).AllValue(".*").
			Current(dashboard.VariableOption{Selected: new(true),
				Text:  dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
				Value: dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}}}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc)
	}
	// The GPUs vLLM uses are selected from the start (the stack knows
	// them); All is one click away.
	gpuVar := queryVar("gpu", "GPU", "label_values(DCGM_FI_DEV_POWER_USAGE, "+spec.gpuLabel()+")")
	if len(spec.GPUs) > 0 {
		gpuVar.Current(dashboard.VariableOption{Selected: new(true),
			Text:  dashboard.StringOrArrayOfString{ArrayOfString: spec.GPUs},
			Value: dashboard.StringOrArrayOfString{ArrayOfString: spec.GPUs}})
	}
	//lint:ignore SA1019 the classic model, see Dashboard's comment.
	b := dashboard.NewDashboardBuilder("llmload: client, server, GPU").
		Uid(DashboardUID).
		Description("llmload (client), vLLM (server) and DCGM (GPU) side by side. Rendered by llmload stack init; docs/stack.md explains each panel.").
		Tags([]string{"llmload", "vllm", "dcgm"}).
		Refresh("5s").
		Time("now-30m", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Readonly().
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus").
			Current(dashboard.VariableOption{Selected: new(true),
				Text:  dashboard.StringOrArrayOfString{String: strPtr("Prometheus")},
				Value: dashboard.StringOrArrayOfString{String: strPtr(DatasourceUID)}})).
		WithVariable(queryVar("scenario", "Scenario", "label_values(llmload_info, scenario)")).
		WithVariable(queryVar("model_name", "Model", "label_values(vllm:num_requests_running, model_name)")).
		WithVariable(queryVar("instance", "vLLM replica", "label_values(vllm:num_requests_running, instance)")).
		WithVariable(gpuVar)

	id := uint32(1)
	for _, row := range spec.rows() {
		b.WithRow(dashboard.NewRowBuilder(row.Title).Id(id))
		id++
		width := uint32(24 / row.Columns)
		for _, p := range row.Panels {
			var targets []cog.Builder[variants.Dataquery]
			for i, q := range p.Queries {
				t := prometheus.NewDataqueryBuilder().Expr(q.Expr).RefId(string(rune('A' + i))).Datasource(ds)
				if q.Legend != "" {
					t.LegendFormat(q.Legend)
				}
				targets = append(targets, t)
			}
			if p.Stat {
				sp := stat.NewPanelBuilder().Id(id).Title(p.Title).Description(p.Description).Datasource(ds).
					Unit(p.Unit).Height(4).Span(width).Targets(targets).
					ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
					GraphMode(common.BigValueGraphModeArea).Orientation(common.VizOrientationAuto)
				if p.Max > 0 {
					sp.Min(0).Max(p.Max)
				}
				b.WithPanel(sp)
			} else {
				tp := timeseries.NewPanelBuilder().Id(id).Title(p.Title).Description(p.Description).Datasource(ds).
					Unit(p.Unit).Min(0).Height(8).Span(width).Targets(targets).
					FillOpacity(10).ShowPoints(common.VisibilityModeNever).SpanNulls(common.BoolOrFloat64{Bool: new(false)}).
					Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).
						DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)).
					Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
				if p.Max > 0 {
					tp.Max(p.Max)
				}
				b.WithPanel(tp)
			}
			id++
		}
	}
	return b.Build()
}

// DashboardJSON is the dashboard as Grafana's file provisioning reads it.
func DashboardJSON(spec DashboardSpec) ([]byte, error) {
	d, err := Dashboard(spec)
	if err != nil {
		return nil, fmt.Errorf("building the Grafana dashboard: %w", err)
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
