package ui

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/llmload/llmload/ui/chart"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// harness runs a Dashboard on a simulation screen inside a synctest
// bubble, so refresh ticks happen when the test sleeps, not in real time.
type harness struct {
	t      *testing.T
	scr    tcell.SimulationScreen
	d      *Dashboard
	cancel context.CancelFunc
	done   chan error

	mu     sync.Mutex
	stops  int
	aborts int
	pauses []bool
}

// start must be called inside synctest.Test: the screen's channels have to
// belong to the bubble for the event goroutine to count as blocked.
func start(t *testing.T, w, h int, opt Options) *harness {
	t.Helper()
	scr := tcell.NewSimulationScreen("UTF-8")
	if err := scr.Init(); err != nil {
		t.Fatal(err)
	}
	scr.SetSize(w, h)
	hs := &harness{t: t, scr: scr, done: make(chan error, 1)}
	hs.d = New(scr, opt, Callbacks{
		Stop:  func() { hs.mu.Lock(); hs.stops++; hs.mu.Unlock() },
		Abort: func() { hs.mu.Lock(); hs.aborts++; hs.mu.Unlock() },
		Pause: func(p bool) { hs.mu.Lock(); hs.pauses = append(hs.pauses, p); hs.mu.Unlock() },
	})
	ctx, cancel := context.WithCancel(context.Background())
	hs.cancel = cancel
	go func() { hs.done <- hs.d.Run(ctx) }()
	synctest.Wait()
	return hs
}

// tick lets one refresh interval pass and the dashboard redraw.
func (h *harness) tick() {
	time.Sleep(h.d.opt.Refresh)
	synctest.Wait()
}

func (h *harness) key(k tcell.Key, r rune) {
	h.scr.InjectKey(k, r, tcell.ModNone)
	synctest.Wait()
}

func (h *harness) resize(w, hgt int) {
	h.scr.SetSize(w, hgt)
	if err := h.scr.PostEvent(tcell.NewEventResize(w, hgt)); err != nil {
		h.t.Fatal(err)
	}
	synctest.Wait()
}

// finish cancels Run, checks it returned nil, and releases the screen.
func (h *harness) finish() {
	h.t.Helper()
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Run returned %v", err)
	}
	h.scr.Fini()
}

func (h *harness) text() string { return screenText(h.scr) }

// contents copies the screen's cells. GetContents hands out the live
// buffer, which Show rewrites under the screen's lock, so the copy is made
// under that lock too (the simulation screen embeds a sync.Mutex): without
// it the race detector rightly sees no ordering between a read here and
// the dashboard's next redraw.
func contents(s tcell.SimulationScreen) ([]tcell.SimCell, int, int) {
	live, w, h := s.GetContents()
	l := s.(interface {
		Lock()
		Unlock()
	})
	l.Lock()
	defer l.Unlock()
	cells := make([]tcell.SimCell, len(live))
	for i, c := range live {
		cells[i] = tcell.SimCell{Style: c.Style, Runes: append([]rune(nil), c.Runes...)}
	}
	return cells, w, h
}

