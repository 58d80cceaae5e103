// Package chart draws time-series charts into a terminal cell grid: a
// braille line chart with a fixed-width Y axis and a value column, and a
// one-line sparkline fallback. Every part has a fixed width that depends on
// the configuration only, never on the data, so changing values never move
// the plot.
package chart

import (
	"math"
	"time"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"

	"github.com/llmload/llmload/ui/braille"
)

// Point is one sample of a series: its time offset (from the start of the
// run) and value.
type Point struct {
	T time.Duration
	V float64
}

// Level is how a value compares with its series' thresholds.
type Level uint8

const (
	LevelNone Level = iota // the series has no thresholds, or there is no value
	LevelOK
	LevelWarn
	LevelFail
)

// Threshold holds the optional warn and fail levels of a series. A level
// that is NaN is not used, so a fail-only threshold is
// Threshold{Warn: math.NaN(), Fail: 2000}.
type Threshold struct {
	Warn, Fail float64
	// Below is true when low values are bad (throughput, achieved rate):
	// a value at or below a level trips it. Otherwise a value at or above
	// it does.
	Below bool
}

// Level classifies v; a nil threshold or a NaN value gives LevelNone.
func (t *Threshold) Level(v float64) Level {
	if t == nil || math.IsNaN(v) {
		return LevelNone
	}
	trips := func(level float64) bool {
		if math.IsNaN(level) {
			return false
		}
		if t.Below {
			return v <= level
		}
		return v >= level
	}
	switch {
	case trips(t.Fail):
		return LevelFail
	case trips(t.Warn):
		return LevelWarn
	}
	return LevelOK
}

// Series is one line of a chart.
type Series struct {
	Label     string // legend text in the value column, e.g. "p95"
	Points    []Point
	Threshold *Threshold  // nil: drawn in Style
	Style     tcell.Style // colour of the line and legend without thresholds
}

// Last returns the value of the most recent point, or NaN without points.
func (s *Series) Last() float64 {
	if len(s.Points) == 0 {
		return math.NaN()
	}
	return s.Points[len(s.Points)-1].V
}

// Styles are the non-series styles of a chart. Levels is indexed by Level;
// its LevelNone entry is unused (the series' own style applies).
type Styles struct {
	Title, Axis, Label, Dim tcell.Style
	Levels                  [4]tcell.Style
}

// Surface is where charts draw; tcell.Screen satisfies it.
type Surface interface {
	SetContent(x, y int, primary rune, combining []rune, style tcell.Style)
}

// Chart is a braille line chart of one or more series over the time window
// (End-Window, End]:
//
//	Title                          p50    120
//	  2000┤      ⡠⠔⠊⠉⠉⠑⠢⡀       p95    340
//	  1000┤   ⡠⠊         ⠈⠢⡀    p99    800!
//	     0┤⠤⠊               ⠉
//
// From left to right: YWidth columns of right-aligned axis labels, the
// axis, the plot, a space, and the value column: one row per series with
// its label, its latest value and a status mark ('!' warn, '✗' fail), the
// label coloured like its line so the column doubles as the legend. The
// Y axis runs from zero (or the data minimum when AutoMin is set) to a
// round number at or above the largest value in view.
//
// A Chart keeps a canvas between draws so redrawing at a steady size does
// not allocate; it is not safe for concurrent use.
type Chart struct {
	Title      string
	Series     []Series
	End        time.Duration // right edge of the plot ("now")
	Window     time.Duration // time span of the plot; 0 = one minute
	YWidth     int           // columns of axis labels; 0 = 6
	LabelWidth int           // columns of series labels in the value column; 0 = longest label
	AutoMin    bool          // scale from the data minimum instead of zero
	// Format prints the axis labels and the value column in at most
	// width characters; nil = Compact. Millis for latencies.
	Format func(v float64, width int) string
	Styles Styles
	// Cleared tells Draw and DrawSpark that the caller has blanked their
	// rectangle already (a whole-screen Clear), so they skip writing
	// spaces: a third of a dashboard redraw otherwise.
	Cleared bool

	canvas braille.Canvas
}

