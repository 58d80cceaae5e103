package main

import (
	"math"
	"time"

	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/results/observe"
	"github.com/llmload/llmload/engine/results/progress"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/engine/results/threshold"
	"github.com/llmload/llmload/ui"
	"github.com/llmload/llmload/ui/chart"
)

// frameBuilder turns the runner's statuses into dashboard frames. Windowed
// series (rates, percentiles) get one point per finished --sample-interval
// window, at the window's end; gauges (in flight, queued, arrival rates)
// one point per refresh; server and GPU series one point per scrape of the
// server's /metrics, at the scrape's time. It is called from the runner's
// progress goroutine only, so it needs no locks; the frames it returns are
// never modified.
type frameBuilder struct {
	scenario, url, model string
	hist                 *ui.History

	// obs gives the latest scrape of the server's /metrics; nil when
	// observation is off. A scrape is plotted once, when first seen; with
	// a refresh slower than the scrapes (--log-every) some are skipped.
	obs        sampler
	lastSample *observe.Sample

	// tracker smooths the received tokens per second and the time left,
	// as the progress line's does.
	tracker progress.Tracker

	lastWindow   time.Duration // start of the newest window already plotted
	havePrev     bool
	prevAt       time.Duration
	prevReleased int64
	prevDue      int64
}

// sampler is the part of an observe.Observer the dashboard reads. Latest
// must be safe to call from any goroutine and return Samples that never
// change afterwards (observe.Observer's contract).
type sampler interface {
	Latest() (*observe.Sample, bool)
}

// observe makes the frames carry the server and GPU series of o's
// scrapes; a nil o (observation off) leaves them out.
func (b *frameBuilder) observe(o *observe.Observer) {
	if o != nil {
		b.obs = o
	}
}

