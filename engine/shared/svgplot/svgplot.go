// Package svgplot draws the report's charts as inline SVG: lines, bars
// and points on linear axes with titled axes, "nice" ticks, a legend and
// a <title> on every point and bar so that hovering shows its value.
//
// It is hand-written rather than a plotting library because the report
// needs exactly this small set (a few hundred lines), per-point hover
// titles and CSS classes, which SVG back ends of general plotting
// libraries do not emit, and no dependency.
//
// Charts are values; Render has no shared state and may be called from
// several goroutines.
package svgplot

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Kind is how a series is drawn.
type Kind uint8

// Series kinds.
const (
	Line   Kind = iota // points joined by a line; NaN breaks it
	Bars               // one bar per point, centred on X, Width wide
	Points             // markers only (a scatter)
)

// Series is one named set of points. X and Y have the same length; a NaN
// Y is a gap.
type Series struct {
	Name  string
	X, Y  []float64
	Kind  Kind
	Width float64 // Bars: bar width in X units
	Dash  bool    // Line: dashed (a second statistic of the same run)
	Color int     // index in the palette
	// Labels, when set, name each point in its hover title (a run's name
	// in a sweep chart).
	Labels []string
	// Marker is the shape of Points (and of their legend key), so that
	// kinds of points differ in print and without colour too.
	Marker Marker
}

// Marker is the shape of a point.
type Marker uint8

// Markers.
const (
	Dot   Marker = iota // a filled circle
	Cross               // an ×
	Ring                // an open circle
)

// Mark is a reference drawn across the plot under the series: a vertical
// line at X = From (To == From), a shaded band from X = From to To, or,
// Horizontal, a dashed line at Y = From. Label is written beside it.
type Mark struct {
	From, To   float64
	Horizontal bool
	Label      string
}

// Chart is one plot.
type Chart struct {
	ID             string // the element id, unique in the page
	Title          string
	XLabel, YLabel string // with their units, e.g. "TTFT (ms)"
	Series         []Series
	// YFromZero starts the Y axis at 0 (counts, rates); otherwise it
	// starts a little below the smallest value.
	YFromZero bool
	XFromZero bool
	Note      string // a line under the plot (what was left out)
	Marks     []Mark // reference lines and bands (an objective, an answer)
}

// Palette is the series colours, chosen to stay apart in print and for
// the common colour-vision deficiencies (Okabe-Ito, darkened).
var Palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C6D31", "#7B3294", "#999999"}

// Geometry of a chart, in SVG user units.
const (
	width      = 620
	plotTop    = 34
	plotLeft   = 70
	plotRight  = 16
	plotHeight = 220
	axisBelow  = 44 // tick labels and the X title
	legendRow  = 18
)

// Empty reports whether the chart has no point to draw.
func (c *Chart) Empty() bool {
	for _, s := range c.Series {
		for i := range s.X {
			if finite(s.X[i]) && finite(s.Y[i]) {
				return false
			}
		}
	}
	return true
}

