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

// clientPanels are the default panels as a run without server metrics
// shows them.
func clientPanels() []Panel {
	p, _, _ := shownPanels(DefaultPanels(), func(string) bool { return false })
	return p
}

// allPanels are the default panels with every server and GPU series.
func allPanels() []Panel {
	p, _, _ := shownPanels(DefaultPanels(), func(string) bool { return true })
	return p
}

func TestShownPanels(t *testing.T) {
	all := DefaultPanels()
	if got := len(allPanels()); got != len(all) {
		t.Errorf("with every series: %d of %d panels", got, len(all))
	}
	client := clientPanels()
	if len(client) != 12 {
		t.Errorf("without server series: %d panels, want the 12 client ones", len(client))
	}
	for _, p := range client {
		if p.Optional {
			t.Errorf("optional panel %q shown without data", p.Title)
		}
		for _, s := range p.Series {
			if s.Optional {
				t.Errorf("optional series %s of %q shown without data", s.ID, p.Title)
			}
		}
	}
	// One server series brings its panel and nothing else; the indices
	// lead back to the originals.
	shown, idx, ser := shownPanels(all, func(id string) bool { return id == SeriesServerGenTPS || id == SeriesKVCache })
	if len(shown) != 13 {
		t.Fatalf("%d panels shown, want 13", len(shown))
	}
	for k, p := range shown {
		o := all[idx[k]]
		if p.Title != o.Title || len(ser[k]) != len(p.Series) {
			t.Fatalf("panel %d %q maps to %q", k, p.Title, o.Title)
		}
		for n, j := range ser[k] {
			if p.Series[n].ID != o.Series[j].ID {
				t.Errorf("%q series %d maps to %s", p.Title, n, o.Series[j].ID)
			}
		}
		switch p.Title {
		case "Output tok/s":
			if len(p.Series) != 2 {
				t.Errorf("Output tok/s without the server's rate: %+v", p.Series)
			}
		case "TTFT mean ms":
			t.Errorf("TTFT mean shown without the server's TTFT")
		}
	}
}

func TestLayoutFitsOnePage(t *testing.T) {
	panels := clientPanels()
	for _, tc := range []struct {
		w, h, minRows int
	}{{80, 24, 2}, {120, 40, 5}, {160, 48, 8}, {250, 70, 10}} {
		t.Run(fmt.Sprintf("%dx%d", tc.w, tc.h), func(t *testing.T) {
			l := computeLayout(panels, tc.w, tc.h, headerRows, 0, false)
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
	panels := allPanels()
	l := computeLayout(panels, 80, 24, headerRows, 0, false)
	checkLayout(t, panels, l, 80, 24)
	if len(l.pages) != 2 || l.plotRows != minPlotRows {
		t.Errorf("80x24 with server panels: %d pages of %d-row plots, want 2 of %d", len(l.pages), l.plotRows, minPlotRows)
	}
	// From 160x48 everything fits one page, with the scenario tabs too.
	l = computeLayout(panels, 160, 48, headerRows+1, 0, false)
	checkLayout(t, panels, l, 160, 48)
	if len(l.pages) != 1 || l.plotRows < 4 {
		t.Errorf("160x48 with server panels and tabs: %d pages of %d-row plots, want 1 of 4 or more", len(l.pages), l.plotRows)
	}
	client := clientPanels()
	// A fixed plot height is honoured; the panels flow onto more pages.
	l = computeLayout(client, 80, 24, headerRows, 8, false)
	checkLayout(t, client, l, 80, 24)
	if l.plotRows != 8 || len(l.pages) < 2 {
		t.Errorf("--plot-height 8 at 80x24: %d rows, %d pages", l.plotRows, len(l.pages))
	}
	// One taller than the screen is cut to it.
	l = computeLayout(client, 80, 24, headerRows, 100, false)
	checkLayout(t, client, l, 80, 24)
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
	panels := clientPanels()
	l := computeLayout(panels, 80, 24, headerRows, 0, true)
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
