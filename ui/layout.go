package ui

// The screen: two header rows (title; progress), a row of scenario tabs
// when several scenarios run, the panels, one footer row of key hints.
const (
	headerRows = 2
	footerRows = 1
	// MinWidth and MinHeight are the smallest terminal the dashboard
	// draws on; below it shows a "too small" message instead.
	MinWidth  = 80
	MinHeight = 24

	minColumnWidth = 40 // two columns at 80, three from 120
	maxColumns     = 3
	maxAutoRows    = 10 // auto-sized braille charts grow up to this many rows
	minPlotRows    = 2
	statWidth      = 19 // one "label value" item of a stats panel
	errorRows      = 2  // rows of classes in the errors panel
)

type rect struct{ x, y, w, h int }

type placement struct {
	panel int
	r     rect
}

// layout is where every panel goes at one terminal size.
type layout struct {
	pages    [][]placement
	plotRows int  // text rows of each braille plot
	spark    bool // sparklines instead of braille
}

// statsPerRow is how many "label value" items fit side by side in width w.
func statsPerRow(w int) int { return max(1, (w+1)/(statWidth+1)) }

// panelHeight is the rows panel p needs in a column of width w.
func panelHeight(p *Panel, w, plotRows int, spark bool) int {
	switch p.Kind {
	case KindStats:
		per := statsPerRow(w)
		return 1 + (len(p.Series)+per-1)/per
	case KindErrors:
		return 1 + errorRows
	}
	if spark {
		return max(len(p.Series), 1)
	}
	// The value column starts on the title row, so n series need n-1
	// plot rows.
	return 1 + max(plotRows, len(p.Series)-1, 1)
}

// columns splits width w into n columns separated by one blank column,
// giving the remainder to the leftmost ones.
func columns(w int) []rect {
	n := min(max(w/minColumnWidth, 1), maxColumns)
	cw, extra := (w-(n-1))/n, (w-(n-1))%n
	cols := make([]rect, n)
	x := 0
	for i := range cols {
		cols[i] = rect{x: x, w: cw}
		if i < extra {
			cols[i].w++
		}
		x += cols[i].w + 1
	}
	return cols
}

// pack places the panels in order, top to bottom in a column, then the
// next column, then the next page. A panel taller than a whole column is
// cut to fit.
func pack(panels []Panel, cols []rect, top, height, plotRows int, spark bool) [][]placement {
	var pages [][]placement
	var page []placement
	col, y := 0, 0
	for i := range panels {
		h := min(panelHeight(&panels[i], cols[col].w, plotRows, spark), height)
		if y+h > height && y > 0 {
			col, y = col+1, 0
			if col == len(cols) {
				pages = append(pages, page)
				page, col = nil, 0
			}
			h = min(panelHeight(&panels[i], cols[col].w, plotRows, spark), height)
		}
		page = append(page, placement{panel: i, r: rect{x: cols[col].x, y: top + y, w: cols[col].w, h: h}})
		y += h
	}
	if len(page) > 0 || len(pages) == 0 {
		pages = append(pages, page)
	}
	return pages
}

// computeLayout places panels on a w x h screen, from row top down to the
// footer. With a fixed plot height
// the panels simply flow onto as many pages as they need; with the
// automatic one (0) the charts get the tallest plots that still fit every
// panel on one page, or the smallest when nothing fits.
func computeLayout(panels []Panel, w, h, top, plotHeight int, spark bool) layout {
	cols := columns(w)
	height := h - top - footerRows
	if spark {
		return layout{pages: pack(panels, cols, top, height, 0, true), spark: true}
	}
	if plotHeight > 0 {
		rows := min(plotHeight, max(height-1, 1))
		return layout{pages: pack(panels, cols, top, height, rows, false), plotRows: rows}
	}
	for rows := maxAutoRows; rows > minPlotRows; rows-- {
		if pages := pack(panels, cols, top, height, rows, false); len(pages) == 1 {
			return layout{pages: pages, plotRows: rows}
		}
	}
	return layout{pages: pack(panels, cols, top, height, minPlotRows, false), plotRows: minPlotRows}
}
