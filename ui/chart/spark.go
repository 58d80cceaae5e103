package chart

import (
	"math"

	"github.com/gdamore/tcell/v2"
)

// sparkRunes are the eight heights of a sparkline cell.
var sparkRunes = [8]rune{'▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'}

// SparkHeight is the number of rows DrawSpark uses: one per series, at
// least one.
func (c *Chart) SparkHeight() int { return max(len(c.Series), 1) }

// DrawSpark draws the chart as sparklines, the fallback for small
// terminals: one row per series, the title in the first titleWidth columns
// of the first row, then a sparkline of sparkWidth cells (0 or too wide:
// as wide as fits), a space and the value column as in Draw:
//
//	TTFT ms     ▁▁▂▃▅▇█▆▃▂▁  p50    120
//	            ▂▂▃▄▆██▇▄▃▂  p95    340
//
// Each cell is the mean of the points in its slice of the window, scaled
// like Draw's Y axis (from zero unless AutoMin), shared by all series of
// the chart so that p50 and p99 stay comparable; a slice without points is
// blank. It writes every cell of its rows and nothing outside them.
func (c *Chart) DrawSpark(s Surface, x, y, w, titleWidth, sparkWidth int) {
	h := c.SparkHeight()
	if w <= 0 {
		return
	}
	if !c.Cleared {
		fill(s, x, y, w, h, tcell.StyleDefault)
	}
	lw := c.labelWidth()
	vw := ValueWidth(lw)
	if vw+titleWidth > w {
		vw = 0
	}
	titleWidth = min(titleWidth, w-vw)
	Print(s, x, y, titleWidth-1, c.Title, c.Styles.Title)
	for i := range c.Series {
		c.drawValue(s, x+w-vw, y+i, vw, lw, &c.Series[i])
	}
	room := w - titleWidth - vw - 1
	if sparkWidth <= 0 || sparkWidth > room {
		sparkWidth = room
	}
	if sparkWidth <= 0 {
		return
	}
	start := c.End - c.window()
	lo, hi, _ := c.scale(start)
	win := float64(c.window())
	var sum [256]float64 // sparklines wider than this share the last buckets
	var cnt [256]int
	n := min(sparkWidth, len(sum))
	for si := range c.Series {
		sr := &c.Series[si]
		clear(sum[:n])
		clear(cnt[:n])
		for _, p := range sr.Points {
			if p.T < start || p.T > c.End || math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				continue
			}
			b := int(float64(p.T-start) / win * float64(n))
			b = min(max(b, 0), n-1)
			sum[b] += p.V
			cnt[b]++
		}
		for b := range n {
			if cnt[b] == 0 {
				continue
			}
			v := sum[b] / float64(cnt[b])
			k := int(math.Round((v - lo) / (hi - lo) * 7))
			k = min(max(k, 0), 7)
			st := c.levelStyle(sr, sr.Threshold.Level(v))
			s.SetContent(x+titleWidth+b, y+si, sparkRunes[k], nil, st)
		}
	}
}