// screenText is the screen as lines of text, trailing blanks trimmed.
func screenText(s tcell.SimulationScreen) string {
	cells, w, h := contents(s)
	var b strings.Builder
	for y := range h {
		var line strings.Builder
		for x := range w {
			c := cells[y*w+x]
			if len(c.Runes) == 0 {
				line.WriteByte(' ')
				continue
			}
			line.WriteRune(c.Runes[0])
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// screenStyles maps every cell to a letter naming its style ('.' for the
// default), with a legend of the letters above the grid.
func screenStyles(s tcell.SimulationScreen) string {
	cells, w, h := contents(s)
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	seen := map[tcell.Style]byte{tcell.StyleDefault: '.'}
	var legend []string
	var grid strings.Builder
	for y := range h {
		for x := range w {
			st := cells[y*w+x].Style
			l, ok := seen[st]
			if !ok {
				l = letters[len(legend)%len(letters)]
				seen[st] = l
				fg, bg, attr := st.Decompose()
				legend = append(legend, fmt.Sprintf("%c fg=%s bg=%s attr=%s", l, colorName(fg), colorName(bg), attrNames(attr)))
			}
			grid.WriteByte(l)
		}
		grid.WriteByte('\n')
	}
	return strings.Join(legend, "\n") + "\n\n" + grid.String()
}

// colorName names the colours of the theme; tcell's own Color.Name picks
// among aliases (gray/grey) in map order, which would make goldens flaky.
func colorName(c tcell.Color) string {
	names := map[tcell.Color]string{
		tcell.ColorDefault: "default", tcell.ColorBlack: "black", tcell.ColorWhite: "white",
		tcell.ColorGray: "gray", tcell.ColorSilver: "silver", tcell.ColorRed: "red",
		tcell.ColorGreen: "green", tcell.ColorYellow: "yellow", tcell.ColorBlue: "blue",
		tcell.ColorAqua: "aqua", tcell.ColorFuchsia: "fuchsia",
	}
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("#%06x", c.Hex())
}

func attrNames(a tcell.AttrMask) string {
	var names []string
	for _, n := range []struct {
		m    tcell.AttrMask
		name string
	}{{tcell.AttrBold, "bold"}, {tcell.AttrReverse, "reverse"}, {tcell.AttrDim, "dim"}} {
		if a&n.m != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "+")
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("screen differs from %s (go test ./ui -update rewrites it):\n%s", path, diff(string(want), got))
	}
}

// diff lists the lines that differ, enough to see what moved.
func diff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d\n  want %q\n  got  %q\n", i+1, w, g)
		}
	}
	return b.String()
}

// thresholds as a scenario's "ttft p95 < 600ms" would give them.
var testThresholds = map[string]chart.Threshold{
	SeriesTTFTP95:   {Warn: 400, Fail: 600},
	SeriesErrorRate: {Warn: 1, Fail: 5},
}

// playFrames publishes the test run's frames, one per refresh tick.
func playFrames(h *harness, frames []*Frame) {
	for _, f := range frames {
		h.d.Publish(f)
		h.tick()
	}
}

func TestGoldenScreens(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	frames := testFrames(90)
	for _, tc := range []struct {
		name string
		w, h int
		opt  Options
	}{
		{"dashboard_80x24", 80, 24, Options{Thresholds: testThresholds}},
		{"dashboard_160x48", 160, 48, Options{Thresholds: testThresholds}},
		{"spark_80x24", 80, 24, Options{PlotRows: 1, Thresholds: testThresholds}},
		{"spark_width20_100x30", 100, 30, Options{PlotRows: 1, SparkWidth: 20}},
		{"height6_y4_120x40", 120, 40, Options{PlotHeight: 6, YWidth: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(t, tc.w, tc.h, tc.opt)
				playFrames(h, frames)
				golden(t, tc.name+".golden", h.text())
				golden(t, tc.name+".style.golden", screenStyles(h.scr))
				h.finish()
			})
		})
	}
}

func TestWaitingForFirstFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 80, 24, Options{})
		if !strings.Contains(h.text(), "waiting for the first sample") {
			t.Errorf("no waiting message before the first frame:\n%s", h.text())
		}
		h.finish()
	})
}

func TestResize(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	frames := testFrames(90)
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 160, 48, Options{Thresholds: testThresholds})
		playFrames(h, frames)
		// Shrinking redraws the layout for 80x24 at once, cell for cell
		// what a dashboard started at 80x24 shows.
		h.resize(80, 24)
		golden(t, "dashboard_80x24.golden", h.text())
		golden(t, "dashboard_80x24.style.golden", screenStyles(h.scr))

		h.resize(79, 24)
		golden(t, "too_small_79x24.golden", h.text())
		h.resize(40, 10)
		golden(t, "too_small_40x10.golden", h.text())
		h.resize(80, 23)
		if !strings.Contains(h.text(), "terminal too small: 80x23") {
			t.Errorf("80x23 is below the minimum height:\n%s", h.text())
		}
		// Tiny terminals get what fits of the message, never a panic.
		for _, sz := range [][2]int{{1, 1}, {10, 2}, {0, 0}} {
			h.resize(sz[0], sz[1])
		}
		h.resize(80, 24)
		golden(t, "dashboard_80x24.golden", h.text())
		h.finish()
	})
}

func TestNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	frames := testFrames(72) // ends inside the TTFT spike
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 80, 24, Options{Thresholds: testThresholds})
		playFrames(h, frames)
		golden(t, "nocolor_80x24.style.golden", screenStyles(h.scr))
		cells, _, _ := contents(h.scr)
		for i, c := range cells {
			if fg, bg, _ := c.Style.Decompose(); fg != tcell.ColorDefault || bg != tcell.ColorDefault {
				t.Fatalf("cell %d has colours %v/%v with NO_COLOR set", i, fg, bg)
			}
		}
		// Without colour the threshold breach still shows: the TTFT p95
		// spike (2*142+260 = 544 > warn 400) is marked with '!'.
		if !strings.Contains(h.text(), "p95      544!") {
			t.Errorf("no warn mark for TTFT p95:\n%s", h.text())
		}
		h.finish()
	})
	// Options.NoColor alone has the same effect.
	t.Setenv("NO_COLOR", "")
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 80, 24, Options{NoColor: true})
		playFrames(h, frames[:5])
		cells, _, _ := contents(h.scr)
		for i, c := range cells {
			if fg, bg, _ := c.Style.Decompose(); fg != tcell.ColorDefault || bg != tcell.ColorDefault {
				t.Fatalf("cell %d has colours %v/%v with Options.NoColor", i, fg, bg)
			}
		}
		h.finish()
	})
}

func TestPause(t *testing.T) {
	frames := testFrames(30)
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 80, 24, Options{})
		playFrames(h, frames[:10])
		h.key(tcell.KeyRune, 'p')
		// Shown at once, before the engine's next frame says so.
		if row := strings.Split(h.text(), "\n")[0]; !strings.HasSuffix(row, " PAUSED 0s") {
			t.Errorf("header row after p = %q", row)
		}
		// The engine's frames carry the authoritative pause length.
		for i, f := range frames[10:15] {
			g := *f
			g.Paused, g.PausedFor = true, time.Duration(i+1)*time.Second
			h.d.Publish(&g)
			h.tick()
		}
		golden(t, "paused_80x24.golden", h.text())
		h.key(tcell.KeyRune, 'p')
		h.tick()
		if strings.Contains(h.text(), "PAUSED") {
			t.Errorf("still PAUSED after the second p")
		}
		h.mu.Lock()
		if got := fmt.Sprint(h.pauses); got != "[true false]" {
			t.Errorf("Pause callbacks = %s, want [true false]", got)
		}
		h.mu.Unlock()
		h.finish()
	})
}

func TestHelpOverlay(t *testing.T) {
	frames := testFrames(20)
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 80, 24, Options{})
		playFrames(h, frames)
		before := h.text()
		h.key(tcell.KeyRune, '?')
		golden(t, "help_80x24.golden", h.text())
		// It stays up across refreshes, and ? or Esc closes it.
		h.tick()
		if !strings.Contains(h.text(), "pause / resume arrivals") {
			t.Errorf("help vanished on refresh")
		}
		h.key(tcell.KeyRune, '?')
		if got := h.text(); got != before {
			t.Errorf("screen after closing help differs:\n%s", diff(before, got))
		}
		h.key(tcell.KeyRune, '?')
		h.key(tcell.KeyEscape, 0)
		if strings.Contains(h.text(), "pause / resume arrivals") {
			t.Errorf("Esc did not close the help")
		}
		h.finish()
	})
}

