package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/llmload/llmload/engine/shared/svgplot"
)

// ContentSecurityPolicy forbids the page every load from elsewhere, so a
// report can never reach the network, even by mistake.
const ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

// WriteFile builds the report of dirs and writes it to path (atomically:
// a temporary file renamed into place).
func WriteFile(path string, dirs []string, version string) error {
	d, err := Build(dirs)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*.html")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := d.WriteHTML(tmp, version); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteHTML writes the page: one self-contained HTML document, no
// external resource of any kind.
func (d *Data) WriteHTML(w io.Writer, version string) error {
	var b strings.Builder
	title := "llmload report: " + d.Runs[0].Label
	if len(d.Runs) > 1 {
		title = fmt.Sprintf("llmload report: %d runs", len(d.Runs))
	}
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="%s">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="llmload %s">
<title>%s</title>
<style>%s</style></head><body>
<h1>%s</h1>
`, ContentSecurityPolicy, esc(version), esc(title), css, esc(title))
	for i, r := range d.Runs {
		d.runSection(&b, i, r)
	}
	if len(d.Runs) > 1 {
		b.WriteString(`<h2>Sweep: throughput against latency</h2><p class="hint">One point per run (hover for its name).</p><div class="charts">`)
		for _, c := range d.sweepCharts() {
			b.WriteString(c.Render())
		}
		b.WriteString(`</div>`)
	}
	for _, g := range d.chartGroups() {
		if len(g.charts) == 0 {
			continue
		}
		fmt.Fprintf(&b, `<h2>%s</h2>`, esc(g.title))
		if g.hint != "" {
			fmt.Fprintf(&b, `<p class="hint">%s</p>`, esc(g.hint))
		}
		b.WriteString(`<div class="charts">`)
		for _, c := range g.charts {
			b.WriteString(c.Render())
		}
		b.WriteString(`</div>`)
	}
	d.groupTables(&b)
	fmt.Fprintf(&b, "<footer>Written by llmload %s from %s. Definitions: docs/metrics.md and docs/report.md.</footer>\n<script>%s</script>\n</body></html>\n",
		esc(version), esc(strings.Join(d.dirs(), ", ")), script)
	_, err := io.WriteString(w, b.String())
	return err
}

func (d *Data) dirs() []string {
	var out []string
	for _, r := range d.Runs {
		out = append(out, r.Dir)
	}
	return out
}

// script records each chart's place on the page (data-box: x,y,w,h in
// CSS pixels) and the page's height, for tools that screenshot charts.
const script = `addEventListener('load',function(){var d=document.documentElement;` +
	`document.querySelectorAll('svg.chart').forEach(function(e){var r=e.getBoundingClientRect();` +
	`e.setAttribute('data-box',[r.left+scrollX,r.top+scrollY,r.width,r.height].map(Math.round).join(','))});` +
	`d.setAttribute('data-height',d.scrollHeight)});`

const css = `body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;margin:24px auto;max-width:1300px;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}h3{font-size:15px}
table{border-collapse:collapse;margin:6px 0 12px}td,th{padding:3px 10px;border-bottom:1px solid #e4e4e4;text-align:right;vertical-align:top}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}table.kv td{text-align:left}
.pass{color:#0a6b2c;font-weight:600}.fail{color:#b00020;font-weight:600}.warn{color:#9a5b00}
.hint{color:#555;margin:2px 0 8px}.charts{display:flex;flex-wrap:wrap;gap:12px}
.run{border-left:4px solid #0072B2;padding-left:12px;margin-bottom:18px}
svg.chart{background:#fff;border:1px solid #ddd;max-width:100%;height:auto}
svg .title{font-weight:600;font-size:14px}svg .tick,svg .legend,svg .note{font-size:11px;fill:#333}svg .axis{font-size:12px;fill:#111}
svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#999}svg .line{fill:none;stroke-width:1.8}svg .key{stroke-width:2.5}
svg .nodata{fill:#999;font-size:14px}svg .pt{opacity:0}svg .pt:hover,svg .pt.shown{opacity:1}svg .bar:hover{opacity:.7}
footer{margin-top:30px;color:#666;font-size:12px}code{font-size:12px;word-break:break-all}
@media print{body{margin:0;max-width:none;font-size:10pt}.charts{gap:6px}svg.chart{break-inside:avoid;border:none}h2{break-after:avoid}table{break-inside:avoid}}
`

func (d *Data) runSection(b *strings.Builder, i int, r *Run) {
	col := svgplot.Palette[i%len(svgplot.Palette)]
	fmt.Fprintf(b, `<section class="run" style="border-color:%s"><h2>%s</h2><h3>What was run</h3><table class="kv">`, col, esc(r.Label))
	for _, kv := range r.Info {
		v := esc(kv.Value)
		if kv.Key == "Command line" {
			v = "<code>" + v + "</code>"
		}
		fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td></tr>", esc(kv.Key), v)
	}
	keys := make([]string, 0, len(r.Metadata))
	for k := range r.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "<tr><td>metadata %s</td><td>%s</td></tr>", esc(k), esc(r.Metadata[k]))
	}
	b.WriteString(`</table><h3>Summary (ms)</h3><table><tr><th>metric</th><th>count</th><th>mean</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr>`)
	for _, row := range r.Table {
		fmt.Fprintf(b, "<tr><td>%s</td><td>%d</td>%s</tr>", esc(row.Metric), row.Count, cells(row.Mean, row.P50, row.P90, row.P95, row.P99, row.Max))
	}
	b.WriteString(`</table><h3>Thresholds and goodput</h3><table class="kv">`)
	g := r.Goodput
	share := 0.0
	if g.Completed > 0 {
		share = float64(g.Good) / float64(g.Completed) * 100
	}
	fmt.Fprintf(b, "<tr><td>SLO</td><td>%s</td></tr><tr><td>good requests</td><td>%d of %d completed (%.1f%%)</td></tr><tr><td>request goodput</td><td>%s req/s (throughput %s req/s)</td></tr><tr><td>output goodput</td><td>%s tok/s</td></tr>",
		esc(g.SLO), g.Good, g.Completed, share, svgplot.FormatValue(g.RequestGoodput), svgplot.FormatValue(g.RequestThroughput), svgplot.FormatValue(g.OutputGoodput))
	for _, t := range r.Thresholds {
		verdict := `<span class="pass">pass</span>`
		switch {
		case t.NoData:
			verdict = `<span class="fail">fail (no data)</span>`
		case !t.Pass:
			verdict = `<span class="fail">fail</span>`
		}
		fmt.Fprintf(b, "<tr><td>threshold <code>%s</code></td><td>%s, observed %s %s</td></tr>", esc(t.Expr), verdict, svgplot.FormatValue(t.Observed), esc(t.Unit))
	}
	if len(r.Thresholds) == 0 {
		b.WriteString("<tr><td>thresholds</td><td>none set</td></tr>")
	}
	v := r.Validity
	cls := "pass"
	if !v.OK {
		cls = "warn"
	}
	fmt.Fprintf(b, `</table><h3>Validity: the client's own delays</h3><table><tr><th></th><th>mean</th><th>p99</th><th>max</th></tr>
<tr><td>client queue time (ms)</td>%s<td></td></tr><tr><td>schedule lag (ms)</td>%s</tr></table>
<p class="%s">Share of the latency budget: %.2f%% of the mean TTFT from schedule, %.2f%% of the mean E2EL from schedule. %s.</p>`,
		cells(v.MeanQueueMs, v.P99QueueMs), cells(v.MeanLagMs, v.P99LagMs, v.MaxLagMs), cls, v.TTFTShare*100, v.E2ELShare*100, esc(v.Verdict))
	capacityTable(b, r.Capacity)
	b.WriteString(`</section>`)
}

func cells(vs ...float64) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("<td>" + svgplot.FormatValue(v) + "</td>")
	}
	return b.String()
}

type chartGroup struct {
	title, hint string
	charts      []*svgplot.Chart
}

// chartGroups builds the overlaid charts: each run's series in its own
// colour (one run: each series in its own colour).
func (d *Data) chartGroups() []chartGroup {
	multi := len(d.Runs) > 1
	name := func(r *Run, s string) string {
		if multi {
			return r.Label + " " + s
		}
		return s
	}
	color := func(ri, si int) int {
		if multi {
			return ri
		}
		return si
	}
	var lat chartGroup
	lat.title = "Latency distributions"
	lat.hint = "Completed, measured requests (ITL: their tokens). Histograms end at the 99.5th percentile; the CDFs go on to the largest values."
	for mi, m := range []string{"TTFT", "TPOT", "ITL", "E2EL"} {
		cdf := &svgplot.Chart{ID: "cdf-" + strings.ToLower(m), Title: m + " CDF", XLabel: m + " (ms)", YLabel: "fraction of requests ≤ x", YFromZero: true}
		hist := &svgplot.Chart{ID: "hist-" + strings.ToLower(m), Title: m + " histogram", XLabel: m + " (ms)", YLabel: "share of requests (%)", YFromZero: true}
		if m == "ITL" {
			cdf.YLabel, hist.YLabel = "fraction of tokens ≤ x", "share of tokens (%)"
		}
		var above []string
		for ri, r := range d.Runs {
			dist := r.Dists[mi]
			cdf.Series = append(cdf.Series, svgplot.Series{Name: name(r, m), X: dist.CDFX, Y: dist.CDFP, Color: color(ri, 0)})
			hs := histSeries(dist, name(r, m), color(ri, 0), !multi)
			hist.Series = append(hist.Series, hs)
			if dist.Above > 0 {
				above = append(above, fmt.Sprintf("%d", dist.Above))
			}
		}
		if len(above) > 0 {
			hist.Note = "beyond the last bin (above p99.5), not drawn: " + strings.Join(above, ", ")
		}
		lat.charts = append(lat.charts, cdf, hist)
	}

	ts := chartGroup{title: "Over the run", hint: "Per --sample-interval window; long runs are averaged down to at most 240 points. Server and GPU series come from the server's /metrics (server.jsonl)."}
	for _, spec := range timeCharts {
		c := &svgplot.Chart{ID: "ts-" + spec.id, Title: spec.title, XLabel: "time since start (s)", YLabel: spec.ylabel, YFromZero: true, XFromZero: true}
		for ri, r := range d.Runs {
			si := 0
			for _, id := range spec.series {
				s := findSeries(r, id)
				if s == nil || (multi && slices.Contains(spec.skipMulti, id)) {
					continue
				}
				c.Series = append(c.Series, svgplot.Series{Name: name(r, s.Name), X: s.T, Y: s.V, Color: color(ri, si), Dash: multi && si > 0})
				si++
			}
		}
		if !c.Empty() {
			ts.charts = append(ts.charts, c)
		}
	}

	lens := chartGroup{title: "Input and output lengths", hint: "Tokens asked for (the trace or scenario) against tokens the server reported, completed requests."}
	for k, t := range []string{"Input length", "Output length"} {
		c := &svgplot.Chart{ID: fmt.Sprintf("len-%d", k), Title: t, XLabel: "tokens", YLabel: "share of requests (%)", YFromZero: true}
		for ri, r := range d.Runs {
			for j := 0; j < 2; j++ {
				dist := r.Lengths[2*k+j]
				c.Series = append(c.Series, histSeries(dist, name(r, dist.Name), color(ri, j), false))
				c.Series[len(c.Series)-1].Dash = j == 1
			}
		}
		lens.charts = append(lens.charts, c)
	}

	turns := chartGroup{title: "By turn (sessions)", hint: "summary.json by_turn: turn 1 pays the whole prefill; later turns should hit the prefix cache."}
	for _, m := range []string{"TTFT", "E2EL"} {
		c := &svgplot.Chart{ID: "turn-" + strings.ToLower(m), Title: m + " by turn", XLabel: "turn", YLabel: m + " (ms)", YFromZero: true, XFromZero: false}
		for ri, r := range d.Runs {
			if len(r.ByTurn) == 0 {
				continue
			}
			var x, p50, p99 []float64
			for i, t := range r.ByTurn {
				x = append(x, float64(i+1))
				if m == "TTFT" {
					p50, p99 = append(p50, t.TTFTP50), append(p99, t.TTFTP99)
				} else {
					p50, p99 = append(p50, t.E2ELP50), append(p99, t.E2ELP99)
				}
			}
			c.Series = append(c.Series,
				svgplot.Series{Name: name(r, "p50"), X: x, Y: p50, Color: color(ri, 0)},
				svgplot.Series{Name: name(r, "p99"), X: x, Y: p99, Color: color(ri, 1), Dash: multi})
		}
		if len(c.Series) > 0 {
			turns.charts = append(turns.charts, c)
		}
	}
	return []chartGroup{d.capacityCharts(), lat, ts, lens, turns}
}

// histSeries draws a histogram as bars (one run) or as a line through the
// bins' centres (overlays), in percent of the sample.
func histSeries(d Dist, name string, color int, bars bool) svgplot.Series {
	s := svgplot.Series{Name: name, Color: color, Width: d.Width}
	if bars {
		s.Kind = svgplot.Bars
	}
	total := float64(d.Count)
	for i, n := range d.Counts {
		s.X = append(s.X, d.Lo+(float64(i)+0.5)*d.Width)
		s.Y = append(s.Y, 100*float64(n)/math.Max(total, 1))
	}
	return s
}

func findSeries(r *Run, id string) *Series {
	for i := range r.Series {
		if r.Series[i].ID == id {
			return &r.Series[i]
		}
	}
	return nil
}

// timeCharts lists the time-series charts and the series each draws.
var timeCharts = []struct {
	id, title, ylabel string
	series            []string
	skipMulti         []string // left out when several runs overlay
}{
	{"rate", "Request rate", "requests per second", []string{"rate_target", "rate_sent", "completed_rate", "goodput_rate"}, []string{"completed_rate", "goodput_rate"}},
	{"concurrency", "In flight and queued", "requests (mean over the window)", []string{"in_flight", "queued"}, nil},
	{"ttft", "TTFT percentiles", "TTFT (ms)", []string{"ttft_p50", "ttft_p99", "ttft_p95"}, []string{"ttft_p95"}},
	{"tpot", "TPOT percentiles", "TPOT (ms)", []string{"tpot_p50", "tpot_p99", "tpot_p95"}, []string{"tpot_p95"}},
	{"tokens", "Output tokens per second", "tokens per second", []string{"tok_client", "tok_server"}, nil},
	{"server", "Server: running and waiting requests", "requests", []string{"server_running", "server_waiting"}, nil},
	{"kv", "Server: KV cache usage", "KV cache used (%)", []string{"kv_cache"}, nil},
	{"power", "GPU power", "power (W)", []string{"power"}, nil},
	{"energy", "Energy per generated token", "energy (J/token)", []string{"j_per_token"}, nil},
}

// sweepCharts: one point per run, throughput against latency and goodput.
func (d *Data) sweepCharts() []*svgplot.Chart {
	var labels []string
	var thr, rate, ttft50, ttft99, tpot50, tpot99, good []float64
	for _, r := range d.Runs {
		p := r.Point
		labels = append(labels, r.Label)
		thr = append(thr, p.RequestThroughput)
		x := p.TargetRate
		if x == 0 {
			x = p.RequestThroughput
		}
		rate = append(rate, x)
		ttft50, ttft99 = append(ttft50, p.TTFTP50), append(ttft99, p.TTFTP99)
		tpot50, tpot99 = append(tpot50, p.TPOTP50), append(tpot99, p.TPOTP99)
		good = append(good, p.RequestGoodput)
	}
	pts := func(name string, x, y []float64, c int) svgplot.Series {
		return svgplot.Series{Name: name, X: x, Y: y, Kind: svgplot.Points, Color: c, Labels: labels}
	}
	return []*svgplot.Chart{
		{ID: "sweep-ttft", Title: "TTFT against throughput", XLabel: "request throughput (req/s)", YLabel: "TTFT (ms)", YFromZero: true, XFromZero: true,
			Series: []svgplot.Series{pts("p50", thr, ttft50, 0), pts("p99", thr, ttft99, 1)}},
		{ID: "sweep-tpot", Title: "TPOT against throughput", XLabel: "request throughput (req/s)", YLabel: "TPOT (ms)", YFromZero: true, XFromZero: true,
			Series: []svgplot.Series{pts("p50", thr, tpot50, 0), pts("p99", thr, tpot99, 1)}},
		{ID: "sweep-goodput", Title: "Goodput against offered rate", XLabel: "target request rate (req/s)", YLabel: "requests per second", YFromZero: true, XFromZero: true,
			Series: []svgplot.Series{pts("throughput", rate, thr, 2), pts("goodput (SLO met)", rate, good, 3)}},
	}
}

// groupTables: per tag (and scenario) and per turn.
func (d *Data) groupTables(b *strings.Builder) {
	any := false
	for _, r := range d.Runs {
		any = any || len(r.ByTag) > 0
	}
	if any {
		b.WriteString(`<h2>By tag</h2><p class="hint">Requests grouped by each tag's key=value (and by scenario when a file holds several), warm-up left out; latencies of completed requests, ms.</p>`)
		for _, r := range d.Runs {
			if len(r.ByTag) == 0 {
				continue
			}
			fmt.Fprintf(b, `<h3>%s</h3><table><tr><th>group</th><th>requests</th><th>failed</th><th>TTFT p50</th><th>TTFT p99</th><th>TPOT p50</th><th>TPOT p99</th><th>E2EL p50</th><th>E2EL p99</th></tr>`, esc(r.Label))
			for _, g := range r.ByTag {
				fmt.Fprintf(b, "<tr><td>%s</td><td>%d</td><td>%d</td>%s</tr>", esc(g.Group), g.Requests, g.Failed,
					cells(float64(g.TTFTP50), float64(g.TTFTP99), float64(g.TPOTP50), float64(g.TPOTP99), float64(g.E2ELP50), float64(g.E2ELP99)))
			}
			b.WriteString(`</table>`)
		}
	}
	for _, r := range d.Runs {
		if len(r.ByTurn) == 0 {
			continue
		}
		fmt.Fprintf(b, `<h3>%s: by turn (ms)</h3><table><tr><th>turn</th><th>completed</th><th>TTFT p50</th><th>TTFT p99</th><th>E2EL p50</th><th>E2EL p99</th></tr>`, esc(r.Label))
		for _, t := range r.ByTurn {
			fmt.Fprintf(b, "<tr><td>%s</td><td>%d</td>%s</tr>", esc(t.Turn), t.Completed, cells(t.TTFTP50, t.TTFTP99, t.E2ELP50, t.E2ELP99))
		}
		b.WriteString(`</table>`)
	}
}

func esc(s string) string { return html.EscapeString(s) }
