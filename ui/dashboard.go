// Package ui is the live terminal dashboard of `llmload run`, drawn with
// tcell: braille charts of throughput and latency, the load generator's own
// health (queueing, schedule lag, achieved rate), errors and network, a
// progress bar, and keys to stop, abort and pause.
//
// The engine never waits for the terminal. It publishes immutable Frames
// with Publish, which only stores a pointer; the dashboard draws the latest
// one at its own refresh rate and frames published in between are never
// drawn. A slow or frozen terminal therefore costs the load nothing.
//
// The layout is a list of Panel descriptors (DefaultPanels), placed into
// columns and pages that fit the terminal, so new panels are new list
// elements; panels whose data does not exist (server metrics of a server
// without /metrics) are left out. A run of several scenarios publishes one
// frame stream per scenario and the user picks the one shown (keys 1-9,
// left and right). Sub-packages braille and chart hold the drawing
// primitives.
package ui

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/llmload/llmload/ui/chart"
)

// Point is one sample of a series: time offset from the start of the run,
// and value.
type Point = chart.Point

// Frame is what the dashboard shows at one instant. Once passed to Publish
// a Frame, and every slice and map it references, must not be modified:
// the dashboard reads it from its own goroutine without locks. Build a new
// Frame per tick (History helps with the series).
type Frame struct {
	Scenario, URL, Model string

	Elapsed     time.Duration // time since the start of the run: the right edge of the charts
	Done, Total int64         // requests finished and expected; Total 0 = unknown
	ETA         time.Duration // time left; <= 0 = unknown
	Paused      bool          // arrivals are paused
	PausedFor   time.Duration // length of the current pause
	Status      string        // optional engine state, e.g. "draining 12 in flight"
	// Stopping: a graceful stop came (from the keys or elsewhere); the
	// footer then says what became of the run's requests: Unsent were
	// waiting at the concurrency gate and will never be sent, InFlight
	// are draining.
	Stopping bool
	InFlight int
	Unsent   int64

	// Series holds the recent points of each series (see the Series*
	// ids), oldest first; the dashboard shows those of the last
	// Options.PlotWindow.
	Series map[string][]Point
	// Counters holds current values and totals (see the Counter* ids).
	Counters map[string]float64
	// Errors counts failed requests by class ("timeout", "http_5xx", ...).
	Errors map[string]int64
	// Search is a capacity search's step under way, shown on a row of
	// its own under the progress bar; nil for other runs.
	Search *SearchStep
}

// SearchStep is where a capacity search is: the step under way and how it
// goes so far.
type SearchStep struct {
	Step  int    // 1-based; 0 before the first
	Level string // the step's load with its unit: "24 users", "12.5 req/s"
	// Phase is "bracketing" or "bisecting"; Bracket the levels known to
	// pass and fail so far ("16 .. 32 users", "≥ 16 users", "").
	Phase, Bracket string
	// Part is "warm-up", "measuring" or "draining"; "" once the search
	// ended. StepFor is the time since the step began.
	Part    string
	StepFor time.Duration
	// The step's judged requests so far: finished, and of those met
	// every SLO; Target is the goodput a pass needs.
	Finished, Good int64
	Target         float64
	// Last is the previous step's verdict: "pass", "fail", "untrusted";
	// "" before the first ended. LastLevel is its load, as Level.
	Last, LastLevel string
}

// Verdict is how the step goes so far: "passing" or "failing" by the
// goodput of its finished judged requests against the target, "" before
// any finished.
func (s *SearchStep) Verdict() string {
	switch {
	case s.Finished == 0:
		return ""
	case float64(s.Good) >= s.Target*float64(s.Finished):
		return "passing"
	}
	return "failing"
}

// Options configure the dashboard; zero values pick the defaults.
type Options struct {
	PlotWindow time.Duration // time span of the charts; 0 = 60s
	Refresh    time.Duration // redraw interval (--log-every); 0 = 1s
	// PlotRows is the text rows of each chart's plot: 1 draws every chart
	// as one sparkline row per series (the fallback for small or slow
	// terminals); 0 sizes braille charts automatically. PlotHeight, when
	// set, takes precedence for braille charts.
	PlotRows int
	// PlotHeight is the text rows of each braille chart's plot; 0 = as
	// PlotRows says, and when that is 0 too the tallest plots that fit
	// every panel on one page (2 to 10 rows).
	PlotHeight int
	SparkWidth int  // cells of each sparkline; 0 = as wide as fits
	YWidth     int  // columns of Y axis labels; 0 = 6
	NoColor    bool // no colours (also when $NO_COLOR is non-empty)
	// Panels is the layout; nil = DefaultPanels().
	Panels []Panel
	// Thresholds gives warn/fail levels by series id, for series whose
	// SeriesSpec has none (typically from the scenario's thresholds).
	Thresholds map[string]chart.Threshold
	// Scenarios lists the scenarios of a run with several, in the order
	// of their PublishScenario index; the dashboard then shows one at a
	// time, with a row of tabs giving every scenario's progress. Nil (or
	// one element): a single scenario, published with Publish.
	Scenarios []Scenario
}

