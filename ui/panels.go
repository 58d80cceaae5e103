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

// Unit is how a KindStats value prints. Charts print plain numbers and
// carry the unit in their title.
type Unit uint8

const (
	UnitNumber Unit = iota // 12.3k
	UnitBytes              // 12.3MB
)

// SeriesSpec is one series of a panel.
type SeriesSpec struct {
	ID    string // key in Frame.Series (KindChart) or Frame.Counters (KindStats)
	Label string // legend text, a few characters: "p95", "tx"
	Unit  Unit
	// Threshold colours the series green/yellow/red; nil: the one in
	// Options.Thresholds for ID, if any, else a neutral colour.
	Threshold *chart.Threshold
}

// Panel describes one box of the dashboard. The layout is a list of them,
// placed in order into columns and pages that fit the terminal, so adding
// a panel (server-side or GPU metrics, say) is adding an element.
type Panel struct {
	Kind    Kind
	Title   string // with the unit: "TTFT ms", "Network B/s"
	Series  []SeriesSpec
	AutoMin bool // KindChart: scale from the data minimum instead of zero
}

// DefaultPanels is the client-side view of a run: throughput, latency,
// the load generator's own health, errors and network.
func DefaultPanels() []Panel {
	return []Panel{
		{Kind: KindChart, Title: "Requests/s", Series: []SeriesSpec{{ID: SeriesRPS, Label: "rps"}}},
		{Kind: KindChart, Title: "Input tok/s", Series: []SeriesSpec{{ID: SeriesInputTPS, Label: "in"}}},
		{Kind: KindChart, Title: "Output tok/s", Series: []SeriesSpec{{ID: SeriesOutputTPS, Label: "out"}}},
		{Kind: KindChart, Title: "TTFT ms", Series: []SeriesSpec{
			{ID: SeriesTTFTP50, Label: "p50"}, {ID: SeriesTTFTP95, Label: "p95"}, {ID: SeriesTTFTP99, Label: "p99"}}},
		{Kind: KindChart, Title: "TPOT ms", Series: []SeriesSpec{{ID: SeriesTPOTP95, Label: "p95"}}},
		{Kind: KindChart, Title: "E2E ms", Series: []SeriesSpec{{ID: SeriesE2EP95, Label: "p95"}}},
		{Kind: KindChart, Title: "Concurrency", Series: []SeriesSpec{
			{ID: SeriesInFlight, Label: "flight"}, {ID: SeriesQueued, Label: "queued"}}},
		{Kind: KindChart, Title: "Client delay ms", Series: []SeriesSpec{
			{ID: SeriesQueueP95, Label: "queue"}, {ID: SeriesLagP99, Label: "lag"}}},
		{Kind: KindChart, Title: "Arrivals/s", Series: []SeriesSpec{
			{ID: SeriesRateAchieved, Label: "actual"}, {ID: SeriesRateTarget, Label: "target"}}},
		{Kind: KindChart, Title: "Network B/s", Series: []SeriesSpec{
			{ID: SeriesNetTX, Label: "tx"}, {ID: SeriesNetRX, Label: "rx"}}},
		{Kind: KindStats, Title: "Totals", Series: []SeriesSpec{
			{ID: CounterSent, Label: "sent"}, {ID: CounterErrors, Label: "errors"},
			{ID: CounterDropped, Label: "dropped"}, {ID: SeriesErrorRate, Label: "err/s"},
			{ID: CounterTxBytes, Label: "tx", Unit: UnitBytes}, {ID: CounterRxBytes, Label: "rx", Unit: UnitBytes}}},
		{Kind: KindErrors, Title: "Errors by class"},
	}
}
