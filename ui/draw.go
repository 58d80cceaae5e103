package ui

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/llmload/llmload/ui/chart"
)

// stateWidth is the right-hand field of the header row (PAUSED 12s,
// STOPPING, the engine's status).
const stateWidth = 22

// draw renders the latest frame at the current screen size and shows it.
func (d *Dashboard) draw() {
	s := d.screen
	s.Clear()
	w, h := s.Size()
	if w < MinWidth || h < MinHeight {
		d.drawTooSmall(w, h)
		s.Show()
		return
	}
	if w != d.layW || h != d.layH {
		d.lay = computeLayout(d.panels, w, h, d.plotHeight(), d.opt.PlotRows == 1)
		d.layW, d.layH = w, h
	}
	n := len(d.lay.pages)
	d.page = ((d.page % n) + n) % n
	f := d.latest.Load()
	d.drawHeader(f, w)
	d.drawProgress(f, w)
	if f != nil {
		for _, pl := range d.lay.pages[d.page] {
			d.drawPanel(f, pl)
		}
	} else {
		msg := "waiting for the first sample…"
		chart.Print(s, (w-utf8.RuneCountInString(msg))/2, h/2, w, msg, d.theme.dim)
	}
	d.drawFooter(w, h)
	if d.help {
		d.drawHelp(w, h)
	}
	s.Show()
}

// plotHeight is the braille plot height asked for: --plot-height, else a
// --plot-rows above 1.
func (d *Dashboard) plotHeight() int {
	if d.opt.PlotHeight > 0 {
		return d.opt.PlotHeight
	}
	if d.opt.PlotRows > 1 {
		return d.opt.PlotRows
	}
	return 0
}

func (d *Dashboard) drawTooSmall(w, h int) {
	lines := []string{
		fmt.Sprintf("terminal too small: %dx%d", w, h),
		fmt.Sprintf("the dashboard needs %dx%d", MinWidth, MinHeight),
		"q stops · Ctrl-C twice aborts",
	}
	y := max((h-len(lines))/2, 0)
	for i, l := range lines {
		if y+i >= h {
			break
		}
		x := max((w-utf8.RuneCountInString(l))/2, 0)
		chart.Print(d.screen, x, y+i, w-x, l, d.theme.text)
	}
}

func (d *Dashboard) drawHeader(f *Frame, w int) {
	parts := []string{"llmload"}
	if f != nil {
		for _, p := range []string{f.Scenario, f.URL} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		if f.Model != "" {
			parts = append(parts, "model "+f.Model)
		}
	}
	line := strings.Join(parts, "  ")
	room := w - stateWidth - 1
	if utf8.RuneCountInString(line) > room {
		line = string([]rune(line)[:room-1]) + "…"
	}
	chart.Print(d.screen, 0, 0, room, line, d.theme.header)

	state, st := "", d.theme.status
	switch {
	case d.stopping:
		state, st = " STOPPING ^C: abort ", d.theme.stopping
	case d.paused:
		since := time.Since(d.pausedAt)
		if f != nil && f.Paused {
			since = f.PausedFor
		}
		state, st = " PAUSED "+formatDuration(since)+" ", d.theme.paused
	case f != nil && f.Status != "":
		state = f.Status
	}
	if utf8.RuneCountInString(state) > stateWidth {
		state = string([]rune(state)[:stateWidth-1]) + "…"
	}
	chart.PrintRight(d.screen, w-stateWidth, 0, stateWidth, state, st)
}

// drawProgress draws "▕████░░░▏ 1200/5000  24.0%  elapsed    1m02s  ETA    3m10s",
// every field at a fixed width so the bar keeps its length.
func (d *Dashboard) drawProgress(f *Frame, w int) {
	var done, total int64
	var elapsed, eta time.Duration = 0, -1
	if f != nil {
		done, total, elapsed = f.Done, f.Total, f.Elapsed
		if f.ETA > 0 {
			eta = f.ETA
		}
	}
	var text string
	frac := -1.0
	if total > 0 {
		frac = min(max(float64(done)/float64(total), 0), 1)
		digits := len(strconv.FormatInt(total, 10))
		text = fmt.Sprintf(" %*d/%d %5.1f%%", digits, done, total, 100*frac)
	} else {
		text = fmt.Sprintf(" done %d", done)
	}
	if f != nil && total > 0 && done >= total {
		eta = 0
	}
	text += fmt.Sprintf("  elapsed %8s  ETA %8s", formatDuration(elapsed), formatDuration(eta))
	barW := w - utf8.RuneCountInString(text)
	x := 0
	if frac >= 0 && barW >= 5 {
		x = d.drawBar(0, 1, barW, frac)
	}
	chart.Print(d.screen, x, 1, w-x, text, d.theme.text)
}

