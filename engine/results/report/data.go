// Package report turns results directories (engine/results) into the
// report's data (Build: tables, distributions, time series, all
// summarised so that a run of any size gives a page of bounded size) and
// that data into one self-contained HTML page (Write). It does not read
// flags or print: cmd/llmload's report and run --report call it.
package report

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/llmload/llmload/engine/results/rundir"
)

// Limits that keep a report's size independent of the run's.
const (
	histBins   = 40  // bins of a histogram
	cdfPoints  = 120 // points of a CDF
	maxSeries  = 240 // points of a time series
	maxTagRows = 40  // groups in the per-tag table
)

// Data is everything the page shows, for one run or several.
type Data struct {
	Runs []*Run `json:"runs"`
}

// Run is one run's part of the report.
type Run struct {
	Label      string            `json:"label"`
	Dir        string            `json:"dir"`
	Info       []KV              `json:"info"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	Table      []StatRow         `json:"table"`
	Thresholds []Threshold       `json:"thresholds,omitempty"`
	Goodput    Goodput           `json:"goodput"`
	Validity   Validity          `json:"validity"`
	Dists      []Dist            `json:"distributions"`
	Series     []Series          `json:"series"`
	Lengths    []Dist            `json:"lengths"`
	ByTag      []GroupRow        `json:"by_tag,omitempty"`
	ByTurn     []TurnRow         `json:"by_turn,omitempty"`
	// Sweep point: the run's headline figures.
	Point Point `json:"point"`
	// Capacity is the run's capacity search; nil for other runs.
	Capacity *Capacity `json:"capacity,omitempty"`
}

// KV is one line of "what was run".
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// StatRow is a summary table line, ms.
type StatRow struct {
	Metric string  `json:"metric"`
	Count  int64   `json:"count"`
	Mean   float64 `json:"mean"`
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	P95    float64 `json:"p95"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
}

// Threshold is one entry of summary.json's thresholds.
type Threshold struct {
	Expr     string  `json:"threshold"`
	Observed float64 `json:"observed"`
	Unit     string  `json:"unit"`
	Pass     bool    `json:"pass"`
	NoData   bool    `json:"no_data"`
}

// Goodput is the SLO and what met it.
type Goodput struct {
	SLO               string  `json:"slo"`
	Completed         int64   `json:"completed"`
	Good              int64   `json:"good"`
	RequestGoodput    float64 `json:"request_goodput"`
	RequestThroughput float64 `json:"request_throughput"`
	OutputGoodput     float64 `json:"output_goodput"`
}

// Validity is how much of the latency the client itself caused.
type Validity struct {
	MeanQueueMs, P99QueueMs float64
	MeanLagMs, P99LagMs     float64
	MaxLagMs                float64
	// Share of the mean E2EL and TTFT from schedule that was client
	// delay (queue + lag), 0..1.
	E2ELShare, TTFTShare float64
	OK                   bool
	Verdict              string
}

// Dist is a distribution, summarised: a histogram of Bins bins from Lo
// (Width each; values past the last bin are counted in Above) and the
// CDF at CDF points.
type Dist struct {
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Count  int64     `json:"count"`
	Lo     float64   `json:"lo"`
	Width  float64   `json:"width"`
	Counts []int64   `json:"counts"`
	Above  int64     `json:"above"`
	CDFX   []float64 `json:"cdf_x,omitempty"`
	CDFP   []float64 `json:"cdf_p,omitempty"`
}

// Series is a time series: T in seconds from the run's start.
type Series struct {
	ID   string    `json:"id"`
	Name string    `json:"name"`
	T    []float64 `json:"t"`
	V    Nums      `json:"v"`
}

// Num is a number that may be Missing (NaN): JSON null then.
type Num float64

