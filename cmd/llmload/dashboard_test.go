package main

import (
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/results/observe"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/engine/results/threshold"
	"github.com/llmload/llmload/ui"
	"github.com/llmload/llmload/ui/chart"
)

func TestChartThresholds(t *testing.T) {
	var ths []threshold.Threshold
	for _, e := range []string{"ttft p95 < 2s", "tpot p95 <= 50ms", "error_rate < 1%", "request_throughput > 5"} {
		th, err := threshold.Parse(e)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	got := chartThresholds(ths)
	want := map[string]chart.Threshold{
		ui.SeriesTTFTP95: {Warn: 1600, Fail: 2000},
		ui.SeriesTPOTP95: {Warn: 40, Fail: 50},
		ui.SeriesRPS:     {Warn: 6.25, Fail: 5, Below: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: got %+v, want %+v", id, got[id], w)
		}
	}
}

func TestFrameBuilderServerSeries(t *testing.T) {
	b := newFrameBuilder("s", "u", "m", time.Minute)
	obs := &fakeSampler{}
	b.observe(nil) // observation off: no sampler
	if b.obs != nil {
		t.Fatal("observe(nil) set a sampler")
	}
	b.obs = obs
	snap := &record.Snapshot{Current: &record.Window{}}
	frame := func(sec int) *ui.Frame {
		return b.frame(runner.Status{Elapsed: time.Duration(sec) * time.Second, Snapshot: snap})
	}
	serverIDs := []string{ui.SeriesServerRunning, ui.SeriesServerWaiting, ui.SeriesKVCache, ui.SeriesPrefixHit,
		ui.SeriesServerGenTPS, ui.SeriesServerTTFT, ui.SeriesGPUPower, ui.SeriesGPUUtil, ui.SeriesEnergyPerTok}
	f := frame(1)
	for _, id := range serverIDs {
		if len(f.Series[id]) != 0 {
			t.Errorf("%s has points before any scrape", id)
		}
	}
	obs.s = &observe.Sample{
		T: 1900 * time.Millisecond, Running: known(12), Waiting: known(3), KVUsage: known(0.5),
		PrefixHitRate: known(0.25), GenTokensPerS: known(2400), TTFT: known(0.0625),
		PowerW: known(450), GPUUtilPct: known(87), JPerGenToken: known(0.1875),
	}
	frame(2)
	f = frame(3) // the same scrape again: one point per scrape, not per frame
	want := map[string]float64{
		ui.SeriesServerRunning: 12, ui.SeriesServerWaiting: 3, ui.SeriesKVCache: 50, ui.SeriesPrefixHit: 25,
		ui.SeriesServerGenTPS: 2400, ui.SeriesServerTTFT: 62.5, ui.SeriesGPUPower: 450, ui.SeriesGPUUtil: 87,
		ui.SeriesEnergyPerTok: 0.1875,
	}
	for id, v := range want {
		if pts := f.Series[id]; len(pts) != 1 || pts[0] != (ui.Point{T: 1900 * time.Millisecond, V: v}) {
			t.Errorf("%s = %v, want one point %v at 1.9s", id, pts, v)
		}
	}
	// A scrape without GPU series and with an unknown rate adds what it
	// has; an older one (never published, but) is not plotted.
	obs.s = &observe.Sample{T: 3900 * time.Millisecond, Running: known(10), KVUsage: known(0.4)}
	frame(4)
	obs.s = &observe.Sample{T: 3800 * time.Millisecond, Running: known(99)}
	f = frame(5)
	if pts := f.Series[ui.SeriesServerRunning]; len(pts) != 2 || pts[1].V != 10 {
		t.Errorf("running = %v, want 12 then 10", pts)
	}
	for _, id := range []string{ui.SeriesGPUPower, ui.SeriesServerGenTPS, ui.SeriesServerWaiting} {
		if n := len(f.Series[id]); n != 1 {
			t.Errorf("%s has %d points, want the first scrape's only", id, n)
		}
	}
	// Frames handed out earlier never change.
	if n := len(frame(6).Series[ui.SeriesServerRunning]); n != 2 {
		t.Errorf("%d points", n)
	}

	// Client TTFT mean, beside the server's, comes from the windows.
	frames := fabricatedRun("s", 10, true)
	pts := frames[9].Series[ui.SeriesTTFTMean]
	if len(pts) != 2 || pts[0] != (ui.Point{T: 5 * time.Second, V: 100}) || pts[1] != (ui.Point{T: 10 * time.Second, V: 110}) {
		t.Errorf("client TTFT mean = %v, want 100 at 5s and 110 at 10s", pts)
	}
}

// TestDashboardServerPanels draws frames built from fabricated scrapes:
// the server and GPU panels beside the client's, and none of them for a
// server without /metrics.
func TestDashboardServerPanels(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	frames := fabricatedRun("azure-conv", 70, true)
	got := drawOnce(t, 160, 48, ui.Options{}, func(d *ui.Dashboard) { d.Publish(frames[len(frames)-1]) })
	golden(t, "dashboard_server_160x48.golden", got)
	for _, title := range []string{"Server requests", "KV cache %", "Prefix hit %", "TTFT mean ms", "GPU power W", "GPU util %", "Energy J/token"} {
		if !strings.Contains(got, title) {
			t.Errorf("no %q panel", title)
		}
	}
	// Without GPU series the GPU panels are left out; without any
	// sampler (a server without /metrics) every server panel is.
	noGPU := fabricatedRun("azure-conv", 70, false)
	got = drawOnce(t, 160, 48, ui.Options{}, func(d *ui.Dashboard) { d.Publish(noGPU[len(noGPU)-1]) })
	if strings.Contains(got, "GPU") || !strings.Contains(got, "KV cache %") {
		t.Errorf("server without DCGM series:\n%s", got)
	}
	b := newFrameBuilder("azure-conv", "http://127.0.0.1:8000", "llama", time.Minute)
	b.observe(nil)
	got = drawOnce(t, 160, 48, ui.Options{}, func(d *ui.Dashboard) {
		d.Publish(b.frame(runner.Status{Elapsed: time.Second, Snapshot: &record.Snapshot{Current: &record.Window{}}}))
	})
	for _, title := range []string{"Server requests", "KV cache %", "TTFT mean ms", "GPU", "server"} {
		if strings.Contains(got, title) {
			t.Errorf("%q shown without server metrics:\n%s", title, got)
		}
	}
}

// TestDashboardStopped follows the run the live view got wrong: 500
// requests at 10/s (a 50 s schedule) whose long answers stream 5,000
// tokens a second while few finish, then q at 20 s with requests waiting
// at the gate. The frames must show the streamed tokens per second, the
// schedule's time left from the first frame on, and after the stop the
// unsent count, the drain and a target rate of 0.
func TestDashboardStopped(t *testing.T) {
	b := newFrameBuilder("azure-conv", "http://127.0.0.1:8000", "llama", time.Minute)
	var windows []*record.Window
	status := func(at time.Duration) runner.Status {
		sec := int64(at / time.Second)
		due := min(int64(at*10/time.Second)+1, 500)
		st := runner.Status{
			Elapsed: at, Released: due, Due: due, Planned: min(due+20, 500), InFlight: int(min(due, 500)), Total: 500,
			ScheduleEnd:    49900 * time.Millisecond, // the 500th request is due at 49.9s
			StreamedTokens: int64(at/time.Millisecond) * 5, StreamCounted: true,
			Snapshot: &record.Snapshot{At: at, Interval: 5 * time.Second, Completed: sec / 2,
				Windows: windows, Current: &record.Window{}},
		}
		return st
	}
	// 0.8 s in: nothing finished yet; the schedule says 49.1 s are left.
	f := b.frame(status(800 * time.Millisecond))
	if f.ETA != 49100*time.Millisecond {
		t.Errorf("ETA at 0.8s = %v, want the schedule's 49.1s", f.ETA)
	}
	var frames []*ui.Frame
	for sec := 1; sec <= 26; sec++ {
		at := time.Duration(sec) * time.Second
		if sec%5 == 0 {
			// Few finish: 2 a second, 300 tokens each (600 tok/s of
			// finished requests against 5,000 received).
			windows = append(windows, &record.Window{Start: at - 5*time.Second, Len: 5 * time.Second, Count: 10, Completed: 10, OutputTokens: 3000})
		}
		st := status(at)
		if sec > 20 { // q at 20 s: 37 queued requests are not sent, the rest drain
			st.Released, st.Due = 201, 201+int64(sec-20)*10 // the plans built ahead still come due
			st.Stopping, st.Unsent, st.Queued = true, 37, 0
			st.InFlight = 164 - 20*(sec-20)
			st.StreamedTokens = 100000 + int64(sec-20)*2000
		}
		frames = append(frames, b.frame(st))
	}
	at20, last := frames[19], frames[len(frames)-1]
	if pts := at20.Series[ui.SeriesOutputTPS]; len(pts) == 0 || pts[len(pts)-1].V != 5000 {
		t.Errorf("output tok/s at 20s = %v, want the 5000 received, not the 600 of finished requests", pts)
	}
	if pts := last.Series[ui.SeriesRateTarget]; len(pts) == 0 || pts[len(pts)-1].V != 0 || at20.Series[ui.SeriesRateTarget][19].V != 10 {
		t.Errorf("target rate after the stop = %v, want 10 then 0", pts)
	}
	if !last.Stopping || last.Unsent != 37 || last.InFlight != 44 || last.ETA != 0 {
		t.Errorf("last frame: stopping %v unsent %d in flight %d ETA %v", last.Stopping, last.Unsent, last.InFlight, last.ETA)
	}
	t.Setenv("NO_COLOR", "1")
	got := drawOnce(t, 80, 24, ui.Options{}, func(d *ui.Dashboard) { d.Publish(last) })
	golden(t, "dashboard_stopped_80x24.golden", got)
}