// Render returns the chart as an <svg> element.
func (c *Chart) Render() string {
	xmin, xmax, ymin, ymax := c.bounds()
	xt := ticks(xmin, xmax, 7)
	yt := ticks(ymin, ymax, 6)
	xmin, xmax = math.Min(xmin, xt[0]), math.Max(xmax, xt[len(xt)-1])
	ymin, ymax = math.Min(ymin, yt[0]), math.Max(ymax, yt[len(yt)-1])
	pw := float64(width - plotLeft - plotRight)
	px := func(x float64) float64 { return plotLeft + (x-xmin)/(xmax-xmin)*pw }
	py := func(y float64) float64 { return plotTop + plotHeight - (y-ymin)/(ymax-ymin)*plotHeight }

	legend := legendLayout(c.Series)
	height := plotTop + plotHeight + axisBelow + len(legend)*legendRow + 6
	if c.Note != "" {
		height += legendRow
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="%s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		esc(c.ID), width, height, width, height, esc(c.Title))
	fmt.Fprintf(&b, `<text class="title" x="%d" y="18">%s</text>`, plotLeft, esc(c.Title))
	// Grid and ticks.
	for _, t := range yt {
		y := py(t)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`,
			plotLeft, width-plotRight, y, y, plotLeft-6, y+4, esc(FormatTick(t, yt)))
	}
	for _, t := range xt {
		x := px(t)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/><text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>`,
			x, x, plotTop, plotTop+plotHeight, x, plotTop+plotHeight+16, esc(FormatTick(t, xt)))
	}
	fmt.Fprintf(&b, `<rect class="frame" x="%d" y="%d" width="%.0f" height="%d"/>`, plotLeft, plotTop, pw, plotHeight)
	fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%d" text-anchor="middle">%s</text>`, plotLeft+pw/2, plotTop+plotHeight+36, esc(c.XLabel))
	fmt.Fprintf(&b, `<text class="axis" transform="translate(16 %d) rotate(-90)" text-anchor="middle">%s</text>`, plotTop+plotHeight/2, esc(c.YLabel))

	if c.Empty() {
		fmt.Fprintf(&b, `<text class="nodata" x="%.1f" y="%d" text-anchor="middle">no data</text>`, plotLeft+pw/2, plotTop+plotHeight/2)
	}
	for _, m := range c.Marks {
		c.drawMark(&b, m, px, py)
	}
	for _, s := range c.Series {
		col := Palette[s.Color%len(Palette)]
		switch s.Kind {
		case Bars:
			w := s.Width / (xmax - xmin) * pw
			for i := range s.X {
				if !finite(s.X[i]) || !finite(s.Y[i]) {
					continue
				}
				x0, y0, base := px(s.X[i])-w/2, py(s.Y[i]), py(math.Max(ymin, 0))
				fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
					x0, math.Min(y0, base), math.Max(w-0.5, 0.5), math.Abs(base-y0), col, esc(hover(c, &s, i)))
			}
		default:
			if s.Kind == Line {
				dash := ""
				if s.Dash {
					dash = ` stroke-dasharray="6 3"`
				}
				fmt.Fprintf(&b, `<path class="line" stroke="%s"%s d="%s"/>`, col, dash, path(s, px, py))
			}
			r := 3.5
			cls := "pt"
			if s.Kind == Points {
				r, cls = 5, "pt shown"
			}
			for i := range s.X {
				if !finite(s.X[i]) || !finite(s.Y[i]) {
					continue
				}
				marker(&b, s.Marker, cls, px(s.X[i]), py(s.Y[i]), r, col, hover(c, &s, i))
			}
		}
	}
	y := plotTop + plotHeight + axisBelow
	for _, row := range legend {
		for _, it := range row {
			s := c.Series[it.series]
			col := Palette[s.Color%len(Palette)]
			dash := ""
			if s.Dash {
				dash = ` stroke-dasharray="6 3"`
			}
			if s.Kind == Points {
				marker(&b, s.Marker, "key", float64(it.x+9), float64(y+8), 5, col, s.Name)
			} else {
				fmt.Fprintf(&b, `<line class="key" x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s"%s/>`, it.x, it.x+18, y+8, y+8, col, dash)
			}
			fmt.Fprintf(&b, `<text class="legend" x="%d" y="%d">%s</text>`, it.x+23, y+12, esc(s.Name))
		}
		y += legendRow
	}
	if c.Note != "" {
		fmt.Fprintf(&b, `<text class="note" x="%d" y="%d">%s</text>`, plotLeft, y+12, esc(c.Note))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func (c *Chart) bounds() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, ymin, ymax = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for i := range s.X {
			x, y := s.X[i], s.Y[i]
			if !finite(x) || !finite(y) {
				continue
			}
			lo, hi := x, x
			if s.Kind == Bars {
				lo, hi = x-s.Width/2, x+s.Width/2
				ymin = math.Min(ymin, 0)
			}
			xmin, xmax = math.Min(xmin, lo), math.Max(xmax, hi)
			ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
		}
	}
	for _, m := range c.Marks {
		if !finite(m.From) {
			continue
		}
		if m.Horizontal {
			ymin, ymax = math.Min(ymin, m.From), math.Max(ymax, m.From)
		} else if finite(m.To) {
			xmin, xmax = math.Min(xmin, math.Min(m.From, m.To)), math.Max(xmax, math.Max(m.From, m.To))
		}
	}
	if math.IsInf(xmin, 1) || math.IsInf(ymin, 1) {
		return 0, 1, 0, 1
	}
	if c.YFromZero {
		ymin = math.Min(ymin, 0)
	}
	if c.XFromZero {
		xmin = math.Min(xmin, 0)
	}
	xmin, xmax = widen(xmin, xmax)
	ymin, ymax = widen(ymin, ymax)
	return
}

// widen gives a zero-width range some room.
func widen(lo, hi float64) (float64, float64) {
	if hi > lo {
		return lo, hi
	}
	d := math.Abs(lo) * 0.1
	if d == 0 {
		d = 1
	}
	if lo >= 0 && lo-d < 0 {
		return 0, hi + d
	}
	return lo - d, hi + d
}

// drawMark draws one reference under the series.
func (c *Chart) drawMark(b *strings.Builder, m Mark, px, py func(float64) float64) {
	if !finite(m.From) || (!m.Horizontal && !finite(m.To)) {
		return
	}
	const ref = `stroke="#444" stroke-dasharray="4 3"`
	if m.Horizontal {
		y := py(m.From)
		fmt.Fprintf(b, `<line class="ref" x1="%d" x2="%d" y1="%.1f" y2="%.1f" %s/><text class="note" x="%d" y="%.1f" text-anchor="end">%s</text>`,
			plotLeft, width-plotRight, y, y, ref, width-plotRight-4, y-4, esc(m.Label))
		return
	}
	x0, x1 := px(math.Min(m.From, m.To)), px(math.Max(m.From, m.To))
	if x1-x0 >= 1 {
		fmt.Fprintf(b, `<rect class="band" x="%.1f" y="%d" width="%.1f" height="%d" fill="#000" fill-opacity="0.07"><title>%s</title></rect>`,
			x0, plotTop, x1-x0, plotHeight, esc(m.Label))
		fmt.Fprintf(b, `<text class="note" x="%.1f" y="%d">%s</text>`, x0+3, plotTop+plotHeight-6, esc(m.Label))
		return
	}
	fmt.Fprintf(b, `<line class="ref" x1="%.1f" x2="%.1f" y1="%d" y2="%d" %s/><text class="note" x="%.1f" y="%d">%s</text>`,
		x0, x0, plotTop, plotTop+plotHeight, ref, x0+3, plotTop+12, esc(m.Label))
}