func TestQuitKeys(t *testing.T) {
	frames := testFrames(5)
	t.Run("q then Ctrl-C", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := start(t, 80, 24, Options{})
			playFrames(h, frames)
			h.key(tcell.KeyRune, 'q')
			h.key(tcell.KeyRune, 'q') // a second q is still a graceful stop
			h.mu.Lock()
			if h.stops != 1 || h.aborts != 0 {
				t.Errorf("after q q: stops=%d aborts=%d, want 1 0", h.stops, h.aborts)
			}
			h.mu.Unlock()
			// The dashboard keeps drawing the drain.
			h.tick()
			if !strings.Contains(h.text(), "STOPPING") {
				t.Errorf("no STOPPING state:\n%s", h.text())
			}
			select {
			case err := <-h.done:
				t.Fatalf("Run returned %v on a graceful stop", err)
			default:
			}
			// p no longer resumes or pauses a stopped run.
			h.key(tcell.KeyRune, 'p')
			h.key(tcell.KeyCtrlC, 0)
			if err := <-h.done; err != nil {
				t.Errorf("Run after abort returned %v", err)
			}
			h.mu.Lock()
			if h.stops != 1 || h.aborts != 1 || len(h.pauses) != 0 {
				t.Errorf("stops=%d aborts=%d pauses=%v, want 1 1 []", h.stops, h.aborts, h.pauses)
			}
			h.mu.Unlock()
			h.scr.Fini()
		})
	})
	t.Run("Ctrl-C twice", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := start(t, 80, 24, Options{})
			h.key(tcell.KeyCtrlC, 0)
			h.mu.Lock()
			if h.stops != 1 || h.aborts != 0 {
				t.Errorf("after one Ctrl-C: stops=%d aborts=%d", h.stops, h.aborts)
			}
			h.mu.Unlock()
			h.key(tcell.KeyCtrlC, 0)
			if err := <-h.done; err != nil {
				t.Errorf("Run returned %v", err)
			}
			if h.aborts != 1 {
				t.Errorf("aborts = %d, want 1", h.aborts)
			}
			h.scr.Fini()
		})
	})
	t.Run("nil callbacks", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			scr := tcell.NewSimulationScreen("UTF-8")
			if err := scr.Init(); err != nil {
				t.Fatal(err)
			}
			d := New(scr, Options{}, Callbacks{})
			done := make(chan error, 1)
			go func() { done <- d.Run(context.Background()) }()
			for _, r := range "pq" {
				scr.InjectKey(tcell.KeyRune, r, tcell.ModNone)
			}
			scr.InjectKey(tcell.KeyCtrlC, 0, tcell.ModNone)
			if err := <-done; err != nil {
				t.Errorf("Run returned %v", err)
			}
			if err := d.Run(context.Background()); err == nil {
				t.Errorf("a second Run did not fail")
			}
			scr.Fini()
		})
	})
}

func TestServerPanels(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	frames := serverFrames(90)
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 160, 48, Options{Thresholds: testThresholds})
		// Before the first scrape only client panels show, laid out as
		// without a server: the first frame has no server point yet.
		h.d.Publish(frames[0])
		h.tick()
		first := h.text()
		for _, title := range []string{"Server requests", "KV cache %", "GPU power W", "TTFT mean ms"} {
			if strings.Contains(first, title) {
				t.Errorf("%q shown before any server sample:\n%s", title, first)
			}
		}
		playFrames(h, frames[1:])
		golden(t, "server_160x48.golden", h.text())
		golden(t, "server_160x48.style.golden", screenStyles(h.scr))
		h.finish()
	})
}

func TestPages(t *testing.T) {
	frames := serverFrames(40)
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 80, 24, Options{})
		playFrames(h, frames)
		if !strings.Contains(h.text(), "tab page 1/2") {
			t.Fatalf("no page indicator:\n%s", h.text())
		}
		first := h.text()
		golden(t, "server_page1_80x24.golden", first)
		h.key(tcell.KeyTab, 0)
		golden(t, "page2_80x24.golden", h.text())
		h.key(tcell.KeyTab, 0) // wraps around
		if got := h.text(); got != first {
			t.Errorf("tab from the last page does not return to the first:\n%s", diff(first, got))
		}
		h.key(tcell.KeyBacktab, 0)
		if !strings.Contains(h.text(), "tab page 2/2") {
			t.Errorf("shift-tab from page 1 does not go to page 2")
		}
		// Growing the terminal fits everything on one page again.
		h.resize(160, 48)
		if strings.Contains(h.text(), "tab page") {
			t.Errorf("still paged at 160x48")
		}
		h.finish()
	})
}

