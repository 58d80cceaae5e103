package chart

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
)

// grid is a Surface that fails the test on any write outside its bounds
// or outside the rectangle the widget was given.
type grid struct {
	t          *testing.T
	w, h       int
	cells      [][]rune
	styles     [][]tcell.Style
	rx, ry     int // the allowed rectangle
	rw, rh     int
	outOfRange int
}

func newGrid(t *testing.T, w, h int) *grid {
	g := &grid{t: t, w: w, h: h, rw: w, rh: h}
	g.cells = make([][]rune, h)
	g.styles = make([][]tcell.Style, h)
	for y := range h {
		g.cells[y] = []rune(strings.Repeat("·", w))
		g.styles[y] = make([]tcell.Style, w)
	}
	return g
}

func (g *grid) allow(x, y, w, h int) { g.rx, g.ry, g.rw, g.rh = x, y, w, h }

func (g *grid) SetContent(x, y int, r rune, _ []rune, st tcell.Style) {
	if x < g.rx || y < g.ry || x >= g.rx+g.rw || y >= g.ry+g.rh || x >= g.w || y >= g.h {
		g.outOfRange++
		return
	}
	g.cells[y][x] = r
	g.styles[y][x] = st
}

func (g *grid) row(y int) string { return string(g.cells[y]) }

