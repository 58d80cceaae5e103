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

	"github.com/gdamore/tcell/v2"

	"github.com/llmload/llmload/ui/chart"
)

// stateWidth is the right-hand field of the header row (PAUSED 12s,
// STOPPING, the engine's status).
const stateWidth = 22

// draw renders the latest frame of the shown scenario at the current
// screen size and shows it.
func (d *Dashboard) draw() {
	s := d.screen
	s.Clear()
	w, h := s.Size()
	if w < MinWidth || h < MinHeight {
		d.drawTooSmall(w, h)
		s.Show()
		return
	}
	f := d.latest[d.cur].Load()
	d.fit(f, w, h)
	n := len(d.lay.pages)
	d.page = ((d.page % n) + n) % n
	d.drawHeader(f, w)
	d.drawProgress(f, w)
	if len(d.views) > 1 {
		d.drawTabs(w)
	}
	if f != nil && f.Search != nil {
		d.drawSearch(f.Search, d.top(nil), w)
	}
	if f != nil {
		for _, pl := range d.lay.pages[d.page] {
			d.drawPanel(f, pl)
		}
	} else {
		msg := "waiting for the first sample…"
		chart.Print(s, (w-utf8.RuneCountInString(msg))/2, h/2, w, msg, d.theme.dim)
	}
	d.drawFooter(f, w, h)
	if d.help {
		d.drawHelp(w, h)
	}
	s.Show()
}

// top is the first row of the panel area: below the header, the progress
// bar, with several scenarios their tabs, and for frame f of a capacity
// search its step.
func (d *Dashboard) top(f *Frame) int {
	top := headerRows
	if len(d.views) > 1 {
		top++
	}
	if f != nil && f.Search != nil {
		top++
	}
	return top
}

