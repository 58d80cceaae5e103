package ui

import "github.com/llmload/llmload/ui/chart"

// Series ids of the default panels: the keys of Frame.Series. Latencies are
// in milliseconds, rates per second, network rates in bytes per second.
const (
	SeriesRPS          = "rps"           // completed requests per second
	SeriesInputTPS     = "tps_in"        // prompt tokens per second
	SeriesOutputTPS    = "tps_out"       // generated tokens per second
	SeriesTTFTP50      = "ttft_p50"      // ms
	SeriesTTFTP95      = "ttft_p95"      // ms
	SeriesTTFTP99      = "ttft_p99"      // ms
	SeriesTPOTP95      = "tpot_p95"      // ms
	SeriesE2EP95       = "e2e_p95"       // ms
	SeriesInFlight     = "inflight"      // requests in flight
	SeriesQueued       = "queued"        // requests waiting at the concurrency gate
	SeriesQueueP95     = "queue_p95"     // client queue time p95, ms
	SeriesLagP99       = "lag_p99"       // schedule lag p99, ms
	SeriesRateAchieved = "rate_achieved" // requests sent per second
	SeriesRateTarget   = "rate_target"   // requests due per second
	SeriesErrorRate    = "errors_per_s"  // failed requests per second, all classes
	SeriesNetTX        = "net_tx"        // bytes sent per second
	SeriesNetRX        = "net_rx"        // bytes received per second
	SeriesTTFTMean     = "ttft_mean"     // client TTFT mean, ms (beside the server's)
)

// Series ids of session scenarios (closed-loop users, open-loop session
// starts); the panels that read them are left out of other runs.
const (
	SeriesSessionsActive = "sessions_active"   // sessions under way
	SeriesSessionsThink  = "sessions_thinking" // of which waiting out a think time or a tool
	SeriesUsers          = "users"             // closed-loop users running (a ramp's target)
	SeriesTTFTFirstTurn  = "ttft_turn1_p50"    // TTFT p50 of first turns in the window, ms
	SeriesTTFTLaterTurns = "ttft_later_p50"    // TTFT p50 of later turns in the window, ms
)

// Series ids of the server and GPU panels, sampled from the server's
// /metrics (vLLM series) and NVIDIA DCGM exporters: one point per scrape.
// They exist only when the endpoint exports them, and the panels that read
// them are left out until they do.
const (
	SeriesServerRunning = "srv_running"     // vllm:num_requests_running
	SeriesServerWaiting = "srv_waiting"     // vllm:num_requests_waiting
	SeriesKVCache       = "srv_kv_pct"      // KV cache usage, % (mean over engines)
	SeriesPrefixHit     = "srv_prefix_pct"  // prefix cache hits / queries over the scrape interval, %
	SeriesServerGenTPS  = "srv_gen_tps"     // generation tokens per second the server counted
	SeriesServerTTFT    = "srv_ttft_mean"   // server TTFT mean over the scrape interval, ms
	SeriesGPUPower      = "gpu_power_w"     // W, summed over GPUs
	SeriesGPUUtil       = "gpu_util_pct"    // %, mean over GPUs
	SeriesEnergyPerTok  = "gpu_j_per_token" // J per generated token over the scrape interval
)

// Counter ids of the default panels: the keys of Frame.Counters, totals
// since the start of the run.
const (
	CounterSent    = "sent"
	CounterErrors  = "errors"
	CounterDropped = "dropped"
	CounterTxBytes = "tx_bytes"
	CounterRxBytes = "rx_bytes"
)

// Kind is what a panel shows.
type Kind uint8

const (
	// KindChart is a chart of Series: braille, or sparklines with
	// PlotRows 1. Each SeriesSpec names a key of Frame.Series.
	KindChart Kind = iota
	// KindStats lists current values: each SeriesSpec names a key of
	// Frame.Counters.
	KindStats
	// KindErrors lists Frame.Errors, the most frequent class first.
	KindErrors
)