// ValueWidth is the width of the value column for labels of labelWidth
// columns: label, space, number, status mark.
func ValueWidth(labelWidth int) int { return labelWidth + 1 + NumWidth + 1 }

// MinWidth is the narrowest rectangle Draw uses fully: the axis, the value
// column and a plot of eight cells.
func (c *Chart) MinWidth() int { return c.yWidth() + 1 + 8 + 1 + ValueWidth(c.labelWidth()) }

func (c *Chart) yWidth() int {
	if c.YWidth <= 0 {
		return 6
	}
	return c.YWidth
}

func (c *Chart) format(v float64, width int) string {
	if c.Format == nil {
		return Compact(v, width)
	}
	return c.Format(v, width)
}

func (c *Chart) window() time.Duration {
	if c.Window <= 0 {
		return time.Minute
	}
	return c.Window
}

func (c *Chart) labelWidth() int {
	if c.LabelWidth > 0 {
		return c.LabelWidth
	}
	n := 0
	for i := range c.Series {
		n = max(n, utf8.RuneCountInString(c.Series[i].Label))
	}
	return n
}

// visible returns the index of the first point to draw: the last one at or
// before the window's start, so the line enters from the left edge.
func visible(pts []Point, start time.Duration) int {
	i := 0
	for i < len(pts) && pts[i].T < start {
		i++
	}
	return max(i-1, 0)
}

// scale returns the value range of the Y axis: [0 or the minimum, a round
// number at or above the maximum], over points inside the window.
func (c *Chart) scale(start time.Duration) (lo, hi float64, any bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for i := range c.Series {
		for _, p := range c.Series[i].Points {
			if p.T < start || p.T > c.End || math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				continue
			}
			lo, hi, any = min(lo, p.V), max(hi, p.V), true
		}
	}
	if !any {
		return 0, 1, false
	}
	if !c.AutoMin || lo > hi {
		lo = min(lo, 0)
	}
	if c.AutoMin {
		step := niceCeil((hi - lo) / 4)
		if hi == lo {
			step = niceCeil(math.Abs(hi) / 10)
		}
		lo = math.Floor(lo/step) * step
		hi = math.Ceil(hi/step) * step
		if hi == lo {
			hi = lo + step
		}
		return lo, hi, true
	}
	if lo < 0 { // negative data: symmetric round bounds
		m := niceCeil(max(-lo, hi))
		return -m, m, true
	}
	return 0, niceCeil(hi), true
}

// Draw draws the chart into the w x h rectangle at (x, y): the title row
// and h-1 plot rows. It writes every cell of the rectangle (only the
// non-blank ones when Cleared) and nothing outside it. With fewer than two
// rows or too narrow a rectangle for a plot it draws what fits (title,
// values).
func (c *Chart) Draw(s Surface, x, y, w, h int) {
	if w <= 0 || h <= 0 {
		return
	}
	if !c.Cleared {
		fill(s, x, y, w, h, tcell.StyleDefault)
	}
	yw, lw := c.yWidth(), c.labelWidth()
	vw := ValueWidth(lw)
	if vw > w {
		vw = 0 // no room for values: the title takes the row
	}
	Print(s, x, y, w-vw-1, c.Title, c.Styles.Title)
	for i := range c.Series {
		if i >= h {
			break
		}
		c.drawValue(s, x+w-vw, y+i, vw, lw, &c.Series[i])
	}
	rows := h - 1
	pw := w - yw - 1 - 1 - vw
	if rows < 1 || pw < 1 {
		return
	}
	start := c.End - c.window()
	lo, hi, any := c.scale(start)

	// Axis labels at the top and bottom rows, and in the middle when an
	// odd row count puts the centre of a row exactly halfway.
	for r := range rows {
		label, axis := "", '│'
		switch {
		case r == 0:
			label = c.format(hi, yw)
		case r == rows-1:
			label = c.format(lo, yw)
		case rows%2 == 1 && r == rows/2:
			label = c.format((lo+hi)/2, yw)
		}
		if label != "" {
			axis = '┤'
			PrintRight(s, x, y+1+r, yw, label, c.Styles.Axis)
		}
		s.SetContent(x+yw, y+1+r, axis, nil, c.Styles.Axis)
	}
	px := x + yw + 1
	if !any {
		msg := "no data"
		if utf8.RuneCountInString(msg) <= pw {
			Print(s, px+(pw-len(msg))/2, y+1+rows/2, pw, msg, c.Styles.Dim)
		}
		return
	}

	c.canvas.Resize(pw, rows)
	dw, dh := c.canvas.DotSize()
	win := float64(c.window())
	xOf := func(t time.Duration) int {
		return int(math.Round(float64(t-start) / win * float64(dw-1)))
	}
	yOf := func(v float64) int {
		return (dh - 1) - int(math.Round((v-lo)/(hi-lo)*float64(dh-1)))
	}
	for si := range c.Series {
		sr := &c.Series[si]
		pts := sr.Points
		first := visible(pts, start)
		prev := -1
		for i := first; i < len(pts); i++ {
			p := pts[i]
			if p.T > c.End || math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				prev = -1 // a gap: do not join across it
				continue
			}
			// A segment takes the worse level of its two ends, so a
			// spike past a threshold shows in the threshold's colour.
			lvl := sr.Threshold.Level(p.V)
			if prev >= 0 {
				q := pts[prev]
				lvl = max(lvl, sr.Threshold.Level(q.V))
				c.canvas.Line(xOf(q.T), yOf(q.V), xOf(p.T), yOf(p.V), pen(si, lvl))
			} else {
				c.canvas.Set(xOf(p.T), yOf(p.V), pen(si, lvl))
			}
			prev = i
		}
	}
	for r := range rows {
		for col := range pw {
			ch, pn, ok := c.canvas.Cell(col, r)
			if !ok {
				continue
			}
			s.SetContent(px+col, y+1+r, ch, nil, c.penStyle(pn))
		}
	}
}