// twoScenarios are the frames of a run of two scenarios: "code" with
// server metrics, "conv" a third as far, without them, and its own
// TTFT threshold.
func twoScenarios() (code, conv []*Frame, opt Options) {
	for _, f := range serverFrames(60) {
		g := *f
		g.Scenario = "code"
		code = append(code, &g)
	}
	for _, f := range testFrames(20) {
		g := *f
		g.Scenario, g.Total = "conv", 3000
		conv = append(conv, &g)
	}
	opt = Options{Scenarios: []Scenario{
		{Name: "code"},
		{Name: "conv", Note: "server panels: whole server", Thresholds: map[string]chart.Threshold{SeriesTTFTP95: {Warn: 200, Fail: 300}}},
	}}
	return code, conv, opt
}

func TestScenarios(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	code, conv, opt := twoScenarios()
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 120, 40, opt)
		// Tabs name every scenario before any frame.
		if row := strings.Split(h.text(), "\n")[2]; row != " 1 code –   2 conv –" {
			t.Errorf("tab row before frames = %q", row)
		}
		for i := range code {
			h.d.PublishScenario(0, code[i])
			if i < len(conv) {
				h.d.PublishScenario(1, conv[i])
			}
			h.tick()
		}
		h.d.PublishScenario(2, conv[0])  // out of range: ignored
		h.d.PublishScenario(-1, conv[0]) // ditto
		header := func() string { return strings.Split(h.text(), "\n")[0] }
		if !strings.HasPrefix(header(), "llmload  code (1/2)  http://") {
			t.Errorf("header = %q", header())
		}
		h.key(tcell.KeyRune, '2')
		golden(t, "scenario2_120x40.golden", h.text())
		golden(t, "scenario2_120x40.style.golden", screenStyles(h.scr))
		if strings.Contains(h.text(), "GPU power W") {
			t.Errorf("conv has no server metrics, yet its view shows GPU power")
		}
		for _, k := range []struct {
			key  tcell.Key
			r    rune
			want string
		}{
			{tcell.KeyRune, '3', "conv (2/2)"}, // no third scenario: stays
			{tcell.KeyRight, 0, "code (1/2)"},  // wraps around
			{tcell.KeyRight, 0, "conv (2/2)"},
			{tcell.KeyLeft, 0, "code (1/2)"},
			{tcell.KeyLeft, 0, "conv (2/2)"}, // wraps around
			{tcell.KeyRune, '1', "code (1/2)"},
		} {
			h.key(k.key, k.r)
			if !strings.HasPrefix(header(), "llmload  "+k.want) {
				t.Errorf("after key %v %q: header %q, want %s", k.key, k.r, header(), k.want)
			}
		}
		// Each scenario has its own layout: code's has the server panels.
		if !strings.Contains(h.text(), "GPU power W") || !strings.Contains(h.text(), "←→ scenario 1/2") {
			t.Errorf("code's view:\n%s", h.text())
		}
		h.key(tcell.KeyRune, '?')
		if !strings.Contains(h.text(), "show scenario N / previous / next") {
			t.Errorf("help lacks the scenario keys:\n%s", h.text())
		}
		h.finish()
	})
}

func TestScenarioTabsScroll(t *testing.T) {
	var opt Options
	for i := range 12 {
		opt.Scenarios = append(opt.Scenarios, Scenario{Name: fmt.Sprintf("scenario-%02d", i+1)})
	}
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 80, 24, opt)
		tabs := func() string { return strings.Split(h.text(), "\n")[2] }
		if got := tabs(); !strings.HasPrefix(got, " 1 scenario-01 –") {
			t.Errorf("tabs = %q", got)
		}
		for range 11 {
			h.key(tcell.KeyRight, 0)
		}
		// The twelfth has no digit key; the row scrolls to show it.
		if got := tabs(); !strings.HasPrefix(got, "…") || !strings.HasSuffix(got, " · scenario-12 –") {
			t.Errorf("tabs at the twelfth = %q", got)
		}
		if !strings.Contains(h.text(), "scenario-12 (12/12)") {
			t.Errorf("header does not name the twelfth:\n%s", h.text())
		}
		h.finish()
	})
}