// MarshalJSON writes null for NaN, which encoding/json refuses.
func (n Num) MarshalJSON() ([]byte, error) {
	if !rundir.Present(float64(n)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

// Nums is a list of Num.
type Nums []float64

// MarshalJSON writes null for NaN.
func (ns Nums) MarshalJSON() ([]byte, error) {
	out := make([]Num, len(ns))
	for i, v := range ns {
		out[i] = Num(v)
	}
	return json.Marshal(out)
}

// GroupRow is one tag value's (or scenario's) figures, ms.
type GroupRow struct {
	Group    string `json:"group"`
	Requests int64  `json:"requests"`
	Failed   int64  `json:"failed"`
	TTFTP50  Num    `json:"ttft_p50"`
	TTFTP99  Num    `json:"ttft_p99"`
	TPOTP50  Num    `json:"tpot_p50"`
	TPOTP99  Num    `json:"tpot_p99"`
	E2ELP50  Num    `json:"e2el_p50"`
	E2ELP99  Num    `json:"e2el_p99"`
}

// TurnRow is summary.json's by_turn entry.
type TurnRow struct {
	Turn      string  `json:"turn"`
	Completed int64   `json:"completed"`
	TTFTP50   float64 `json:"ttft_p50"`
	TTFTP99   float64 `json:"ttft_p99"`
	E2ELP50   float64 `json:"e2el_p50"`
	E2ELP99   float64 `json:"e2el_p99"`
}

// Point is a run in a sweep: its rates and latencies.
type Point struct {
	TargetRate        float64 `json:"target_rate"`
	RequestThroughput float64 `json:"request_throughput"`
	RequestGoodput    float64 `json:"request_goodput"`
	Concurrency       float64 `json:"concurrency"`
	TTFTP50, TTFTP99  float64
	TPOTP50, TPOTP99  float64
}

// Build loads each results directory and computes its report data.
func Build(dirs []string) (*Data, error) {
	d := &Data{}
	seen := map[string]int{}
	for _, dir := range dirs {
		r, err := rundir.Load(dir)
		if err != nil {
			return nil, err
		}
		label := filepath.Base(filepath.Clean(dir))
		if n := seen[label]; n > 0 {
			label = fmt.Sprintf("%s (%d)", label, n+1)
		}
		seen[filepath.Base(filepath.Clean(dir))]++
		d.Runs = append(d.Runs, FromRun(r, label))
	}
	return d, nil
}

// FromRun computes one run's report data.
func FromRun(r *rundir.Run, label string) *Run {
	out := &Run{Label: label, Dir: r.Dir}
	out.Info, out.Metadata = info(r)
	out.Table = table(r)
	out.Thresholds = thresholds(r)
	out.Goodput = goodput(r)
	out.Validity = validity(r)
	out.Dists = distributions(r)
	out.Series = series(r)
	out.Lengths = lengths(r)
	out.ByTag = byTag(r)
	out.ByTurn = byTurn(r)
	out.Capacity = capacity(r)
	out.Point = Point{
		TargetRate: r.NumOr("target_rate", 0), RequestThroughput: r.NumOr("request_throughput", 0),
		RequestGoodput: r.NumOr("request_goodput", 0), Concurrency: numOf(r.Meta("concurrency")),
		TTFTP50: r.NumOr("p50_ttft_ms", 0), TTFTP99: r.NumOr("p99_ttft_ms", 0),
		TPOTP50: r.NumOr("p50_tpot_ms", 0), TPOTP99: r.NumOr("p99_tpot_ms", 0),
	}
	return out
}

func numOf(v any) float64 {
	f, _ := rundir.Number(v)
	return f
}

func info(r *rundir.Run) ([]KV, map[string]string) {
	var kv []KV
	add := func(k, v string) {
		if v != "" {
			kv = append(kv, KV{k, v})
		}
	}
	add("Scenario", r.Name())
	add("Scenario file", r.MetaStr("scenario_file"))
	if args, ok := r.Meta("args").([]any); ok {
		parts := make([]string, len(args))
		for i, a := range args {
			parts[i] = shellQuote(fmt.Sprint(a))
		}
		add("Command line", "llmload "+strings.Join(parts, " "))
	}
	add("llmload version", r.MetaStr("version"))
	add("Seed", r.MetaStr("seed"))
	add("Prompt seed", r.MetaStr("prompt_seed"))
	add("Model", r.MetaStr("model"))
	add("Endpoint", r.MetaStr("url"))
	add("Concurrency", r.MetaStr("concurrency"))
	if m, ok := r.Meta("machine").(map[string]any); ok {
		add("Machine", fmt.Sprintf("%v/%v, %v CPUs", m["os"], m["arch"], m["cpus"]))
	}
	if t := r.Started(); !t.IsZero() {
		add("Started", t.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if d, ok := r.Num("duration"); ok {
		add("Duration", (time.Duration(d * float64(time.Second))).Round(time.Millisecond).String())
	}
	add("Requests", fmt.Sprintf("%d completed, %d failed (%d dropped), %d warm-up left out",
		int64(r.NumOr("completed", 0)), int64(r.NumOr("failed", 0)), int64(r.NumOr("dropped", 0)), int64(r.NumOr("warmup_excluded", 0))))
	add("Results", r.Dir)
	var md map[string]string
	if m, ok := r.Meta("metadata").(map[string]any); ok && len(m) > 0 {
		md = map[string]string{}
		for k, v := range m {
			md[k] = fmt.Sprint(v)
		}
	}
	return kv, md
}

// shellQuote quotes an argument that a shell would split or expand.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./=:,+@%", c))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Metrics of the summary table: summary.json key and label.
var tableMetrics = [][2]string{
	{"ttft", "TTFT"}, {"tpot", "TPOT"}, {"itl", "ITL"}, {"e2el", "E2EL"},
	{"ttft_from_schedule", "TTFT from schedule"}, {"e2el_from_schedule", "E2EL from schedule"},
	{"client_queue_time", "Client queue time"}, {"schedule_lag", "Schedule lag"},
}

func table(r *rundir.Run) []StatRow {
	var rows []StatRow
	for _, m := range tableMetrics {
		k := m[0]
		rows = append(rows, StatRow{
			Metric: m[1], Count: int64(r.NumOr(k+"_count", 0)),
			Mean: r.NumOr("mean_"+k+"_ms", 0), P50: r.NumOr("p50_"+k+"_ms", 0), P90: r.NumOr("p90_"+k+"_ms", 0),
			P95: r.NumOr("p95_"+k+"_ms", 0), P99: r.NumOr("p99_"+k+"_ms", 0), Max: r.NumOr("max_"+k+"_ms", 0),
		})
	}
	return rows
}

func thresholds(r *rundir.Run) []Threshold {
	list, _ := r.Summary["thresholds"].([]any)
	var out []Threshold
	for _, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		t := Threshold{Observed: numOf(m["observed"])}
		t.Expr, _ = m["threshold"].(string)
		t.Unit, _ = m["unit"].(string)
		t.Pass, _ = m["pass"].(bool)
		t.NoData, _ = m["no_data"].(bool)
		out = append(out, t)
	}
	return out
}

func goodput(r *rundir.Run) Goodput {
	g := Goodput{
		Completed: int64(r.NumOr("completed", 0)), Good: int64(r.NumOr("good_requests", 0)),
		RequestGoodput: r.NumOr("request_goodput", 0), RequestThroughput: r.NumOr("request_throughput", 0),
		OutputGoodput: r.NumOr("output_goodput", 0),
	}
	var parts []string
	if slo, ok := r.Summary["slo"].(map[string]any); ok {
		for _, k := range []string{"ttft", "tpot", "e2el"} {
			if v, ok := rundir.Number(slo[k+"_ms"]); ok {
				parts = append(parts, fmt.Sprintf("%s ≤ %s ms", strings.ToUpper(k), trimFloat(v)))
			}
		}
	}
	g.SLO = strings.Join(parts, ", ")
	if g.SLO == "" {
		g.SLO = "none (every completed request is good)"
	}
	return g
}

func trimFloat(v float64) string { return strings.TrimSuffix(fmt.Sprintf("%g", v), ".0") }

// Client delays above this share of the latency budget mean the run
// measured the client's limits, not only the server.
const validShare = 0.05

func validity(r *rundir.Run) Validity {
	v := Validity{
		MeanQueueMs: r.NumOr("mean_client_queue_time_ms", 0), P99QueueMs: r.NumOr("p99_client_queue_time_ms", 0),
		MeanLagMs: r.NumOr("mean_schedule_lag_ms", 0), P99LagMs: r.NumOr("p99_schedule_lag_ms", 0),
		MaxLagMs: r.NumOr("max_schedule_lag_ms", 0),
	}
	delay := v.MeanQueueMs + v.MeanLagMs
	if e := r.NumOr("mean_e2el_from_schedule_ms", 0); e > 0 {
		v.E2ELShare = delay / e
	}
	if t := r.NumOr("mean_ttft_from_schedule_ms", 0); t > 0 {
		v.TTFTShare = delay / t
	}
	v.OK = v.TTFTShare < validShare && v.E2ELShare < validShare
	if v.OK {
		v.Verdict = fmt.Sprintf("open loop held: client delays stayed under %.0f%% of the latency from schedule", validShare*100)
	} else {
		v.Verdict = "the concurrency cap or the client, not only the server, shaped these latencies: read TTFT and E2EL from schedule"
	}
	return v
}

// distributions: TTFT, TPOT, E2EL of measured requests and ITL of their
// tokens, through HDR histograms (µs, 3 digits) so that millions of ITLs
// cost no more memory than a few.
func distributions(r *rundir.Run) []Dist {
	hs := [4]*hdrhistogram.Histogram{}
	for i := range hs {
		hs[i] = newHist()
	}
	for i := range r.Requests {
		q := &r.Requests[i]
		if !q.Measured() {
			continue
		}
		recordMs(hs[0], q.TTFT)
		recordMs(hs[1], q.TPOT)
		recordMs(hs[3], q.E2EL)
		for _, v := range r.ITLOf(q) {
			recordMs(hs[2], float64(v))
		}
	}
	names := [4]string{"TTFT", "TPOT", "ITL", "E2EL"}
	out := make([]Dist, 4)
	for i, h := range hs {
		out[i] = histDist(names[i], h)
	}
	return out
}

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(24*time.Hour/time.Microsecond), 3)
}

func recordMs(h *hdrhistogram.Histogram, ms float64) {
	if !rundir.Present(ms) || ms < 0 {
		return
	}
	_ = h.RecordValue(max(int64(math.Round(ms*1e3)), 1))
}

// histDist summarises h (µs) in ms: bins from the minimum to the 99.5th
// percentile (the tail beyond is counted in Above and drawn by the CDF),
// and the CDF at evenly spaced fractions plus the far tail.
func histDist(name string, h *hdrhistogram.Histogram) Dist {
	d := Dist{Name: name, Unit: "ms", Count: h.TotalCount()}
	if d.Count == 0 {
		return d
	}
	lo := float64(h.Min()) / 1e3
	hi := float64(h.ValueAtQuantile(99.5)) / 1e3
	d.Lo, d.Width = binning(lo, hi)
	d.Counts = make([]int64, histBins)
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		mid := float64(bar.From+bar.To) / 2e3
		d.add(mid, bar.Count)
	}
	for i := 1; i <= cdfPoints; i++ {
		p := float64(i) / cdfPoints * 100
		d.CDFX = append(d.CDFX, float64(h.ValueAtQuantile(p))/1e3)
		d.CDFP = append(d.CDFP, p/100)
	}
	for _, p := range []float64{99.5, 99.9, 99.99} {
		j, _ := slices.BinarySearch(d.CDFP, p/100)
		x := float64(h.ValueAtQuantile(p)) / 1e3
		d.CDFP = slices.Insert(d.CDFP, j, p/100)
		d.CDFX = slices.Insert(d.CDFX, j, x)
	}
	// Quantiles equal at the top: keep the CDF monotone after the inserts.
	for i := 1; i < len(d.CDFX); i++ {
		d.CDFX[i] = math.Max(d.CDFX[i], d.CDFX[i-1])
	}
	return d
}