// fit makes the layout match the screen size and the series that frame f
// has: panels and series without data are left out (Optional), so the
// layout changes when server metrics first arrive, or on switching to a
// scenario whose server has other series, and otherwise stays as it is.
func (d *Dashboard) fit(f *Frame, w, h int) {
	has := func(id string) bool { return f != nil && len(f.Series[id]) > 0 }
	d.key = append(d.key[:0], f != nil && f.Search != nil)
	for i := range d.panels {
		for _, sp := range d.panels[i].Series {
			d.key = append(d.key, !sp.Optional || has(sp.ID))
		}
	}
	if w == d.layW && h == d.layH && slices.Equal(d.key, d.layKey) {
		return
	}
	shown, idx, ser := shownPanels(d.panels, has)
	d.lay = computeLayout(shown, w, h, d.top(f), d.plotHeight(), d.opt.PlotRows == 1)
	d.shownIdx, d.shownSer = idx, ser
	d.layW, d.layH = w, h
	d.layKey = append(d.layKey[:0], d.key...)
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
	name := d.views[d.cur].name
	if f != nil && f.Scenario != "" {
		name = f.Scenario
	}
	if len(d.views) > 1 {
		// Which of how many: the tabs below may be scrolled.
		name = fmt.Sprintf("%s (%d/%d)", name, d.cur+1, len(d.views))
	}
	if name != "" {
		parts = append(parts, name)
	}
	if f != nil {
		if f.URL != "" {
			parts = append(parts, f.URL)
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
	case d.stopping || (f != nil && f.Stopping):
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

// drawTabs draws the scenario row of a run with several: each scenario's
// key, name and progress, the shown one highlighted. When they do not all
// fit, the row scrolls so that the shown one does.
func (d *Dashboard) drawTabs(w int) {
	labels := make([]string, len(d.views))
	widths := make([]int, len(d.views))
	for i := range d.views {
		labels[i] = d.tabLabel(i)
		widths[i] = utf8.RuneCountInString(labels[i]) + 1
	}
	first, x := 0, 0
	for first < d.cur {
		need := min(first, 1) // the "…" that marks tabs scrolled away
		for _, n := range widths[first : d.cur+1] {
			need += n
		}
		if need <= w {
			break
		}
		first++
	}
	if first > 0 {
		x += chart.Print(d.screen, x, headerRows, w, "…", d.theme.dim)
	}
	for i := first; i < len(labels) && x < w; i++ {
		st := d.theme.tab
		if i == d.cur {
			st = d.theme.tabActive
		}
		x += chart.Print(d.screen, x, headerRows, w-x, labels[i], st) + 1
	}
	if note := d.views[d.cur].note; note != "" && x+2+utf8.RuneCountInString(note) <= w {
		chart.PrintRight(d.screen, x+2, headerRows, w-x-2, note, d.theme.dim)
	}
}

// tabLabel is " 2 conv 41% err 3 ": the key that shows the scenario, its
// name, how far it is and its failed requests.
func (d *Dashboard) tabLabel(i int) string {
	name, progress := d.views[i].name, chart.Missing
	var failed int64
	if f := d.latest[i].Load(); f != nil {
		if f.Scenario != "" {
			name = f.Scenario
		}
		switch {
		case f.Status == "finished":
			progress = "done"
		case f.Total > 0:
			progress = fmt.Sprintf("%d%%", 100*min(max(f.Done, 0), f.Total)/f.Total)
		default:
			progress = fmt.Sprintf("%d done", f.Done)
		}
		for _, n := range f.Errors {
			failed += n
		}
	}
	key := strconv.Itoa(i + 1)
	if i >= 9 {
		key = "·" // only 1-9 have keys; the arrows reach the rest
	}
	label := fmt.Sprintf(" %s %s %s ", key, name, progress)
	if failed > 0 {
		label += fmt.Sprintf("err %d ", failed)
	}
	return label
}

// drawFooter draws the keys, or after a stop what became of the requests
// (how many will never be sent, how many are draining) and the keys that
// still act, then the chart window and refresh interval.
func (d *Dashboard) drawFooter(f *Frame, w, h int) {
	keys := "q stop  Ctrl-C×2 abort  p pause  ? help"
	x := 0
	if d.stopping || (f != nil && f.Stopping) {
		var msg string
		switch {
		case f == nil:
			msg = "stopping: nothing new is sent"
		case f.Status == "finished":
			msg = fmt.Sprintf("stopped: %d queued not sent, all requests ended", f.Unsent)
			keys = "? help"
		default:
			msg = fmt.Sprintf("stopping: %d queued not sent, %d in flight draining", f.Unsent, f.InFlight)
			keys = "Ctrl-C abort  ? help"
		}
		x = chart.Print(d.screen, 0, h-1, w, msg, d.theme.status) + 2
	}
	if n := len(d.lay.pages); n > 1 {
		keys += fmt.Sprintf("  tab page %d/%d", d.page+1, n)
	}
	if n := len(d.views); n > 1 {
		keys += fmt.Sprintf("  ←→ scenario %d/%d", d.cur+1, n)
	}
	info := fmt.Sprintf("window %s  refresh %s", formatDuration(d.opt.PlotWindow), formatDuration(d.opt.Refresh))
	n := x
	if x < w {
		n += chart.Print(d.screen, x, h-1, w-x, keys, d.theme.dim)
	}
	if room := w - n - 2; room >= utf8.RuneCountInString(info) {
		chart.PrintRight(d.screen, n+2, h-1, room, info, d.theme.dim)
	}
}

func (d *Dashboard) drawPanel(f *Frame, pl placement) {
	i := d.shownIdx[pl.panel]
	p, th := &d.panels[i], d.views[d.cur].th[i]
	r := pl.r
	switch p.Kind {
	case KindChart:
		c := &d.charts[i]
		c.End = f.Elapsed
		c.Series = c.Series[:0]
		for _, j := range d.shownSer[pl.panel] {
			sr := d.series[i][j]
			sr.Points, sr.Threshold = f.Series[p.Series[j].ID], th[j]
			c.Series = append(c.Series, sr)
		}
		if d.lay.spark {
			c.DrawSpark(d.screen, r.x, r.y, r.w, d.sparkTitleWidth(), d.opt.SparkWidth)
		} else {
			c.Draw(d.screen, r.x, r.y, r.w, r.h)
		}
	case KindStats:
		d.drawStats(f, p, th, r)
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

func (d *Dashboard) drawStats(f *Frame, p *Panel, th []*chart.Threshold, r rect) {
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
		text := s.Unit.format(v, statWidth-labelW-1)
		st := d.theme.text
		switch th[i].Level(v) {
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
	scenarioHelp,
	"Ctrl-L        redraw the screen",
	"?, Esc        close this help",
	"",
	"Charts show the last %s; the Y axis starts at zero.",
	"The right column is the latest value of each series:",
	"! = past the warn level, ✗ = past the fail level.",
	"Server and GPU panels show when /metrics has them;",
	"GPU power's Y axis starts at its lowest reading.",
}

// scenarioHelp is listed with several scenarios only.
const scenarioHelp = "1-9, ←, →     show scenario N / previous / next"

func (d *Dashboard) drawHelp(w, h int) {
	lines := make([]string, 0, len(helpLines))
	bw := 0
	for _, l := range helpLines {
		if l == scenarioHelp && len(d.views) < 2 {
			continue
		}
		if strings.Contains(l, "%s") {
			l = fmt.Sprintf(l, formatDuration(d.opt.PlotWindow))
		}
		lines = append(lines, l)
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

// drawSearch draws a capacity search's row, most telling first, so that
// a narrow terminal cuts the least: "search step 5 24 users  measuring 8s
// failing 93.9% good of 212 (≥99%)  bisecting 16 .. 32 users  last 32
// users fail". Verdicts are coloured like threshold levels; NO_COLOR
// keeps the words.
func (d *Dashboard) drawSearch(s *SearchStep, y, w int) {
	x := chart.Print(d.screen, 0, y, w, "search", d.theme.title)
	put := func(gap int, text string, st tcell.Style) {
		if text != "" && x+gap < w {
			x += gap
			x += chart.Print(d.screen, x, y, w-x, text, st)
		}
	}
	step := "not started"
	if s.Step > 0 {
		step = fmt.Sprintf("step %d %s", s.Step, s.Level)
	}
	put(1, step, d.theme.header)
	if s.Part == "" {
		put(2, "search over", d.theme.dim)
	} else {
		put(2, fmt.Sprintf("%s %s", s.Part, formatDuration(s.StepFor)), d.theme.text)
		put(2, s.Verdict(), d.verdictStyle(s.Verdict()))
		if s.Finished > 0 {
			put(1, fmt.Sprintf("%.1f%% good of %d (≥%.4g%%)", 100*float64(s.Good)/float64(s.Finished), s.Finished, 100*s.Target), d.theme.text)
		}
	}
	phase := s.Phase
	if s.Bracket != "" {
		phase += " " + s.Bracket
	}
	put(2, phase, d.theme.text)
	if s.Last != "" {
		put(2, "last "+s.LastLevel, d.theme.dim)
		put(1, s.Last, d.verdictStyle(s.Last))
	}
}

// verdictStyle colours a step's verdict: passing green, failing red,
// untrusted yellow (the chart's threshold levels).
func (d *Dashboard) verdictStyle(v string) tcell.Style {
	switch v {
	case "pass", "passing":
		return d.theme.chart.Levels[1]
	case "fail", "failing":
		return d.theme.chart.Levels[3]
	case "untrusted":
		return d.theme.chart.Levels[2]
	}
	return d.theme.text
}