func newFrameBuilder(scenario, url, model string, plotWindow time.Duration) *frameBuilder {
	// Keep a little more than the window so lines enter at the left edge.
	return &frameBuilder{scenario: scenario, url: url, model: model,
		hist: ui.NewHistory(plotWindow + plotWindow/4), lastWindow: -1}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func (b *frameBuilder) frame(st runner.Status) *ui.Frame {
	snap := st.Snapshot
	h := b.hist
	est := b.tracker.Update(progressInput(st))
	for _, w := range snap.Windows {
		if w.Start <= b.lastWindow || w.Len <= 0 {
			continue
		}
		b.lastWindow = w.Start
		b.addWindow(w, st.StreamCounted)
	}
	// Output tokens as they arrive, requests in flight included, when the
	// client counts them: finished requests' tokens lag by whole answers.
	if st.StreamCounted && !math.IsNaN(est.TokensPerSec) {
		h.Add(ui.SeriesOutputTPS, st.Elapsed, est.TokensPerSec)
	}
	b.addGauges(st)
	if b.obs != nil {
		if s, ok := b.obs.Latest(); ok && s != b.lastSample {
			if b.lastSample == nil || s.T > b.lastSample.T {
				b.addSample(s)
			}
			b.lastSample = s
		}
	}

	errs := make(map[string]int64, len(snap.Errors))
	var failed int64
	for class, n := range snap.Errors {
		errs[string(class)] = n
		failed += n
	}
	f := &ui.Frame{
		Scenario: b.scenario, URL: b.url, Model: b.model,
		Elapsed: st.Elapsed, Done: finished(snap), Total: st.Total,
		ETA:    max(est.ETA, 0),
		Paused: st.Paused, PausedFor: st.PausedFor,
		Stopping: st.Stopping, InFlight: st.InFlight, Unsent: st.Unsent,
		Series: h.Snapshot(),
		Counters: map[string]float64{
			ui.CounterSent: float64(st.Released), ui.CounterErrors: float64(failed),
			ui.CounterDropped: float64(st.Dropped), ui.CounterTxBytes: float64(snap.BytesSent),
			ui.CounterRxBytes: float64(snap.BytesRecv), ui.SeriesErrorRate: lastValue(h, ui.SeriesErrorRate),
		},
		Errors: errs,
		Search: searchStep(st.Capacity),
	}
	if st.Done {
		f.Status = "finished"
	} else if st.InFlight > 0 && st.Released == st.Planned && st.Queued == 0 && st.Total > 0 && st.Released >= st.Total {
		f.Status = "draining"
	}
	return f
}

// addWindow plots one finished window's rates and latencies at its end.
// Latency series skip windows with no sample rather than plot a
// misleading zero. With streamCounted, output tokens come from the
// client's live count instead (frame).
func (b *frameBuilder) addWindow(w *record.Window, streamCounted bool) {
	h := b.hist
	t := w.Start + w.Len
	h.Add(ui.SeriesRPS, t, w.RequestRate())
	h.Add(ui.SeriesInputTPS, t, rate(w.InputTokens, w.Len))
	if !streamCounted {
		h.Add(ui.SeriesOutputTPS, t, w.OutputTokenRate())
	}
	h.Add(ui.SeriesErrorRate, t, rate(w.Failed, w.Len))
	h.Add(ui.SeriesNetTX, t, rate(w.BytesSent, w.Len))
	h.Add(ui.SeriesNetRX, t, rate(w.BytesRecv, w.Len))
	if w.TTFT.N > 0 {
		h.Add(ui.SeriesTTFTMean, t, w.TTFT.Mean/float64(time.Millisecond))
		h.Add(ui.SeriesTTFTP50, t, ms(w.TTFT.P50))
		h.Add(ui.SeriesTTFTP95, t, ms(w.TTFT.P95))
		h.Add(ui.SeriesTTFTP99, t, ms(w.TTFT.P99))
	}
	for _, p := range [...]struct {
		id  string
		pct record.Percentiles
		at  func(record.Percentiles) time.Duration
	}{
		{ui.SeriesTTFTFirstTurn, w.FirstTurnTTFT, p50}, {ui.SeriesTTFTLaterTurns, w.LaterTurnTTFT, p50},
		{ui.SeriesTPOTP95, w.TPOT, p95}, {ui.SeriesE2EP95, w.E2EL, p95},
		{ui.SeriesQueueP95, w.QueueTime, p95}, {ui.SeriesLagP99, w.ScheduleLag, p99},
	} {
		if p.pct.N > 0 {
			h.Add(p.id, t, ms(p.at(p.pct)))
		}
	}
}

func p50(p record.Percentiles) time.Duration { return p.P50 }
func p95(p record.Percentiles) time.Duration { return p.P95 }
func p99(p record.Percentiles) time.Duration { return p.P99 }

// addGauges plots what the status says now: sessions, concurrency, and
// the send rate against the schedule's since the last frame.
func (b *frameBuilder) addGauges(st runner.Status) {
	h := b.hist
	if ss := st.Sessions; ss != nil {
		h.Add(ui.SeriesSessionsActive, st.Elapsed, float64(ss.Active))
		h.Add(ui.SeriesSessionsThink, st.Elapsed, float64(ss.Thinking))
		if ss.Users > 0 {
			h.Add(ui.SeriesUsers, st.Elapsed, float64(ss.Users))
		}
	}
	h.Add(ui.SeriesInFlight, st.Elapsed, float64(st.InFlight))
	h.Add(ui.SeriesQueued, st.Elapsed, float64(st.Queued))
	if b.havePrev && st.Elapsed > b.prevAt {
		dt := st.Elapsed - b.prevAt
		h.Add(ui.SeriesRateAchieved, st.Elapsed, rate(st.Released-b.prevReleased, dt))
		// After a stop nothing more is due, whatever the schedule had
		// built ahead of time.
		target := 0.0
		if !st.Stopping {
			target = rate(st.Due-b.prevDue, dt)
		}
		h.Add(ui.SeriesRateTarget, st.Elapsed, target)
	}
	b.havePrev, b.prevAt, b.prevReleased, b.prevDue = true, st.Elapsed, st.Released, st.Due
}

// addSample plots one scrape: every figure the server (or the DCGM
// exporter) gave, at the scrape's time. Unknown figures (a series the
// endpoint does not export, a rate on the first scrape, a ratio of
// nothing) add no point, so their panels stay hidden or show a gap.
func (b *frameBuilder) addSample(s *observe.Sample) {
	h := b.hist
	add := func(id string, v observe.Value, scale float64) {
		if v.OK {
			h.Add(id, s.T, v.V*scale)
		}
	}
	add(ui.SeriesServerRunning, s.Running, 1)
	add(ui.SeriesServerWaiting, s.Waiting, 1)
	add(ui.SeriesKVCache, s.KVUsage, 100)
	add(ui.SeriesPrefixHit, s.PrefixHitRate, 100)
	add(ui.SeriesServerGenTPS, s.GenTokensPerS, 1)
	add(ui.SeriesServerTTFT, s.TTFT, 1000)
	add(ui.SeriesGPUPower, s.PowerW, 1)
	add(ui.SeriesGPUUtil, s.GPUUtilPct, 1)
	add(ui.SeriesEnergyPerTok, s.JPerGenToken, 1)
}

func lastValue(h *ui.History, id string) float64 {
	pts := h.Snapshot()[id]
	if len(pts) == 0 {
		return 0
	}
	return pts[len(pts)-1].V
}

// finished counts the requests that ended, failed and warm-up ones
// included: what the progress bar and the time left count against the
// total of plans.
func finished(snap *record.Snapshot) int64 {
	if snap == nil {
		return 0
	}
	return snap.Completed + snap.Failed + snap.Warmup
}

// progressInput is what a progress.Tracker reads of a status; the progress
// line and the dashboard feed it the same.
func progressInput(st runner.Status) progress.Input {
	return progress.Input{
		At: st.Elapsed, Done: finished(st.Snapshot), Total: st.Total,
		StreamedTokens: st.StreamedTokens, StreamCounted: st.StreamCounted,
		ScheduleEnd: st.ScheduleEnd, Stopping: st.Stopping, Queued: st.Queued,
	}
}

// chartThresholds colours the dashboard's series after the scenario's
// thresholds: a latency bound is the red level of the matching series and
// 80% of it the yellow one; a throughput floor colours from below.
func chartThresholds(ths []threshold.Threshold) map[string]chart.Threshold {
	series := map[string]string{
		"ttft p50": ui.SeriesTTFTP50, "ttft p95": ui.SeriesTTFTP95, "ttft p99": ui.SeriesTTFTP99,
		"tpot p95": ui.SeriesTPOTP95, "e2el p95": ui.SeriesE2EP95,
		"client_queue_time p95": ui.SeriesQueueP95, "schedule_lag p99": ui.SeriesLagP99,
		"request_throughput ": ui.SeriesRPS, "output_throughput ": ui.SeriesOutputTPS,
	}
	out := map[string]chart.Threshold{}
	for _, th := range ths {
		id, ok := series[th.Metric+" "+th.Stat]
		if !ok {
			continue
		}
		switch th.Op {
		case threshold.Lt, threshold.Le:
			out[id] = chart.Threshold{Warn: 0.8 * th.Value, Fail: th.Value}
		case threshold.Gt, threshold.Ge:
			out[id] = chart.Threshold{Warn: 1.25 * th.Value, Fail: th.Value, Below: true}
		}
	}
	return out
}
