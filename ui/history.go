package ui

import "time"

// History keeps the recent points of every series on the producer's side
// and hands out snapshots for Frames without copying: a snapshot is a
// slice of storage that History never writes again (it only appends past
// the end of what it handed out, and trims by moving its own start), so
// a published Frame stays immutable while History goes on.
//
// A History is owned by one goroutine (the one building Frames); it is not
// safe for concurrent use. Snapshots may be read from any goroutine.
type History struct {
	keep   time.Duration
	series map[string][]Point
}

// NewHistory returns a History that keeps points of the last keep (the
// dashboard's PlotWindow; a little more does no harm).
func NewHistory(keep time.Duration) *History {
	return &History{keep: keep, series: make(map[string][]Point)}
}

// Add appends a point to series id. Times of one series must not
// decrease. Points older than keep before t are dropped, except the newest
// of them, from which a chart's line enters at its left edge.
func (h *History) Add(id string, t time.Duration, v float64) {
	pts := append(h.series[id], Point{T: t, V: v})
	cut := 0
	for cut+1 < len(pts) && pts[cut+1].T < t-h.keep {
		cut++
	}
	h.series[id] = pts[cut:]
}

// Snapshot returns the current points of every series, as a new map of
// slices that History will never modify.
func (h *History) Snapshot() map[string][]Point {
	m := make(map[string][]Point, len(h.series))
	for id, pts := range h.series {
		m[id] = pts[:len(pts):len(pts)] // capped: an append by a reader cannot reach History's storage
	}
	return m
}
