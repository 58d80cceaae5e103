package ui

import (
	"fmt"
	"testing"
)

// checkLayout verifies what every layout must satisfy: each panel placed
// exactly once and in order, inside the panel area, without overlaps.
func checkLayout(t *testing.T, panels []Panel, l layout, w, h int) {
	t.Helper()
	next := 0
	for pi, page := range l.pages {
		used := make(map[[2]int]int)
		for _, pl := range page {
			if pl.panel != next {
				t.Fatalf("page %d: panel %d placed where %d was due", pi, pl.panel, next)
			}
			next++
			r := pl.r
			if r.x < 0 || r.w <= 0 || r.x+r.w > w || r.y < headerRows || r.h <= 0 || r.y+r.h > h-footerRows {
				t.Errorf("page %d: panel %q at %+v outside %dx%d's panel area", pi, panels[pl.panel].Title, r, w, h)
			}
			for y := r.y; y < r.y+r.h; y++ {
				for x := r.x; x < r.x+r.w; x++ {
					if o, ok := used[[2]int{x, y}]; ok {
						t.Fatalf("page %d: panels %d and %d overlap at %d,%d", pi, o, pl.panel, x, y)
					}
					used[[2]int{x, y}] = pl.panel
				}
			}
		}
	}
	if next != len(panels) {
		t.Errorf("placed %d of %d panels", next, len(panels))
	}
}

func TestLayoutFitsOnePage(t *testing.T) {
	panels := DefaultPanels()
	for _, tc := range []struct {
		w, h, minRows int
	}{{80, 24, 2}, {120, 40, 5}, {160, 48, 8}, {250, 70, 10}} {
		t.Run(fmt.Sprintf("%dx%d", tc.w, tc.h), func(t *testing.T) {
			l := computeLayout(panels, tc.w, tc.h, 0, false)
			checkLayout(t, panels, l, tc.w, tc.h)
			if len(l.pages) != 1 {
				t.Errorf("default panels need %d pages", len(l.pages))
			}
			if l.plotRows < tc.minRows {
				t.Errorf("auto plot rows = %d, want at least %d", l.plotRows, tc.minRows)
			}
			// Auto sizing picks the tallest plots that still fit: one row
			// more would not.
			if l.plotRows < maxAutoRows {
				if pages := pack(panels, columns(tc.w), headerRows, tc.h-headerRows-footerRows, l.plotRows+1, false); len(pages) == 1 {
					t.Errorf("plot rows %d also fit, %d chosen", l.plotRows+1, l.plotRows)
				}
			}
		})
	}
}

func TestLayoutPages(t *testing.T) {
	panels := morePanels()
	l := computeLayout(panels, 80, 24, 0, false)
	checkLayout(t, panels, l, 80, 24)
	if len(l.pages) != 2 || l.plotRows != minPlotRows {
		t.Errorf("80x24 with server panels: %d pages of %d-row plots, want 2 of %d", len(l.pages), l.plotRows, minPlotRows)
	}
	// A fixed plot height is honoured; the panels flow onto more pages.
	l = computeLayout(DefaultPanels(), 80, 24, 8, false)
	checkLayout(t, DefaultPanels(), l, 80, 24)
	if l.plotRows != 8 || len(l.pages) < 2 {
		t.Errorf("--plot-height 8 at 80x24: %d rows, %d pages", l.plotRows, len(l.pages))
	}
	// One taller than the screen is cut to it.
	l = computeLayout(DefaultPanels(), 80, 24, 100, false)
	checkLayout(t, DefaultPanels(), l, 80, 24)
	if l.plotRows != 24-headerRows-footerRows-1 {
		t.Errorf("--plot-height 100 at 80x24: %d rows", l.plotRows)
	}
	// Ten full-height charts, one per column, and the two small panels
	// sharing the eleventh: six pages of two columns.
	if len(l.pages) != 6 {
		t.Errorf("--plot-height 100 at 80x24: %d pages, want 6", len(l.pages))
	}
}

func TestLayoutSparklines(t *testing.T) {
	panels := DefaultPanels()
	l := computeLayout(panels, 80, 24, 0, true)
	checkLayout(t, panels, l, 80, 24)
	if !l.spark || len(l.pages) != 1 {
		t.Fatalf("spark layout: spark=%v pages=%d", l.spark, len(l.pages))
	}
	for _, pl := range l.pages[0] {
		p := panels[pl.panel]
		if p.Kind == KindChart && pl.r.h != len(p.Series) {
			t.Errorf("sparkline panel %q is %d rows for %d series", p.Title, pl.r.h, len(p.Series))
		}
	}
}

func TestColumns(t *testing.T) {
	for w, want := range map[int]string{
		80:  "[{0 0 40 0} {41 0 39 0}]",
		119: "[{0 0 59 0} {60 0 59 0}]",
		160: "[{0 0 53 0} {54 0 53 0} {108 0 52 0}]",
		400: "[{0 0 133 0} {134 0 133 0} {268 0 132 0}]",
	} {
		if got := fmt.Sprint(columns(w)); got != want {
			t.Errorf("columns(%d) = %s, want %s", w, got, want)
		}
	}
}

func TestPanelHeight(t *testing.T) {
	ttft := DefaultPanels()[3]
	if got := panelHeight(&ttft, 40, 1, false); got != 3 {
		t.Errorf("3-series chart with 1 plot row: height %d, want 3 (values need 3 rows)", got)
	}
	if got := panelHeight(&ttft, 40, 5, false); got != 6 {
		t.Errorf("height %d, want 6", got)
	}
	stats := Panel{Kind: KindStats, Series: make([]SeriesSpec, 5)}
	if got := panelHeight(&stats, 39, 0, false); got != 4 {
		t.Errorf("5 stats in 39 columns (2 per row): height %d, want 4", got)
	}
	if got := panelHeight(&stats, 19, 0, false); got != 6 {
		t.Errorf("5 stats in 19 columns: height %d, want 6", got)
	}
}