func (g *grid) String() string {
	var b strings.Builder
	for y := range g.h {
		b.WriteString(strings.TrimRight(g.row(y), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// ramp returns points every second from 0 to n-1 seconds with f(i).
func ramp(n int, f func(i int) float64) []Point {
	pts := make([]Point, n)
	for i := range pts {
		pts[i] = Point{T: time.Duration(i) * time.Second, V: f(i)}
	}
	return pts
}

var (
	red    = tcell.StyleDefault.Foreground(tcell.ColorRed)
	yellow = tcell.StyleDefault.Foreground(tcell.ColorYellow)
	green  = tcell.StyleDefault.Foreground(tcell.ColorGreen)
	cyan   = tcell.StyleDefault.Foreground(tcell.ColorAqua)
	pink   = tcell.StyleDefault.Foreground(tcell.ColorFuchsia)
	styles = Styles{Levels: [4]tcell.Style{LevelOK: green, LevelWarn: yellow, LevelFail: red}}
)

func TestDrawLayout(t *testing.T) {
	c := &Chart{
		Title:  "RPS",
		Series: []Series{{Label: "rps", Points: ramp(61, func(i int) float64 { return float64(i) })}},
		End:    60 * time.Second, Window: 60 * time.Second, YWidth: 5,
		Styles: styles,
	}
	g := newGrid(t, 30, 4)
	c.Draw(g, 0, 0, 30, 4)
	// A straight ramp from 0 to 60 on a 0..60 axis: 3 rows of 13 plot
	// cells (26 x 12 dots), the value column at the right.
	want := strings.Join([]string{
		"RPS                 rps    60",
		"   60┤        ⢀⣀⠤⠒⠋",
		"   30┤    ⣀⡤⠔⠚⠉",
		"    0┤⣠⠤⠒⠉⠁",
		"",
	}, "\n")
	if got := g.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestAxisLabelsFixedWidth(t *testing.T) {
	// Whatever the magnitude of the data, the axis sits in the same column
	// and every label is right-aligned against it.
	for _, peak := range []float64{0.5, 7, 950, 12345, 3.2e9} {
		c := &Chart{
			Title:  "x",
			Series: []Series{{Label: "v", Points: ramp(10, func(i int) float64 { return peak * float64(i) / 9 })}},
			End:    10 * time.Second, Window: 10 * time.Second, YWidth: 6,
		}
		g := newGrid(t, 40, 6)
		c.Draw(g, 0, 0, 40, 6)
		for y := 1; y < 6; y++ {
			row := []rune(g.row(y))
			if row[6] != '┤' && row[6] != '│' {
				t.Errorf("peak %v row %d: axis not in column 6: %q", peak, y, g.row(y))
			}
			label := strings.TrimLeft(string(row[:6]), " ")
			if label != "" && !strings.HasSuffix(string(row[:6]), label) {
				t.Errorf("peak %v row %d: label %q not right-aligned", peak, y, label)
			}
		}
		// Top label is a round number at or above the peak.
		top := strings.TrimSpace(string([]rune(g.row(1))[:6]))
		if top == "" || strings.Contains(top, "#") {
			t.Errorf("peak %v: top label %q", peak, top)
		}
	}
}

func TestScaleFromZero(t *testing.T) {
	flat := ramp(10, func(i int) float64 { return 50 + float64(i%2) })
	c := &Chart{Series: []Series{{Points: flat}}, End: 9 * time.Second, Window: 9 * time.Second}
	lo, hi, ok := c.scale(0)
	if !ok || lo != 0 || hi != 60 {
		t.Errorf("from zero: scale = %v..%v ok=%v, want 0..60", lo, hi, ok)
	}
	c.AutoMin = true
	if lo, hi, _ := c.scale(0); lo != 50 || hi != 51 {
		t.Errorf("AutoMin: scale = %v..%v, want 50..51", lo, hi)
	}
	neg := &Chart{Series: []Series{{Points: ramp(3, func(i int) float64 { return float64(i) - 3 })}}, End: 2 * time.Second}
	if lo, hi, _ := neg.scale(0); lo != -3 || hi != 3 {
		t.Errorf("negative data: scale = %v..%v, want -3..3", lo, hi)
	}
	empty := &Chart{End: time.Minute}
	if lo, hi, ok := empty.scale(0); ok || lo != 0 || hi != 1 {
		t.Errorf("no data: scale = %v..%v ok=%v", lo, hi, ok)
	}
	// Points outside the window do not stretch the axis.
	old := &Chart{Series: []Series{{Points: []Point{{0, 1000}, {50 * time.Second, 5}, {60 * time.Second, 8}}}},
		End: 60 * time.Second, Window: 30 * time.Second}
	if _, hi, _ := old.scale(30 * time.Second); hi != 8 {
		t.Errorf("old spike scaled the axis: hi = %v", hi)
	}
}

func TestValueColumn(t *testing.T) {
	th := &Threshold{Warn: 100, Fail: 200}
	c := &Chart{
		Title: "TTFT ms",
		Series: []Series{
			{Label: "p50", Points: ramp(5, func(int) float64 { return 40 }), Style: cyan},
			{Label: "p95", Points: ramp(5, func(i int) float64 { return 90 + 10*float64(i) }), Threshold: th},
			{Label: "p99", Points: ramp(5, func(i int) float64 { return 150 + 20*float64(i) }), Threshold: th},
			{Label: "max"},
		},
		End: 4 * time.Second, Window: 4 * time.Second, YWidth: 4, Styles: styles,
	}
	g := newGrid(t, 40, 5)
	c.Draw(g, 0, 0, 40, 5)
	vx := 40 - ValueWidth(3)
	for i, want := range []string{"p50    40 ", "p95   130!", "p99   230✗", "max     – "} {
		if got := string(g.cells[i][vx:]); got != want {
			t.Errorf("value row %d = %q, want %q", i, got, want)
		}
	}
	for i, want := range []tcell.Style{cyan, yellow, red} {
		if got := g.styles[i][vx]; got != want {
			t.Errorf("value row %d style = %v, want %v", i, got, want)
		}
	}
	// The same chart with bigger numbers keeps every column in place.
	big := *c
	big.Series = []Series{{Label: "p50", Points: ramp(5, func(int) float64 { return 123456 })}}
	g2 := newGrid(t, 40, 5)
	big.Draw(g2, 0, 0, 40, 5)
	if got := string(g2.cells[0][vx:]); got != "p50  123k " {
		t.Errorf("big value row = %q", got)
	}
	for y := 1; y < 5; y++ {
		if []rune(g.row(y))[4] != []rune(g2.row(y))[4] {
			t.Errorf("axis moved on row %d: %q vs %q", y, g.row(y), g2.row(y))
		}
	}
}

func TestThresholdLevels(t *testing.T) {
	above := &Threshold{Warn: 10, Fail: 20}
	below := &Threshold{Warn: 5, Fail: 1, Below: true}
	failOnly := &Threshold{Warn: math.NaN(), Fail: 3}
	var none *Threshold
	for _, tc := range []struct {
		th   *Threshold
		v    float64
		want Level
	}{
		{above, 9.9, LevelOK}, {above, 10, LevelWarn}, {above, 25, LevelFail},
		{below, 6, LevelOK}, {below, 5, LevelWarn}, {below, 0.5, LevelFail},
		{failOnly, 2.9, LevelOK}, {failOnly, 3, LevelFail},
		{none, 100, LevelNone}, {above, math.NaN(), LevelNone},
	} {
		if got := tc.th.Level(tc.v); got != tc.want {
			t.Errorf("%+v.Level(%v) = %v, want %v", tc.th, tc.v, got, tc.want)
		}
	}
}

func TestSegmentsColouredByLevel(t *testing.T) {
	// Flat at 10 then a jump to 100: the right end is past the fail level,
	// the left part is fine.
	pts := ramp(11, func(i int) float64 {
		if i < 8 {
			return 10
		}
		return 100
	})
	c := &Chart{
		Series: []Series{{Label: "p95", Points: pts, Threshold: &Threshold{Warn: 50, Fail: 80}}},
		End:    10 * time.Second, Window: 10 * time.Second, YWidth: 4, Styles: styles,
	}
	g := newGrid(t, 30, 5)
	c.Draw(g, 0, 0, 30, 5)
	var sawGreen, sawRed bool
	for y := 1; y < 5; y++ {
		for x := 5; x < 30-ValueWidth(3); x++ {
			if g.cells[y][x] < 0x2800 || g.cells[y][x] > 0x28ff {
				continue
			}
			switch g.styles[y][x] {
			case green:
				sawGreen = true
				if x > 5+12 {
					t.Errorf("green cell right of the jump at %d,%d", x, y)
				}
			case red:
				sawRed = true
			default:
				t.Errorf("cell %d,%d has style %v", x, y, g.styles[y][x])
			}
		}
	}
	if !sawGreen || !sawRed {
		t.Errorf("green=%v red=%v, want both\n%s", sawGreen, sawRed, g)
	}
}

func TestSeriesStylesAndOverlap(t *testing.T) {
	c := &Chart{
		Series: []Series{
			{Label: "a", Points: ramp(11, func(int) float64 { return 10 }), Style: cyan},
			{Label: "b", Points: ramp(11, func(int) float64 { return 0 }), Style: pink},
		},
		End: 10 * time.Second, Window: 10 * time.Second, YWidth: 3,
	}
	g := newGrid(t, 24, 3)
	c.Draw(g, 0, 0, 24, 3)
	if got, want := g.styles[1][5], cyan; got != want {
		t.Errorf("top line style %v, want %v", got, want)
	}
	if got, want := g.styles[2][5], pink; got != want {
		t.Errorf("bottom line style %v, want %v", got, want)
	}
}

func TestLineEntersFromLeftAndGaps(t *testing.T) {
	// One point long before the window and one at its end: the line
	// crosses the whole plot.
	c := &Chart{
		Series: []Series{{Label: "x", Points: []Point{{-time.Hour, 5}, {0, 5}, {10 * time.Second, 5}}}},
		End:    10 * time.Second, Window: 10 * time.Second, YWidth: 2,
	}
	g := newGrid(t, 20, 2)
	c.Draw(g, 0, 0, 20, 2)
	plot := []rune(g.row(1))[3 : 20-ValueWidth(1)-1]
	for i, r := range plot {
		if r < 0x2801 || r > 0x28ff {
			t.Fatalf("plot cell %d is %q, want a braille dot: %q", i, r, g.row(1))
		}
	}
	// A NaN breaks the line: no dots between the two halves.
	c.Series[0].Points = []Point{{0, 5}, {2 * time.Second, 5}, {5 * time.Second, math.NaN()}, {8 * time.Second, 5}, {10 * time.Second, 5}}
	g = newGrid(t, 20, 2)
	c.Draw(g, 0, 0, 20, 2)
	row := []rune(g.row(1))
	if mid := row[3+len(plot)/2]; mid != ' ' {
		t.Errorf("gap was joined: %q", g.row(1))
	}
}

func TestNoData(t *testing.T) {
	c := &Chart{Title: "E2E", Series: []Series{{Label: "p95"}}, End: time.Minute, YWidth: 4}
	g := newGrid(t, 30, 4)
	c.Draw(g, 0, 0, 30, 4)
	if !strings.Contains(g.String(), "no data") {
		t.Errorf("no 'no data' message:\n%s", g)
	}
	if !strings.Contains(g.row(0), "p95     –") {
		t.Errorf("missing value not shown as –: %q", g.row(0))
	}
}

func TestDrawStaysInsideItsRectangle(t *testing.T) {
	c := &Chart{
		Title:  "a title that is much longer than the space it is given",
		Series: []Series{{Label: "p50", Points: ramp(30, func(i int) float64 { return float64(i * i) })}, {Label: "p99-long-label"}},
		End:    30 * time.Second, Window: 10 * time.Second, YWidth: 6,
	}
	for w := 0; w <= 40; w++ {
		for h := 0; h <= 6; h++ {
			g := newGrid(t, 60, 12)
			g.allow(5, 3, w, h)
			c.Draw(g, 5, 3, w, h)
			if g.outOfRange != 0 {
				t.Fatalf("Draw %dx%d wrote %d cells outside its rectangle", w, h, g.outOfRange)
			}
			for y := 3; y < 3+h; y++ {
				if strings.Contains(string(g.cells[y][5:5+w]), "·") {
					t.Fatalf("Draw %dx%d left row %d unwritten: %q", w, h, y, g.row(y))
				}
			}
			g = newGrid(t, 60, 12)
			g.allow(5, 3, w, c.SparkHeight())
			c.DrawSpark(g, 5, 3, w, 10, 0)
			if g.outOfRange != 0 {
				t.Fatalf("DrawSpark width %d wrote %d cells outside its rectangle", w, g.outOfRange)
			}
			cleared := *c
			cleared.Cleared = true
			g = newGrid(t, 60, 12)
			g.allow(5, 3, w, h)
			cleared.Draw(g, 5, 3, w, h)
			if g.outOfRange != 0 {
				t.Fatalf("Cleared Draw %dx%d wrote %d cells outside its rectangle", w, h, g.outOfRange)
			}
		}
	}
}

func TestSparkline(t *testing.T) {
	pts := []Point{{0, 0}, {time.Second, 4}, {2 * time.Second, 8}, {3 * time.Second, 8}}
	c := &Chart{
		Title: "RPS", Series: []Series{{Label: "rps", Points: pts}, {Label: "half", Points: []Point{{3 * time.Second, 4}}}},
		End: 3 * time.Second, Window: 3 * time.Second, Styles: styles,
	}
	g := newGrid(t, 30, 2)
	c.DrawSpark(g, 0, 0, 30, 6, 3)
	// Three slices of one second: 0, 4, mean(8, 8); axis 0..8.
	want := "RPS   ▁▅█" + strings.Repeat(" ", 30-9-ValueWidth(4)) + "rps      8 "
	if got := g.row(0); got != want {
		t.Errorf("row 0 = %q\n     want %q", got, want)
	}
	// The second series has a single point at the end: only the last slice.
	if got := string(g.cells[1][:9]); got != "        ▅" {
		t.Errorf("row 1 = %q", g.row(1))
	}
	// Width 0 fills the room between title and values.
	g = newGrid(t, 30, 2)
	c.DrawSpark(g, 0, 0, 30, 6, 0)
	if got := string(g.cells[0][6 : 30-ValueWidth(4)-1]); strings.ContainsRune(got, '·') || len([]rune(got)) != 30-6-ValueWidth(4)-1 {
		t.Errorf("auto width sparkline = %q", got)
	}
	if c.SparkHeight() != 2 || (&Chart{}).SparkHeight() != 1 {
		t.Errorf("SparkHeight wrong")
	}
}

func BenchmarkDraw(b *testing.B) {
	series := func(f func(i int) float64) []Point { return ramp(120, f) }
	c := &Chart{
		Title: "TTFT ms",
		Series: []Series{
			{Label: "p50", Points: series(func(i int) float64 { return 100 + 20*math.Sin(float64(i)/7) })},
			{Label: "p95", Points: series(func(i int) float64 { return 300 + 50*math.Sin(float64(i)/5) }), Threshold: &Threshold{Warn: 320, Fail: 500}},
			{Label: "p99", Points: series(func(i int) float64 { return 600 + 90*math.Sin(float64(i)/3) })},
		},
		End: 120 * time.Second, Window: 60 * time.Second,
	}
	s := tcell.NewSimulationScreen("UTF-8")
	if err := s.Init(); err != nil {
		b.Fatal(err)
	}
	defer s.Fini()
	s.SetSize(60, 12)
	for b.Loop() {
		c.Draw(s, 0, 0, 60, 12)
	}
}

func TestPrintSanitizes(t *testing.T) {
	g := newGrid(t, 10, 1)
	if n := Print(g, 0, 0, 6, "a\x1b[2Jb\u0085c", tcell.StyleDefault); n != 6 {
		t.Errorf("Print wrote %d runes, want 6 (cut at the width)", n)
	}
	if got := g.row(0); got != "a?[2Jb····" {
		t.Errorf("control characters not replaced: %q", got)
	}
	g = newGrid(t, 6, 1)
	PrintRight(g, 0, 0, 6, "42", tcell.StyleDefault)
	PrintRight(g, 0, 0, 3, "toolong", tcell.StyleDefault)
	if got := g.row(0); got != "too·42" {
		t.Errorf("PrintRight: %q", got)
	}
}
