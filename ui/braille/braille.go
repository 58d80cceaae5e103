// Package braille is a dot canvas drawn with Unicode braille patterns
// (U+2800..U+28FF): every terminal cell holds a 2x4 grid of dots, so a
// chart gets twice the horizontal and four times the vertical resolution of
// plain characters.
package braille

// Blank is the empty braille pattern; a cell with no dots set renders as
// this rune only if the caller chooses to draw empty cells.
const Blank rune = 0x2800

// bits maps a dot position inside a cell, [x][y] with x in 0..1 (left,
// right) and y in 0..3 (top to bottom), to its bit in the braille code
// point. The order is Unicode's: dots 1-2-3 and 4-5-6 run down the two
// columns and dots 7 and 8 were added below them later, hence 0x40/0x80.
var bits = [2][4]uint8{
	{0x01, 0x02, 0x04, 0x40},
	{0x08, 0x10, 0x20, 0x80},
}

// Canvas is a grid of cols x rows cells, i.e. 2*cols x 4*rows dots, with
// dot (0,0) at the top left. Every cell also remembers a pen: a small
// caller-defined number (a colour index, say) of the last stroke that set
// one of its dots, since a terminal cell can show only one colour.
//
// Coordinates outside the canvas are clipped silently, so callers may draw
// lines whose ends lie far outside it.
//
// A Canvas is not safe for concurrent use.
type Canvas struct {
	cols, rows int
	dots       []uint8
	pens       []uint8
}

// New returns an empty canvas of cols x rows cells; negative sizes count
// as zero.
func New(cols, rows int) *Canvas {
	c := &Canvas{}
	c.Resize(cols, rows)
	return c
}

// Resize changes the size to cols x rows cells and clears the canvas. It
// reuses the existing storage when it is large enough, so a chart redrawn
// at a steady size allocates nothing.
func (c *Canvas) Resize(cols, rows int) {
	cols, rows = max(cols, 0), max(rows, 0)
	n := cols * rows
	if cap(c.dots) < n {
		c.dots = make([]uint8, n)
		c.pens = make([]uint8, n)
	}
	c.cols, c.rows = cols, rows
	c.dots = c.dots[:n]
	c.pens = c.pens[:n]
	c.Clear()
}

// Clear removes every dot.
func (c *Canvas) Clear() {
	clear(c.dots)
	clear(c.pens)
}

// Size returns the size in cells.
func (c *Canvas) Size() (cols, rows int) { return c.cols, c.rows }

// DotSize returns the size in dots: 2*cols x 4*rows.
func (c *Canvas) DotSize() (w, h int) { return 2 * c.cols, 4 * c.rows }

// Set sets the dot at (x, y) with the given pen; outside the canvas it
// does nothing.
func (c *Canvas) Set(x, y int, pen uint8) {
	if x < 0 || y < 0 || x >= 2*c.cols || y >= 4*c.rows {
		return
	}
	i := (y/4)*c.cols + x/2
	c.dots[i] |= bits[x&1][y&3]
	c.pens[i] = pen
}

// Get reports whether the dot at (x, y) is set; outside the canvas it is
// false.
func (c *Canvas) Get(x, y int) bool {
	if x < 0 || y < 0 || x >= 2*c.cols || y >= 4*c.rows {
		return false
	}
	return c.dots[(y/4)*c.cols+x/2]&bits[x&1][y&3] != 0
}

// Cell returns the braille rune of the cell at (col, row), the pen of the
// last stroke that touched it, and whether any of its dots is set. Outside
// the canvas it returns Blank, 0, false.
func (c *Canvas) Cell(col, row int) (r rune, pen uint8, ok bool) {
	if col < 0 || row < 0 || col >= c.cols || row >= c.rows {
		return Blank, 0, false
	}
	i := row*c.cols + col
	return Blank + rune(c.dots[i]), c.pens[i], c.dots[i] != 0
}

// limit keeps coordinates small enough that the products in Line cannot
// overflow an int64; a canvas is never anywhere near this big.
const limit = 1 << 24

func clampCoord(v int) int64 { return int64(min(max(v, -limit), limit)) }

// Line draws a straight line from (x0, y0) to (x1, y1), both ends included.
// It steps along the longer axis and rounds the other coordinate of the
// exact line, so the dots drawn are exactly those an unclipped line would
// set inside the canvas; the work is bounded by the canvas size, however
// far outside it the ends lie.
func (c *Canvas) Line(x0, y0, x1, y1 int, pen uint8) {
	w, h := int64(2*c.cols), int64(4*c.rows)
	if w == 0 || h == 0 {
		return
	}
	ax, ay, bx, by := clampCoord(x0), clampCoord(y0), clampCoord(x1), clampCoord(y1)
	dx, dy := bx-ax, by-ay
	if abs(dx) >= abs(dy) {
		if dx < 0 { // walk left to right
			ax, ay, bx, by, dx, dy = bx, by, ax, ay, -dx, -dy
		}
		if dx == 0 { // a single dot
			c.Set(int(ax), int(ay), pen)
			return
		}
		for x := max(ax, 0); x <= min(bx, w-1); x++ {
			y := ay + roundDiv((x-ax)*dy, dx)
			if y >= 0 && y < h {
				c.Set(int(x), int(y), pen)
			}
		}
		return
	}
	if dy < 0 { // walk top to bottom
		ax, ay, bx, by, dx, dy = bx, by, ax, ay, -dx, -dy
	}
	for y := max(ay, 0); y <= min(by, h-1); y++ {
		x := ax + roundDiv((y-ay)*dx, dy)
		if x >= 0 && x < w {
			c.Set(int(x), int(y), pen)
		}
	}
}

// roundDiv returns n/d rounded half away from zero, for d > 0. Rounding
// symmetrically keeps a line the same whichever end it is drawn from.
func roundDiv(n, d int64) int64 {
	if n >= 0 {
		return (2*n + d) / (2 * d)
	}
	return -((-2*n + d) / (2 * d))
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