func TestLatestFrameWins(t *testing.T) {
	frames := testFrames(12)
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 80, 24, Options{Refresh: 250 * time.Millisecond})
		h.d.Publish(frames[0])
		h.tick()
		// Three frames within one refresh: only the last is drawn.
		for _, f := range frames[5:8] {
			h.d.Publish(f)
		}
		h.tick()
		if !strings.Contains(h.text(), "elapsed       8s") {
			t.Errorf("not the latest frame:\n%s", strings.Split(h.text(), "\n")[1])
		}
		// Between ticks a new frame does not cause a redraw: the terminal
		// is written at the refresh rate, never at the producer's.
		h.d.Publish(frames[11])
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if !strings.Contains(h.text(), "elapsed       8s") {
			t.Errorf("redrawn between ticks")
		}
		h.tick()
		if !strings.Contains(h.text(), "elapsed      12s") {
			t.Errorf("frame not drawn at the next tick")
		}
		h.finish()
	})
}

func TestPublishFromManyGoroutines(t *testing.T) {
	// Run with -race: producers publish while the dashboard draws.
	frames := testFrames(60)
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 120, 40, Options{Refresh: 25 * time.Millisecond})
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := g; i < len(frames); i += 4 {
					h.d.Publish(frames[i])
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		h.d.Publish(frames[len(frames)-1])
		h.tick()
		if !strings.Contains(h.text(), "elapsed    1m00s") {
			t.Errorf("last frame not shown:\n%s", strings.Split(h.text(), "\n")[1])
		}
		h.finish()
	})
}

func TestRunEndsWhenScreenCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		scr := tcell.NewSimulationScreen("UTF-8")
		if err := scr.Init(); err != nil {
			t.Fatal(err)
		}
		d := New(scr, Options{}, Callbacks{})
		done := make(chan error, 1)
		go func() { done <- d.Run(context.Background()) }()
		synctest.Wait()
		scr.Fini()
		if err := <-done; err == nil {
			t.Errorf("Run returned nil after the screen was finalised")
		}
	})
}

func BenchmarkDraw(b *testing.B) {
	for _, sz := range [][2]int{{160, 48}, {80, 24}} {
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) {
			scr := tcell.NewSimulationScreen("UTF-8")
			if err := scr.Init(); err != nil {
				b.Fatal(err)
			}
			defer scr.Fini()
			scr.SetSize(sz[0], sz[1])
			d := New(scr, Options{Thresholds: testThresholds}, Callbacks{})
			frames := serverFrames(90) // every panel: the most to draw
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				// Alternate frames so every redraw changes cells, as a
				// live run does.
				d.Publish(frames[60+i%30])
				d.draw()
			}
		})
	}
}

// saturatedFrames are testFrames of a server that cannot keep up: the
// client queue time p95 climbs 500 ms a second, to 30.8 s at 61 s and
// 45 s at the end (Compact printed those as "30.8k" and "45.0k").
func saturatedFrames(n int) []*Frame {
	frames := testFrames(n)
	var queue []Point
	for _, f := range frames {
		queue = append(queue, Point{T: f.Elapsed, V: float64(f.Elapsed/time.Second) * 500})
		g := *f
		g.Series = maps.Clone(f.Series)
		g.Series[SeriesQueueP95] = append([]Point(nil), queue...)
		*f = g
	}
	return frames
}

// After q the screen says how many queued requests will never be sent and
// how many in flight are draining, then that they all ended; latencies of
// tens of seconds print in seconds.
func TestStoppingScreen(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	frames := saturatedFrames(90)
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 80, 24, Options{Thresholds: testThresholds})
		playFrames(h, frames[:61])
		if !strings.Contains(h.text(), "queue  30.5s") {
			t.Errorf("queue time p95 of 30.5 s not in seconds:\n%s", h.text())
		}
		h.key(tcell.KeyRune, 'q')
		for i, f := range frames[61:] {
			g := *f
			g.Stopping, g.Unsent, g.InFlight = true, 1234, 44-i/2
			g.ETA = 0 // the frame builder has no time left to give during a drain
			h.d.Publish(&g)
			h.tick()
		}
		golden(t, "stopping_80x24.golden", h.text())
		last := *frames[len(frames)-1]
		last.Stopping, last.Unsent, last.Status = true, 1234, "finished"
		h.d.Publish(&last)
		h.tick()
		footer := strings.Split(strings.TrimRight(h.text(), "\n"), "\n")[23]
		if !strings.HasPrefix(footer, "stopped: 1234 queued not sent, all requests ended  ? help") {
			t.Errorf("footer at the end of a stopped run = %q", footer)
		}
		h.finish()
	})
	// A stop that did not come from the keys (a script's, a signal's) shows
	// the same once the engine's frame says so.
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 80, 24, Options{})
		g := *frames[10]
		g.Stopping, g.Unsent, g.InFlight = true, 7, 3
		h.d.Publish(&g)
		h.tick()
		lines := strings.Split(strings.TrimRight(h.text(), "\n"), "\n")
		if !strings.HasSuffix(lines[0], " STOPPING ^C: abort") || !strings.HasPrefix(lines[23], "stopping: 7 queued not sent, 3 in flight draining  Ctrl-C abort") {
			t.Errorf("header %q footer %q", lines[0], lines[23])
		}
		h.finish()
	})
}