var partialBlocks = []rune{' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'}

// drawBar draws a w-cell progress bar at eighth-of-a-cell resolution and
// returns the column after it.
func (d *Dashboard) drawBar(x, y, w int, frac float64) int {
	inner := w - 2
	eighths := int(math.Round(frac * float64(inner*8)))
	d.screen.SetContent(x, y, '▕', nil, d.theme.barEmpty)
	for i := range inner {
		r, st := '░', d.theme.barEmpty
		switch n := eighths - 8*i; {
		case n >= 8:
			r, st = '█', d.theme.bar
		case n > 0:
			r, st = partialBlocks[n], d.theme.bar
		}
		d.screen.SetContent(x+1+i, y, r, nil, st)
	}
	d.screen.SetContent(x+w-1, y, '▏', nil, d.theme.barEmpty)
	return x + w
}

func (d *Dashboard) drawFooter(w, h int) {
	keys := "q stop  Ctrl-C×2 abort  p pause  ? help"
	if n := len(d.lay.pages); n > 1 {
		keys += fmt.Sprintf("  tab page %d/%d", d.page+1, n)
	}
	info := fmt.Sprintf("window %s  refresh %s", formatDuration(d.opt.PlotWindow), formatDuration(d.opt.Refresh))
	n := chart.Print(d.screen, 0, h-1, w, keys, d.theme.dim)
	if room := w - n - 2; room >= utf8.RuneCountInString(info) {
		chart.PrintRight(d.screen, n+2, h-1, room, info, d.theme.dim)
	}
}

func (d *Dashboard) drawPanel(f *Frame, pl placement) {
	p := &d.panels[pl.panel]
	r := pl.r
	switch p.Kind {
	case KindChart:
		c := &d.charts[pl.panel]
		c.End = f.Elapsed
		for i := range p.Series {
			c.Series[i].Points = f.Series[p.Series[i].ID]
		}
		if d.lay.spark {
			c.DrawSpark(d.screen, r.x, r.y, r.w, d.sparkTitleWidth(), d.opt.SparkWidth)
		} else {
			c.Draw(d.screen, r.x, r.y, r.w, r.h)
		}
	case KindStats:
		d.drawStats(f, p, r)
	case KindErrors:
		d.drawErrors(f, p, r)
	}
}

// sparkTitleWidth is the title column of sparkline rows: the longest chart
// title and a space, so every sparkline starts in the same column.
func (d *Dashboard) sparkTitleWidth() int {
	n := 0
	for _, p := range d.panels {
		if p.Kind == KindChart {
			n = max(n, utf8.RuneCountInString(p.Title))
		}
	}
	return min(n+1, 20)
}

// cellOrigin returns the position of item i of a grid of "label value"
// items under a panel's title row.
func cellOrigin(r rect, i int) (x, y int, ok bool) {
	per := statsPerRow(r.w)
	x, y = r.x+(i%per)*(statWidth+1), r.y+1+i/per
	return x, y, y < r.y+r.h
}

func (d *Dashboard) drawStats(f *Frame, p *Panel, r rect) {
	chart.Print(d.screen, r.x, r.y, r.w, p.Title, d.theme.title)
	const labelW = 8
	for i, s := range p.Series {
		x, y, ok := cellOrigin(r, i)
		if !ok {
			break
		}
		v, ok := f.Counters[s.ID]
		if !ok {
			v = math.NaN()
			if pts := f.Series[s.ID]; len(pts) > 0 {
				v = pts[len(pts)-1].V
			}
		}
		text := chart.Compact(v, statWidth-labelW-1)
		if s.Unit == UnitBytes {
			text = chart.Bytes(v, statWidth-labelW-1)
		}
		st := d.theme.text
		switch s.Threshold.Level(v) {
		case chart.LevelWarn:
			st, text = d.theme.chart.Levels[chart.LevelWarn], text+"!"
		case chart.LevelFail:
			st, text = d.theme.chart.Levels[chart.LevelFail], text+"✗"
		}
		chart.Print(d.screen, x, y, labelW, s.Label, d.theme.dim)
		chart.PrintRight(d.screen, x+labelW+1, y, statWidth-labelW-1, text, st)
	}
}

