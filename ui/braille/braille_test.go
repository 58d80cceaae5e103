package braille

import (
	"math"
	"strings"
	"testing"
)

// render returns the canvas as text, one line per cell row, with ' ' for
// empty cells so expectations are readable.
func render(c *Canvas) string {
	var b strings.Builder
	cols, rows := c.Size()
	for row := range rows {
		for col := range cols {
			r, _, ok := c.Cell(col, row)
			if !ok {
				r = ' '
			}
			b.WriteRune(r)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestDotMapping(t *testing.T) {
	// Unicode numbers the dots 1-2-3-7 down the left column and 4-5-6-8
	// down the right one; dot n is bit n-1 of the offset from U+2800.
	want := map[[2]int]rune{
		{0, 0}: '⠁', {0, 1}: '⠂', {0, 2}: '⠄', {0, 3}: '⡀',
		{1, 0}: '⠈', {1, 1}: '⠐', {1, 2}: '⠠', {1, 3}: '⢀',
	}
	for pos, r := range want {
		c := New(1, 1)
		c.Set(pos[0], pos[1], 0)
		got, _, ok := c.Cell(0, 0)
		if !ok || got != r {
			t.Errorf("dot %v: got %q ok=%v, want %q", pos, got, ok, r)
		}
		if !c.Get(pos[0], pos[1]) {
			t.Errorf("Get%v = false after Set", pos)
		}
	}
	c := New(1, 1)
	for x := range 2 {
		for y := range 4 {
			c.Set(x, y, 0)
		}
	}
	if r, _, _ := c.Cell(0, 0); r != '⣿' {
		t.Errorf("all dots: got %q, want ⣿", r)
	}
}

func TestCellAddressing(t *testing.T) {
	c := New(3, 2)
	if w, h := c.DotSize(); w != 6 || h != 8 {
		t.Fatalf("DotSize = %d,%d, want 6,8", w, h)
	}
	c.Set(5, 7, 9) // bottom-right dot of the bottom-right cell
	c.Set(2, 4, 1) // top-left dot of the middle cell of the second row
	got := render(c)
	want := "   \n ⠁⢀\n"
	if got != want {
		t.Errorf("got\n%s want\n%s", got, want)
	}
	if _, pen, _ := c.Cell(2, 1); pen != 9 {
		t.Errorf("pen = %d, want 9", pen)
	}
}

func TestClipping(t *testing.T) {
	c := New(2, 1)
	for _, p := range [][2]int{{-1, 0}, {0, -1}, {4, 0}, {0, 4}, {math.MinInt, math.MaxInt}} {
		c.Set(p[0], p[1], 1)
		if c.Get(p[0], p[1]) {
			t.Errorf("Get%v outside the canvas is true", p)
		}
	}
	if got := render(c); got != "  \n" {
		t.Errorf("dots outside the canvas were drawn: %q", got)
	}
	if r, pen, ok := c.Cell(5, 0); r != Blank || pen != 0 || ok {
		t.Errorf("Cell outside = %q,%d,%v", r, pen, ok)
	}
	// A line from far outside to far outside crossing the canvas draws
	// exactly the part inside it.
	c.Line(-1_000_000, 2, 1_000_000, 2, 3)
	if got := render(c); got != "⠤⠤\n" {
		t.Errorf("clipped horizontal line: %q", got)
	}
	// Extreme coordinates neither overflow nor draw anything off-line.
	c.Clear()
	c.Line(math.MinInt, math.MinInt, math.MaxInt, math.MaxInt, 1)
	c.Line(math.MaxInt, 0, math.MaxInt, 3, 1)
	if got := render(c); got != "⠑⢄\n" {
		t.Errorf("diagonal from MinInt to MaxInt: %q", got)
	}
}

func TestLines(t *testing.T) {
	for _, tc := range []struct {
		name           string
		x0, y0, x1, y1 int
		want           string
	}{
		{"horizontal", 0, 0, 5, 0, "⠉⠉⠉\n   \n"},
		{"vertical", 1, 0, 1, 7, "⢸  \n⢸  \n"},
		{"diagonal", 0, 0, 5, 5, "⠑⢄ \n  ⠑\n"},
		{"single dot", 3, 6, 3, 6, "   \n ⠠ \n"},
		{"shallow", 0, 7, 5, 4, "   \n⡠⠔⠊\n"},
		{"steep", 0, 0, 1, 7, "⡇  \n⢸  \n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(3, 2)
			c.Line(tc.x0, tc.y0, tc.x1, tc.y1, 1)
			if got := render(c); got != tc.want {
				t.Errorf("got\n%s want\n%s", got, tc.want)
			}
			// Drawing it the other way round gives the same dots.
			r := New(3, 2)
			r.Line(tc.x1, tc.y1, tc.x0, tc.y0, 1)
			if got, back := render(c), render(r); got != back {
				t.Errorf("reversed line differs:\n%s vs\n%s", got, back)
			}
		})
	}
}

func TestPenLastWriterWins(t *testing.T) {
	c := New(1, 1)
	c.Line(0, 0, 1, 0, 2)
	c.Line(0, 3, 1, 3, 5)
	r, pen, _ := c.Cell(0, 0)
	if r != '⣉' || pen != 5 {
		t.Errorf("got %q pen %d, want ⣉ pen 5", r, pen)
	}
}

func TestResizeClears(t *testing.T) {
	c := New(4, 4)
	c.Line(0, 0, 7, 15, 1)
	c.Resize(2, 1)
	if got := render(c); got != "  \n" {
		t.Errorf("resize kept dots: %q", got)
	}
	c.Resize(-3, 2)
	if cols, rows := c.Size(); cols != 0 || rows != 2 {
		t.Errorf("negative size = %d,%d", cols, rows)
	}
	c.Line(0, 0, 10, 10, 1) // on an empty canvas: nothing, and no panic
}

// naiveLine is the reference: walk the whole major axis with floating
// point and keep what falls inside.
func naiveLine(c *Canvas, x0, y0, x1, y1 int) {
	dx, dy := x1-x0, y1-y0
	if dx == 0 && dy == 0 {
		c.Set(x0, y0, 1)
		return
	}
	if abs(int64(dx)) >= abs(int64(dy)) {
		if dx < 0 {
			x0, y0, x1, y1, dx, dy = x1, y1, x0, y0, -dx, -dy
		}
		for x := x0; x <= x1; x++ {
			c.Set(x, y0+int(math.Round(float64(x-x0)*float64(dy)/float64(dx))), 1)
		}
		return
	}
	if dy < 0 {
		x0, y0, x1, y1, dx, dy = x1, y1, x0, y0, -dx, -dy
	}
	for y := y0; y <= y1; y++ {
		c.Set(x0+int(math.Round(float64(y-y0)*float64(dx)/float64(dy))), y, 1)
	}
}

func FuzzLineMatchesNaive(f *testing.F) {
	f.Add(int16(-50), int16(3), int16(70), int16(9))
	f.Add(int16(0), int16(0), int16(0), int16(0))
	f.Add(int16(5), int16(-100), int16(6), int16(100))
	f.Add(int16(19), int16(11), int16(-3), int16(-2))
	f.Fuzz(func(t *testing.T, x0, y0, x1, y1 int16) {
		got, want := New(10, 3), New(10, 3)
		got.Line(int(x0), int(y0), int(x1), int(y1), 1)
		naiveLine(want, int(x0), int(y0), int(x1), int(y1))
		if g, w := render(got), render(want); g != w {
			t.Fatalf("Line(%d,%d,%d,%d):\n%s want\n%s", x0, y0, x1, y1, g, w)
		}
	})
}

func BenchmarkLine(b *testing.B) {
	c := New(60, 10)
	for i := 0; b.Loop(); i++ {
		c.Line(-10, i%40, 130, 39-i%40, 1)
	}
}