// A stats panel of a millisecond series prints seconds past ten of them.
func TestStatsMillis(t *testing.T) {
	opt := Options{Panels: []Panel{{Kind: KindStats, Title: "Delays", Series: []SeriesSpec{
		{ID: "queue", Label: "queue", Unit: UnitMillis}, {ID: "lag", Label: "lag", Unit: UnitMillis}, {ID: "n", Label: "n"}}}}}
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 80, 24, opt)
		h.d.Publish(&Frame{Elapsed: time.Second, Counters: map[string]float64{"queue": 30800, "lag": 12, "n": 30800}})
		h.tick()
		for _, want := range []string{"queue         30.8s", "lag              12", "n             30.8k"} {
			if !strings.Contains(h.text(), want) {
				t.Errorf("no %q:\n%s", want, h.text())
			}
		}
		h.finish()
	})
}

// A capacity search's frames carry its step: a row of its own under the
// progress bar (the panels move down one row), with the running verdict
// coloured like a threshold level; frames without it keep the row for the
// panels.
func TestSearchRow(t *testing.T) {
	frames := testFrames(40)
	last := *frames[len(frames)-1]
	last.Search = &SearchStep{
		Step: 5, Level: "24 users", Phase: "bisecting", Bracket: "16 .. 32 users",
		Part: "measuring", StepFor: 8 * time.Second, Finished: 212, Good: 199, Target: 0.99,
		Last: "fail", LastLevel: "32 users",
	}
	synctest.Test(t, func(t *testing.T) {
		h := start(t, 120, 30, Options{})
		h.d.Publish(&last)
		h.tick()
		golden(t, "search_120x30.golden", h.text())
		row := strings.Split(h.text(), "\n")[2]
		for _, want := range []string{"search step 5 24 users", "measuring 8s", "failing 93.9% good of 212 (≥99%)", "bisecting 16 .. 32 users", "last 32 users fail"} {
			if !strings.Contains(row, want) {
				t.Errorf("search row %q has no %q", row, want)
			}
		}
		cells, w, _ := contents(h.scr)
		at := strings.Index(row, "failing")
		if fg, _, _ := cells[2*w+len([]rune(row[:at]))].Style.Decompose(); fg != tcell.ColorRed {
			t.Errorf("failing is drawn in %v, want red", fg)
		}
		// Passing, then the search over.
		next := last
		s := *last.Search
		s.Good, next.Search = 211, &s
		h.d.Publish(&next)
		h.tick()
		if row := strings.Split(h.text(), "\n")[2]; !strings.Contains(row, "passing") {
			t.Errorf("row %q: want passing", row)
		}
		s2 := SearchStep{Step: 8, Level: "24 users", Phase: "done", Bracket: "24 .. 25 users", Last: "pass", LastLevel: "24 users"}
		next.Search = &s2
		h.d.Publish(&next)
		h.tick()
		if row := strings.Split(h.text(), "\n")[2]; !strings.Contains(row, "search step 8 24 users  search over  done 24 .. 25 users  last 24 users pass") {
			t.Errorf("row %q: want the search over", row)
		}
		// Without a search the row goes back to the panels.
		h.d.Publish(frames[len(frames)-1])
		h.tick()
		if row := strings.Split(h.text(), "\n")[2]; strings.Contains(row, "search") {
			t.Errorf("row 2 of a run without a search: %q", row)
		}
		h.finish()
	})
}