// marker draws one point at (x, y) of radius r with its hover title.
func marker(b *strings.Builder, m Marker, cls string, x, y, r float64, col, title string) {
	switch m {
	case Cross:
		fmt.Fprintf(b, `<path class="%s" d="M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f" stroke="%s" stroke-width="2.5" fill="none"><title>%s</title></path>`,
			cls, x-r, y-r, x+r, y+r, x-r, y+r, x+r, y-r, col, esc(title))
	case Ring:
		fmt.Fprintf(b, `<circle class="%s" cx="%.1f" cy="%.1f" r="%.1f" fill="#fff" stroke="%s" stroke-width="2"><title>%s</title></circle>`,
			cls, x, y, r-1, col, esc(title))
	default:
		fmt.Fprintf(b, `<circle class="%s" cx="%.1f" cy="%.1f" r="%.1f" fill="%s"><title>%s</title></circle>`, cls, x, y, r, col, esc(title))
	}
}

func path(s Series, px, py func(float64) float64) string {
	var b strings.Builder
	pen := false
	for i := range s.X {
		if !finite(s.X[i]) || !finite(s.Y[i]) {
			pen = false
			continue
		}
		if pen {
			b.WriteByte('L')
		} else {
			b.WriteByte('M')
			pen = true
		}
		b.WriteString(strconv.FormatFloat(px(s.X[i]), 'f', 1, 64))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatFloat(py(s.Y[i]), 'f', 1, 64))
	}
	return b.String()
}

func hover(c *Chart, s *Series, i int) string {
	name := s.Name
	if i < len(s.Labels) && s.Labels[i] != "" {
		name = s.Labels[i] + " " + name
	}
	return fmt.Sprintf("%s\n%s: %s\n%s: %s", name, c.XLabel, FormatValue(s.X[i]), c.YLabel, FormatValue(s.Y[i]))
}

type legendItem struct{ series, x int }

// legendLayout places the legend entries in rows under the plot.
func legendLayout(ss []Series) [][]legendItem {
	var rows [][]legendItem
	var row []legendItem
	x := plotLeft
	for i, s := range ss {
		if s.Name == "" {
			continue
		}
		w := 23 + 7*len([]rune(s.Name)) + 16
		if x+w > width && len(row) > 0 {
			rows, row, x = append(rows, row), nil, plotLeft
		}
		row = append(row, legendItem{i, x})
		x += w
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	return rows
}

// ticks returns about n round values (1, 2 or 5 times a power of ten)
// covering [lo, hi].
func ticks(lo, hi float64, n int) []float64 {
	step := niceStep((hi - lo) / float64(n-1))
	start := math.Floor(lo/step) * step
	var out []float64
	for v := start; v <= hi+step*1e-9; v += step {
		out = append(out, math.Round(v/step)*step)
		if len(out) > 2*n {
			break
		}
	}
	if out[len(out)-1] < hi-step*1e-9 {
		out = append(out, out[len(out)-1]+step)
	}
	return out
}

func niceStep(raw float64) float64 {
	if raw <= 0 || !finite(raw) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// FormatTick formats tick v so that neighbouring ticks differ: as few
// decimals as the step needs, and k/M for thousands and millions.
func FormatTick(v float64, all []float64) string {
	step := 1.0
	if len(all) > 1 {
		step = math.Abs(all[1] - all[0])
	}
	abs := math.Abs(v)
	switch {
	case abs >= 1e6 && step >= 1e5:
		return trimZeros(strconv.FormatFloat(v/1e6, 'f', decimals(step/1e6), 64)) + "M"
	case abs >= 1e4 && step >= 1e3:
		return trimZeros(strconv.FormatFloat(v/1e3, 'f', decimals(step/1e3), 64)) + "k"
	}
	return trimZeros(strconv.FormatFloat(v, 'f', decimals(step), 64))
}

func decimals(step float64) int {
	if step >= 1 {
		return 0
	}
	return min(int(math.Ceil(-math.Log10(step)-1e-9)), 9)
}

func trimZeros(s string) string {
	if s == "-0" {
		return "0"
	}
	return s
}

// FormatValue formats a value for reading: four significant digits.
func FormatValue(v float64) string {
	switch {
	case !finite(v):
		return "–"
	case v == math.Trunc(v) && math.Abs(v) < 1e9:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 1000:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func esc(s string) string { return html.EscapeString(s) }