// Unit is how a value prints: a KindStats series' (SeriesSpec.Unit), or a
// chart's axis labels and value column (Panel.Unit). Charts carry the base
// unit in their title ("TTFT ms").
type Unit uint8

const (
	UnitNumber Unit = iota // 12.3k
	UnitBytes              // 12.3MB
	UnitMillis             // a duration in ms: 850, 9999, then 30.8s, 1.20m, 2.50h
)

// format prints v in at most width characters.
func (u Unit) format(v float64, width int) string {
	switch u {
	case UnitBytes:
		return chart.Bytes(v, width)
	case UnitMillis:
		return chart.Millis(v, width)
	}
	return chart.Compact(v, width)
}

// SeriesSpec is one series of a panel.
type SeriesSpec struct {
	ID    string // key in Frame.Series (KindChart) or Frame.Counters (KindStats)
	Label string // legend text, a few characters: "p95", "tx"
	Unit  Unit
	// Threshold colours the series green/yellow/red; nil: the one in
	// Options.Thresholds for ID, if any, else a neutral colour.
	Threshold *chart.Threshold
	// Optional series are left out (line and legend row) while the frame
	// has no point of them: server-side series of a server without
	// /metrics.
	Optional bool
}

// Panel describes one box of the dashboard. The layout is a list of them,
// placed in order into columns and pages that fit the terminal, so adding
// a panel (server-side or GPU metrics, say) is adding an element.
type Panel struct {
	Kind    Kind
	Title   string // with the unit: "TTFT ms", "Network B/s"
	Series  []SeriesSpec
	AutoMin bool // KindChart: scale from the data minimum instead of zero
	Unit    Unit // KindChart: how axis labels and values print
	// Optional panels are left out of the layout while none of their
	// Optional series has a point, so a run without server metrics shows
	// the client-side panels only, laid out as if the others did not
	// exist. Once shown a panel stays: History keeps a series' last point.
	Optional bool
}

