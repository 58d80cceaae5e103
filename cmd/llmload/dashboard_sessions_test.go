package main

import (
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/ui"
)

// A session run's frames carry its users, active and thinking sessions
// (one point per refresh) and TTFT of first and later turns (one point per
// window); the dashboard then shows the Sessions and TTFT-by-turn panels,
// which other runs leave out.
func TestDashboardSessionPanels(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	b := newFrameBuilder("chat", "http://127.0.0.1:8000", "llama", time.Minute)
	var windows []*record.Window
	var last *ui.Frame
	for sec := 1; sec <= 40; sec++ {
		at := time.Duration(sec) * time.Second
		if sec%5 == 0 {
			windows = append(windows, &record.Window{
				Start: at - 5*time.Second, Len: 5 * time.Second, Completed: 40,
				TTFT:          record.Percentiles{N: 40, P50: 60 * time.Millisecond},
				FirstTurnTTFT: record.Percentiles{N: 8, P50: 300 * time.Millisecond},
				LaterTurnTTFT: record.Percentiles{N: 32, P50: time.Duration(20+sec) * time.Millisecond},
			})
		}
		users := min(sec, 16)
		last = b.frame(runner.Status{
			Elapsed: at, InFlight: users / 2,
			Snapshot: &record.Snapshot{Windows: windows, Current: &record.Window{}},
			Sessions: &runner.SessionStatus{Active: users, Users: users, Thinking: users - users/2},
		})
	}
	pts := last.Series[ui.SeriesUsers]
	if len(pts) != 40 || pts[39].V != 16 {
		t.Fatalf("users: %d points, last %v; want 40, the last 16", len(pts), pts[len(pts)-1])
	}
	if p := last.Series[ui.SeriesTTFTFirstTurn]; len(p) != 8 || p[0] != (ui.Point{T: 5 * time.Second, V: 300}) {
		t.Errorf("first-turn TTFT %v", p)
	}
	if p := last.Series[ui.SeriesTTFTLaterTurns]; len(p) != 8 || p[7].V != 60 {
		t.Errorf("later-turn TTFT %v", p)
	}
	got := drawOnce(t, 160, 48, ui.Options{}, func(d *ui.Dashboard) { d.Publish(last) })
	golden(t, "dashboard_sessions_160x48.golden", got)
	for _, title := range []string{"Sessions", "TTFT by turn ms", "turn 1", "later", "users"} {
		if !strings.Contains(got, title) {
			t.Errorf("no %q on the dashboard:\n%s", title, got)
		}
	}
	open := fabricatedRun("azure-conv", 20, false)
	got = drawOnce(t, 160, 48, ui.Options{}, func(d *ui.Dashboard) { d.Publish(open[len(open)-1]) })
	if strings.Contains(got, "Sessions") || strings.Contains(got, "TTFT by turn") {
		t.Errorf("session panels in an open-loop run:\n%s", got)
	}
}