// Scenario is one of the scenarios of a run that a dashboard shows.
type Scenario struct {
	Name string // shown on its tab until its first frame names it
	// Thresholds are its own warn/fail levels by series id, over
	// Options.Thresholds.
	Thresholds map[string]chart.Threshold
	// Note is shown at the right of the tab row while the scenario is
	// shown: say, that its server panels count other scenarios' traffic.
	Note string
}

// Callbacks are called from Run's goroutine when the user presses a key.
// They must return quickly (cancel a context, flip an atomic) since the
// dashboard does not redraw while one runs. Nil callbacks are skipped.
type Callbacks struct {
	Stop  func()            // q or the first Ctrl-C: stop sending, drain in-flight requests
	Abort func()            // the second Ctrl-C: cancel in-flight requests now
	Pause func(paused bool) // p: pause (true) or resume (false) arrivals
}

// Dashboard draws frames on a tcell screen.
//
// Concurrency: Publish and PublishScenario may be called from any
// goroutine at any time, also before Run and after it returned, and never
// block. Run must be called once, from one goroutine; everything else
// happens on that goroutine.
type Dashboard struct {
	screen tcell.Screen
	opt    Options
	cb     Callbacks
	panels []Panel
	theme  theme
	views  []view // one per scenario

	latest  []atomic.Pointer[Frame] // by scenario
	running atomic.Bool

	// Run-goroutine state.
	charts     []chart.Chart    // one per panel, reused between draws
	series     [][]chart.Series // every series of each panel, styled; charts draw the shown ones
	lay        layout
	layW, layH int
	layKey     []bool  // the panels and series the layout was made for
	key        []bool  // scratch: those the frame being drawn has
	shownIdx   []int   // layout panel -> index in panels
	shownSer   [][]int // layout panel -> indices of its shown series
	cur        int     // the scenario shown
	page       int
	help       bool
	paused     bool
	pausedAt   time.Time
	stopping   bool
}

// view is what differs between the scenarios of one dashboard.
type view struct {
	name, note string
	th         [][]*chart.Threshold // by panel and series
}

// New returns a dashboard drawing on screen, which the caller has
// initialised (screen.Init) and finalises (screen.Fini) after Run returns,
// so the terminal is restored on every path of the caller, panics included.
func New(screen tcell.Screen, opt Options, cb Callbacks) *Dashboard {
	if opt.PlotWindow <= 0 {
		opt.PlotWindow = time.Minute
	}
	if opt.Refresh <= 0 {
		opt.Refresh = time.Second
	}
	if opt.YWidth <= 0 {
		opt.YWidth = 6
	}
	if os.Getenv("NO_COLOR") != "" {
		opt.NoColor = true
	}
	panels := opt.Panels
	if panels == nil {
		panels = DefaultPanels()
	}
	// Copy the layout so that the caller's slices stay theirs, and
	// resolve thresholds once per scenario.
	own := make([]Panel, len(panels))
	for i, p := range panels {
		own[i] = p
		own[i].Series = append([]SeriesSpec(nil), p.Series...)
	}
	scenarios := opt.Scenarios
	if len(scenarios) == 0 {
		scenarios = []Scenario{{}}
	}
	views := make([]view, len(scenarios))
	for v, sc := range scenarios {
		views[v] = view{name: sc.Name, note: sc.Note, th: make([][]*chart.Threshold, len(own))}
		for i, p := range own {
			views[v].th[i] = make([]*chart.Threshold, len(p.Series))
			for j, s := range p.Series {
				th := s.Threshold
				if th == nil {
					if t, ok := sc.Thresholds[s.ID]; ok {
						th = &t
					} else if t, ok := opt.Thresholds[s.ID]; ok {
						th = &t
					}
				}
				views[v].th[i][j] = th
			}
		}
	}
	d := &Dashboard{
		screen: screen,
		opt:    opt,
		cb:     cb,
		panels: own,
		theme:  newTheme(opt.NoColor),
		views:  views,
		latest: make([]atomic.Pointer[Frame], len(views)),
		charts: make([]chart.Chart, len(own)),
		series: make([][]chart.Series, len(own)),
	}
	labelW := 0
	for _, p := range own {
		if p.Kind != KindChart {
			continue
		}
		for _, s := range p.Series {
			labelW = max(labelW, min(len([]rune(s.Label)), 8)) // longer labels are cut
		}
	}
	for i, p := range own {
		c := &d.charts[i]
		c.Title = p.Title
		c.AutoMin = p.AutoMin
		c.Format = p.Unit.format
		c.Window = opt.PlotWindow
		c.YWidth = opt.YWidth
		c.LabelWidth = labelW // one value column width: charts line up
		c.Styles = d.theme.chart
		c.Cleared = true // draw clears the whole screen first
		c.Series = make([]chart.Series, 0, len(p.Series))
		d.series[i] = make([]chart.Series, len(p.Series))
		for j, s := range p.Series {
			// The colour follows the series' place in its panel, shown
			// or not, so a series keeps its colour when another appears.
			d.series[i][j] = chart.Series{Label: s.Label, Style: d.theme.palette[j%len(d.theme.palette)]}
		}
	}
	return d
}