// pen packs a series index and a level into a canvas pen.
func pen(series int, l Level) uint8 { return uint8(min(series, 63)<<2) | uint8(l) }

func (c *Chart) penStyle(p uint8) tcell.Style {
	si, l := int(p>>2), Level(p&3)
	if l == LevelNone && si < len(c.Series) {
		return c.Series[si].Style
	}
	return c.Styles.Levels[l]
}

// levelStyle is the style of a series' text at level l.
func (c *Chart) levelStyle(sr *Series, l Level) tcell.Style {
	if l == LevelNone {
		return sr.Style
	}
	return c.Styles.Levels[l]
}

// drawValue writes one row of the value column: label, latest value, mark.
func (c *Chart) drawValue(s Surface, x, y, vw, lw int, sr *Series) {
	if vw <= 0 {
		return
	}
	v := sr.Last()
	l := sr.Threshold.Level(v)
	st := c.levelStyle(sr, l)
	Print(s, x, y, lw, sr.Label, st)
	PrintRight(s, x+lw+1, y, NumWidth, c.format(v, NumWidth), st)
	if mark := levelMark(l); mark != ' ' {
		s.SetContent(x+vw-1, y, mark, nil, st)
	}
}

// levelMark shows a threshold breach without colour (NO_COLOR terminals).
func levelMark(l Level) rune {
	switch l {
	case LevelWarn:
		return '!'
	case LevelFail:
		return '✗'
	}
	return ' '
}

// Print writes str at (x, y), at most w runes, and returns how many it
// wrote. Control characters print as '?' so that a scenario name can never
// move the cursor.
func Print(s Surface, x, y, w int, str string, st tcell.Style) int {
	n := 0
	for _, r := range str {
		if n >= w {
			break
		}
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = '?'
		}
		s.SetContent(x+n, y, r, nil, st)
		n++
	}
	return n
}

// PrintRight writes str right-aligned in the w columns at (x, y), cut to
// its first w runes when longer.
func PrintRight(s Surface, x, y, w int, str string, st tcell.Style) {
	n := utf8.RuneCountInString(str)
	Print(s, x+max(w-n, 0), y, w, str, st)
}

// fill sets a rectangle to spaces.
func fill(s Surface, x, y, w, h int, st tcell.Style) {
	for r := range h {
		for col := range w {
			s.SetContent(x+col, y+r, ' ', nil, st)
		}
	}
}