// binning picks histBins bins of a round width covering [lo, hi].
func binning(lo, hi float64) (start, width float64) {
	if hi <= lo {
		hi = lo + math.Max(math.Abs(lo)*0.1, 1)
	}
	raw := (hi - lo) / histBins
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	width = 10 * p
	for _, m := range []float64{1, 2, 2.5, 5} {
		if raw <= m*p {
			width = m * p
			break
		}
	}
	start = math.Floor(lo/width) * width
	if start+width*histBins < hi {
		width *= 2
		start = math.Floor(lo/width) * width
	}
	return start, width
}

func (d *Dist) add(v float64, n int64) {
	i := int((v - d.Lo) / d.Width)
	switch {
	case i < 0:
		i = 0
	case i >= len(d.Counts):
		d.Above += n
		return
	}
	d.Counts[i] += n
}

// lengths: prompt tokens asked for and received, output tokens asked for
// (max_tokens) and received, of completed requests.
func lengths(r *rundir.Run) []Dist {
	var askIn, gotIn, askOut, gotOut []float64
	for i := range r.Requests {
		q := &r.Requests[i]
		if !q.Measured() {
			continue
		}
		askIn = append(askIn, float64(q.PromptTokensRequested))
		if q.PromptTokens > 0 {
			gotIn = append(gotIn, float64(q.PromptTokens))
		}
		if q.MaxTokens > 0 {
			askOut = append(askOut, float64(q.MaxTokens))
		}
		gotOut = append(gotOut, float64(q.CompletionTokens))
	}
	in := countDists("tokens", [2]string{"Input tokens asked", "Input tokens received"}, askIn, gotIn)
	out := countDists("tokens", [2]string{"Output tokens asked (max_tokens)", "Output tokens received"}, askOut, gotOut)
	return append(in, out...)
}