// Publish makes f the frame the next redraw shows, replacing any frame not
// drawn yet: PublishScenario(0, f). It never blocks. f must not be
// modified afterwards; nil is ignored.
func (d *Dashboard) Publish(f *Frame) { d.PublishScenario(0, f) }

// PublishScenario makes f the latest frame of scenario i (an index of
// Options.Scenarios), drawn when that scenario is shown; its progress
// shows on the scenario's tab in any case. It never blocks. f must not be
// modified afterwards; nil and an index out of range are ignored.
func (d *Dashboard) PublishScenario(i int, f *Frame) {
	if f != nil && i >= 0 && i < len(d.latest) {
		d.latest[i].Store(f)
	}
}

// Run draws the dashboard every Options.Refresh and on every key or
// resize until ctx is done or the user aborts (the second Ctrl-C, after
// Abort was called). A graceful stop (q or Ctrl-C) calls Stop and keeps
// drawing, so the drain stays visible: the caller cancels ctx when the run
// is over. Run returns nil then; it returns an error when called twice or
// when the screen is finalised under it.
func (d *Dashboard) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("ui: Dashboard.Run called twice")
	}
	events := make(chan tcell.Event, 16)
	quit := make(chan struct{})
	go d.screen.ChannelEvents(events, quit)
	defer func() {
		close(quit)
		for range events { // ChannelEvents closes it on its way out
		}
	}()
	tick := time.NewTicker(d.opt.Refresh)
	defer tick.Stop()

	d.screen.HideCursor()
	d.draw()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			d.draw()
		case ev, ok := <-events:
			if !ok {
				return errors.New("ui: the screen was closed while the dashboard ran")
			}
			if d.handle(ev) {
				return nil
			}
			// Coalesce a burst (a resize drag, key repeat) into one
			// redraw.
			for drained := false; !drained; {
				select {
				case ev, ok := <-events:
					if !ok {
						return errors.New("ui: the screen was closed while the dashboard ran")
					}
					if d.handle(ev) {
						return nil
					}
				default:
					drained = true
				}
			}
			d.draw()
		}
	}
}

// handle applies one event and reports whether Run should return.
func (d *Dashboard) handle(ev tcell.Event) bool {
	switch ev := ev.(type) {
	case *tcell.EventResize:
		d.screen.Sync()
	case *tcell.EventKey:
		switch ev.Key() {
		case tcell.KeyCtrlC:
			if d.stopping {
				call(d.cb.Abort)
				return true
			}
			d.stop()
		case tcell.KeyTab:
			d.page++
		case tcell.KeyBacktab:
			d.page--
		case tcell.KeyRight:
			d.cur = (d.cur + 1) % len(d.views)
		case tcell.KeyLeft:
			d.cur = (d.cur + len(d.views) - 1) % len(d.views)
		case tcell.KeyEscape:
			d.help = false
		case tcell.KeyCtrlL:
			d.screen.Sync()
		case tcell.KeyRune:
			switch ev.Rune() {
			case 'q', 'Q':
				d.stop()
			case 'p', 'P':
				if d.stopping {
					break // resuming a stopped run would send again
				}
				d.paused = !d.paused
				if d.paused {
					d.pausedAt = time.Now()
				}
				if d.cb.Pause != nil {
					d.cb.Pause(d.paused)
				}
			case '?':
				d.help = !d.help
			case '1', '2', '3', '4', '5', '6', '7', '8', '9':
				if n := int(ev.Rune() - '1'); n < len(d.views) {
					d.cur = n
				}
			}
		}
	}
	return false
}

func (d *Dashboard) stop() {
	if d.stopping {
		return
	}
	d.stopping = true
	call(d.cb.Stop)
}

func call(f func()) {
	if f != nil {
		f()
	}
}
