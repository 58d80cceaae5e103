package ui

import (
	"fmt"
	"testing"
	"time"
)

func TestHistoryKeepsWindowPlusOne(t *testing.T) {
	h := NewHistory(10 * time.Second)
	for i := range 30 {
		h.Add("x", time.Duration(i)*time.Second, float64(i))
	}
	pts := h.Snapshot()["x"]
	// The window [19s, 29s] plus the newest point before it, 18s, from
	// which a chart's line enters at the left edge.
	if len(pts) != 12 || pts[0].T != 18*time.Second || pts[11].T != 29*time.Second {
		t.Errorf("kept %d points from %v to %v, want 12 from 18s to 29s", len(pts), pts[0].T, pts[len(pts)-1].T)
	}
	if len(h.Snapshot()) != 1 {
		t.Errorf("snapshot has %d series", len(h.Snapshot()))
	}
}

func TestHistorySnapshotsAreImmutable(t *testing.T) {
	h := NewHistory(5 * time.Second)
	var snaps []map[string][]Point
	var want []string
	for i := range 200 {
		h.Add("a", time.Duration(i)*time.Second, float64(i))
		if i%3 == 0 {
			h.Add("b", time.Duration(i)*time.Second, float64(-i))
		}
		s := h.Snapshot()
		snaps = append(snaps, s)
		want = append(want, fmt.Sprint(s["a"], s["b"]))
	}
	// Later Adds (appends, trims, reallocations) changed none of them.
	for i, s := range snaps {
		if got := fmt.Sprint(s["a"], s["b"]); got != want[i] {
			t.Fatalf("snapshot %d changed:\n got %s\nwant %s", i, got, want[i])
		}
	}
	// A reader appending to a snapshot cannot write into History.
	s := h.Snapshot()
	_ = append(s["a"], Point{T: time.Hour, V: 1})
	h.Add("a", 200*time.Second, 200)
	if pts := h.Snapshot()["a"]; pts[len(pts)-1].V != 200 {
		t.Errorf("a reader's append reached History: %v", pts[len(pts)-1])
	}
}

func BenchmarkHistory(b *testing.B) {
	// A tick of the producer: 17 series, then a snapshot.
	h := NewHistory(time.Minute)
	ids := []string{SeriesRPS, SeriesInputTPS, SeriesOutputTPS, SeriesTTFTP50, SeriesTTFTP95, SeriesTTFTP99,
		SeriesTPOTP95, SeriesE2EP95, SeriesInFlight, SeriesQueued, SeriesQueueP95, SeriesLagP99,
		SeriesRateAchieved, SeriesRateTarget, SeriesErrorRate, SeriesNetTX, SeriesNetRX}
	for i := 0; b.Loop(); i++ {
		at := time.Duration(i) * time.Second
		for _, id := range ids {
			h.Add(id, at, float64(i))
		}
		_ = h.Snapshot()
	}
}