// DefaultPanels is the view of a run: throughput, latency, the load
// generator's own health, errors and network, and, where the server's
// /metrics has them, the server's and the GPUs' view beside the client's
// (server generation tok/s in Output tok/s, server TTFT next to the
// client's, queue and cache next to Concurrency, GPU power and energy).
func DefaultPanels() []Panel {
	opt := func(id, label string) SeriesSpec { return SeriesSpec{ID: id, Label: label, Optional: true} }
	return []Panel{
		{Kind: KindChart, Title: "Requests/s", Series: []SeriesSpec{{ID: SeriesRPS, Label: "rps"}}},
		{Kind: KindChart, Title: "Input tok/s", Series: []SeriesSpec{{ID: SeriesInputTPS, Label: "in"}}},
		{Kind: KindChart, Title: "Output tok/s", Series: []SeriesSpec{
			{ID: SeriesOutputTPS, Label: "out"}, opt(SeriesServerGenTPS, "server")}},
		{Kind: KindChart, Title: "TTFT ms", Unit: UnitMillis, Series: []SeriesSpec{
			{ID: SeriesTTFTP50, Label: "p50"}, {ID: SeriesTTFTP95, Label: "p95"}, {ID: SeriesTTFTP99, Label: "p99"}}},
		{Kind: KindChart, Title: "TTFT mean ms", Optional: true, Unit: UnitMillis, Series: []SeriesSpec{
			{ID: SeriesTTFTMean, Label: "client"}, opt(SeriesServerTTFT, "server")}},
		{Kind: KindChart, Title: "TPOT ms", Unit: UnitMillis, Series: []SeriesSpec{{ID: SeriesTPOTP95, Label: "p95"}}},
		{Kind: KindChart, Title: "E2E ms", Unit: UnitMillis, Series: []SeriesSpec{{ID: SeriesE2EP95, Label: "p95"}}},
		{Kind: KindChart, Title: "TTFT by turn ms", Optional: true, Unit: UnitMillis, Series: []SeriesSpec{
			opt(SeriesTTFTFirstTurn, "turn 1"), opt(SeriesTTFTLaterTurns, "later")}},
		{Kind: KindChart, Title: "Sessions", Optional: true, Series: []SeriesSpec{
			opt(SeriesSessionsActive, "active"), opt(SeriesSessionsThink, "think"), opt(SeriesUsers, "users")}},
		{Kind: KindChart, Title: "Concurrency", Series: []SeriesSpec{
			{ID: SeriesInFlight, Label: "flight"}, {ID: SeriesQueued, Label: "queued"}}},
		{Kind: KindChart, Title: "Server requests", Optional: true, Series: []SeriesSpec{
			opt(SeriesServerRunning, "run"), opt(SeriesServerWaiting, "wait")}},
		{Kind: KindChart, Title: "KV cache %", Optional: true, Series: []SeriesSpec{opt(SeriesKVCache, "kv")}},
		{Kind: KindChart, Title: "Prefix hit %", Optional: true, Series: []SeriesSpec{opt(SeriesPrefixHit, "hit")}},
		{Kind: KindChart, Title: "Client delay ms", Unit: UnitMillis, Series: []SeriesSpec{
			{ID: SeriesQueueP95, Label: "queue"}, {ID: SeriesLagP99, Label: "lag"}}},
		{Kind: KindChart, Title: "Arrivals/s", Series: []SeriesSpec{
			{ID: SeriesRateAchieved, Label: "actual"}, {ID: SeriesRateTarget, Label: "target"}}},
		{Kind: KindChart, Title: "Network B/s", Series: []SeriesSpec{
			{ID: SeriesNetTX, Label: "tx"}, {ID: SeriesNetRX, Label: "rx"}}},
		// Power idles far above zero: its axis starts at the data.
		{Kind: KindChart, Title: "GPU power W", Optional: true, AutoMin: true, Series: []SeriesSpec{opt(SeriesGPUPower, "power")}},
		{Kind: KindChart, Title: "GPU util %", Optional: true, Series: []SeriesSpec{opt(SeriesGPUUtil, "util")}},
		{Kind: KindChart, Title: "Energy J/token", Optional: true, Series: []SeriesSpec{opt(SeriesEnergyPerTok, "J/tok")}},
		{Kind: KindStats, Title: "Totals", Series: []SeriesSpec{
			{ID: CounterSent, Label: "sent"}, {ID: CounterErrors, Label: "errors"},
			{ID: CounterDropped, Label: "dropped"}, {ID: SeriesErrorRate, Label: "err/s"},
			{ID: CounterTxBytes, Label: "tx", Unit: UnitBytes}, {ID: CounterRxBytes, Label: "rx", Unit: UnitBytes}}},
		{Kind: KindErrors, Title: "Errors by class"},
	}
}

// shownPanels returns the panels as the layout places them when has says
// which series have points: Optional series without points removed, and
// Optional panels without any point of an Optional series removed. index
// maps each returned panel to its position in panels, and series to the
// positions of its series in the original's.
func shownPanels(panels []Panel, has func(id string) bool) (shown []Panel, index []int, series [][]int) {
	for i := range panels {
		p := panels[i]
		var keep []int
		anyOptional := false
		for j, s := range p.Series {
			if !s.Optional {
				keep = append(keep, j)
			} else if has(s.ID) {
				keep = append(keep, j)
				anyOptional = true
			}
		}
		if p.Optional && !anyOptional {
			continue
		}
		if len(keep) != len(p.Series) {
			ss := make([]SeriesSpec, len(keep))
			for k, j := range keep {
				ss[k] = p.Series[j]
			}
			p.Series = ss
		}
		shown, index, series = append(shown, p), append(index, i), append(series, keep)
	}
	return shown, index, series
}