func (d *Dashboard) drawErrors(f *Frame, p *Panel, r rect) {
	type class struct {
		name string
		n    int64
	}
	var classes []class
	var total int64
	for name, n := range f.Errors {
		if n > 0 {
			classes = append(classes, class{name, n})
			total += n
		}
	}
	slices.SortFunc(classes, func(a, b class) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name))
	})
	title := p.Title
	if total > 0 {
		title += fmt.Sprintf(" (%d)", total)
	}
	chart.Print(d.screen, r.x, r.y, r.w, title, d.theme.title)
	if len(classes) == 0 {
		chart.Print(d.screen, r.x, r.y+1, r.w, "none", d.theme.dim)
		return
	}
	slots := statsPerRow(r.w) * (r.h - 1)
	const countW = 6
	for i, c := range classes {
		x, y, ok := cellOrigin(r, i)
		if !ok {
			break
		}
		label, count := c.name, strconv.FormatInt(c.n, 10)
		if i == slots-1 && len(classes) > slots {
			// The last slot sums the classes that do not fit.
			var rest int64
			for _, o := range classes[i:] {
				rest += o.n
			}
			label, count = fmt.Sprintf("+%d more", len(classes)-i), strconv.FormatInt(rest, 10)
		}
		if len(count) > countW {
			count = chart.Compact(float64(c.n), countW)
		}
		chart.Print(d.screen, x, y, statWidth-countW-1, label, d.theme.text)
		chart.PrintRight(d.screen, x+statWidth-countW, y, countW, count, d.theme.errorText)
	}
}

var helpLines = []string{
	"Keys",
	"q, Ctrl-C     stop sending; in-flight requests finish",
	"Ctrl-C again  abort: cancel in-flight requests",
	"p             pause / resume arrivals",
	"Tab, S-Tab    next / previous page",
	"Ctrl-L        redraw the screen",
	"?, Esc        close this help",
	"",
	"Charts show the last %s; the Y axis starts at zero.",
	"The right column is the latest value of each series:",
	"! = past the warn level, ✗ = past the fail level.",
}

func (d *Dashboard) drawHelp(w, h int) {
	lines := make([]string, len(helpLines))
	bw := 0
	for i, l := range helpLines {
		if strings.Contains(l, "%s") {
			l = fmt.Sprintf(l, formatDuration(d.opt.PlotWindow))
		}
		lines[i] = l
		bw = max(bw, utf8.RuneCountInString(l))
	}
	bw, bh := min(bw+4, w), min(len(lines)+2, h)
	x0, y0 := (w-bw)/2, (h-bh)/2
	s, box := d.screen, d.theme.helpBox
	for y := range bh {
		for x := range bw {
			r := ' '
			switch {
			case y == 0 && x == 0:
				r = '╭'
			case y == 0 && x == bw-1:
				r = '╮'
			case y == bh-1 && x == 0:
				r = '╰'
			case y == bh-1 && x == bw-1:
				r = '╯'
			case y == 0 || y == bh-1:
				r = '─'
			case x == 0 || x == bw-1:
				r = '│'
			}
			s.SetContent(x0+x, y0+y, r, nil, box)
		}
	}
	for i, l := range lines {
		if i+1 >= bh-1 {
			break
		}
		st := d.theme.helpText
		if i == 0 {
			st = d.theme.title
		}
		chart.Print(s, x0+2, y0+1+i, bw-4, l, st)
	}
}

// formatDuration prints whole seconds compactly: 12s, 1m02s, 1h02m03s;
// a negative duration is unknown: "–".
func formatDuration(d time.Duration) string {
	if d < 0 {
		return chart.Missing
	}
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