// countDists bins two samples on the same bins so they overlay.
func countDists(unit string, names [2]string, a, b []float64) []Dist {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range slices.Concat(a, b) {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	out := make([]Dist, 2)
	for i, s := range [2][]float64{a, b} {
		d := Dist{Name: names[i], Unit: unit, Count: int64(len(s))}
		if !math.IsInf(lo, 1) {
			d.Lo, d.Width = binning(lo, hi)
			d.Counts = make([]int64, histBins)
			for _, v := range s {
				d.add(v, 1)
			}
		}
		out[i] = d
	}
	return out
}

func byTurn(r *rundir.Run) []TurnRow {
	list, _ := r.Summary["by_turn"].([]any)
	var out []TurnRow
	for _, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		ttft, _ := m["ttft"].(map[string]any)
		e2el, _ := m["e2el"].(map[string]any)
		out = append(out, TurnRow{
			Turn: fmt.Sprint(m["turn"]), Completed: int64(numOf(m["completed"])),
			TTFTP50: numOf(ttft["p50_ms"]), TTFTP99: numOf(ttft["p99_ms"]),
			E2ELP50: numOf(e2el["p50_ms"]), E2ELP99: numOf(e2el["p99_ms"]),
		})
	}
	return out
}

// byTag groups requests by each tag's key=value, and by scenario when a
// file holds more than one.
func byTag(r *rundir.Run) []GroupRow {
	type acc struct {
		n, failed       int64
		ttft, tpot, e2e []float64
	}
	groups := map[string]*acc{}
	scenarios := map[string]bool{}
	for i := range r.Requests {
		scenarios[r.Requests[i].Scenario] = true
	}
	for i := range r.Requests {
		q := &r.Requests[i]
		if q.Warmup {
			continue
		}
		keys := make([]string, 0, len(q.Tags)+1)
		for k, v := range q.Tags {
			keys = append(keys, k+"="+v)
		}
		if len(scenarios) > 1 {
			keys = append(keys, "scenario="+q.Scenario)
		}
		for _, k := range keys {
			a := groups[k]
			if a == nil {
				if len(groups) >= maxTagRows {
					continue
				}
				a = &acc{}
				groups[k] = a
			}
			a.n++
			if !q.Completed() {
				a.failed++
				continue
			}
			a.ttft = appendPresent(a.ttft, q.TTFT)
			a.tpot = appendPresent(a.tpot, q.TPOT)
			a.e2e = appendPresent(a.e2e, q.E2EL)
		}
	}
	names := make([]string, 0, len(groups))
	for k := range groups {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []GroupRow
	for _, k := range names {
		a := groups[k]
		row := GroupRow{Group: k, Requests: a.n, Failed: a.failed,
			TTFTP50: Num(Quantile(a.ttft, 50)), TTFTP99: Num(Quantile(a.ttft, 99)),
			TPOTP50: Num(Quantile(a.tpot, 50)), TPOTP99: Num(Quantile(a.tpot, 99)),
			E2ELP50: Num(Quantile(a.e2e, 50)), E2ELP99: Num(Quantile(a.e2e, 99))}
		out = append(out, row)
	}
	return out
}

func appendPresent(s []float64, v float64) []float64 {
	if rundir.Present(v) {
		return append(s, v)
	}
	return s
}

// Quantile is the nearest-rank percentile p (0..100) of s, which it
// sorts; NaN for an empty s. It is summary.json's definition (rank
// ⌊p/100·n + ½⌋, at least 1).
func Quantile(s []float64, p float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	if !slices.IsSorted(s) {
		slices.Sort(s)
	}
	rank := int(math.Floor(p/100*float64(len(s)) + 0.5))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}
