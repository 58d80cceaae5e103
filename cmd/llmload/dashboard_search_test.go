package main

import (
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/ui"
)

// A capacity search's status becomes the dashboard's search row: levels
// with their unit, the bracket so far, the previous step's verdict.
func TestDashboardSearchRow(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	b := newFrameBuilder("capacity", "http://127.0.0.1:8000", "llama", time.Minute)
	f := b.frame(runner.Status{
		Elapsed: 50 * time.Second, Snapshot: &record.Snapshot{Current: &record.Window{}},
		Capacity: &runner.CapacityStatus{
			By: "users", Unit: "users", Step: 6, Level: 24, Phase: "bisecting", Part: "warm-up", StepFor: 2 * time.Second,
			Judged: 30, Finished: 0, Target: 0.99, Low: 16, High: 32, Last: "fail", LastLevel: 32,
		},
	})
	want := ui.SearchStep{Step: 6, Level: "24 users", Phase: "bisecting", Bracket: "16 .. 32 users", Part: "warm-up",
		StepFor: 2 * time.Second, Target: 0.99, Last: "fail", LastLevel: "32 users"}
	if f.Search == nil || *f.Search != want {
		t.Fatalf("search row %+v, want %+v", f.Search, want)
	}
	got := drawOnce(t, 120, 30, ui.Options{}, func(d *ui.Dashboard) { d.Publish(f) })
	if row := strings.Split(got, "\n")[2]; !strings.HasPrefix(row, "search step 6 24 users  warm-up 2s  bisecting 16 .. 32 users  last 32 users fail") {
		t.Errorf("row 2: %q", row)
	}
	for _, c := range []struct {
		cs   runner.CapacityStatus
		want string
	}{
		{runner.CapacityStatus{Unit: "req/s", Low: 2.5}, "≥ 2.5 req/s"},
		{runner.CapacityStatus{Unit: "concurrent requests", High: 4}, "< 4 in flight"},
		{runner.CapacityStatus{Unit: "req/s"}, ""},
	} {
		if s := searchStep(&c.cs); s.Bracket != c.want {
			t.Errorf("%+v: bracket %q, want %q", c.cs, s.Bracket, c.want)
		}
	}
	if searchStep(nil) != nil {
		t.Error("a run without a search has a search row")
	}
}
