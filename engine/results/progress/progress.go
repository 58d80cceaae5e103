// Package progress turns the cumulative counts of a running scenario
// (requests finished, output tokens received) into what a person watching
// it wants to read: rates over the last seconds and the time left. The
// progress line and the dashboard use the same Tracker, so they agree.
//
// Both are moving averages of counts observed at each refresh: a count
// read once a second steps, and a rate over one step swings (a run that
// has finished 3 requests in its first 0.8 s "will take" 13 minutes). The
// time left is the schedule's own end while it is still to come, since the
// schedule knows it; otherwise the smoothed finishing rate extrapolated,
// and nothing at all until that rate has a few seconds behind it.
package progress

import (
	"math"
	"time"
)

// Spans of the moving averages, and the history a rate needs before the
// time left is extrapolated from it.
const (
	TokenSpan  = 5 * time.Second  // tokens per second: recent, as the progress line's other rates
	FinishSpan = 30 * time.Second // requests finished per second, for the time left: steady
	MinHistory = 5 * time.Second
	// ETASmoothing is how fast an extrapolated time left follows a new
	// estimate: between readings it counts down, and moves towards the
	// new estimate by the time passed over ETASmoothing. Requests that
	// finish in lumps (a batch of equal lengths) then move it by seconds,
	// not by the lump's share of the window.
	ETASmoothing = 10 * time.Second
	// QueueMemory is how long after requests last waited at the gate the
	// run still counts as held back by it (see rawETA).
	QueueMemory = 10 * time.Second
)

// Rate is the rate of a cumulative count over a sliding window: the growth
// from the oldest observation within Span of the newest (or the last one
// before that, so the window is full once the history is long enough) to
// the newest, over the time between them. Memory is bounded by Span over
// the observation interval. The zero value is unusable: set Span.
//
// Not safe for concurrent use: one goroutine observes and reads.
type Rate struct {
	Span time.Duration
	obs  []observation // oldest first
}

type observation struct {
	at time.Duration
	n  int64
}

// Observe adds the count n read at instant at. Observations must come in
// time order; one at or before the newest replaces nothing and is ignored.
func (r *Rate) Observe(at time.Duration, n int64) {
	if k := len(r.obs); k > 0 && at <= r.obs[k-1].at {
		return
	}
	r.obs = append(r.obs, observation{at, n})
	// Keep one observation at or before the window's start.
	i := 0
	for i+1 < len(r.obs) && r.obs[i+1].at <= at-r.Span {
		i++
	}
	if i > 0 {
		r.obs = append(r.obs[:0], r.obs[i:]...)
	}
}

// PerSecond is the rate over the window; ok is false before two
// observations.
func (r *Rate) PerSecond() (perSec float64, ok bool) {
	if len(r.obs) < 2 {
		return 0, false
	}
	first, last := r.obs[0], r.obs[len(r.obs)-1]
	return float64(last.n-first.n) / (last.at - first.at).Seconds(), true
}

// Covered is the time the rate is taken over: at most about Span.
func (r *Rate) Covered() time.Duration {
	if len(r.obs) < 2 {
		return 0
	}
	return r.obs[len(r.obs)-1].at - r.obs[0].at
}

// Input is what the runner says of a scenario at one instant (see
// runner.Status).
type Input struct {
	At          time.Duration // since the epoch
	Done, Total int64         // requests finished (failed included) and expected; Total 0 = unknown
	// StreamedTokens counts the output tokens received so far, requests
	// in flight included; StreamCounted says the client counts them.
	StreamedTokens int64
	StreamCounted  bool
	// ScheduleEnd is when the last request is due; 0 = unknown.
	ScheduleEnd time.Duration
	// Stopping: a graceful stop came; what is left is the drain.
	Stopping bool
	// Queued requests wait at the concurrency gate: the client cannot
	// send at the schedule's pace, so its end is not the run's.
	Queued int
}

// Estimate is what a Tracker makes of the inputs so far.
type Estimate struct {
	// TokensPerSec is output tokens received per second over the last
	// TokenSpan; NaN when the client does not count them or before two
	// observations.
	TokensPerSec float64
	// ETA is the time left: 0 when every expected request finished,
	// negative when unknown (no schedule end to come and no total, too
	// little history, or a stop: the drain lasts as long as the requests
	// in flight, at most --drain-timeout).
	ETA time.Duration
}

// Tracker keeps the moving averages of one scenario. The zero value is
// ready to use.
//
// Not safe for concurrent use: call Update from one goroutine (the
// runner's progress callback).
type Tracker struct {
	tokens, finished Rate
	// The last extrapolated time left and when; etaAt < 0: the last
	// reading had none (schedule's end, or unknown), so the next
	// extrapolation starts afresh.
	lastETA, etaAt time.Duration
	queuedAt       time.Duration // the last reading with a queue at the gate; < 0 none
}

// Update adds one reading and returns the estimate after it.
func (t *Tracker) Update(in Input) Estimate {
	if t.tokens.Span == 0 {
		t.tokens.Span, t.finished.Span = TokenSpan, FinishSpan
		t.etaAt, t.queuedAt = -1, -1
	}
	if in.Queued > 0 {
		t.queuedAt = in.At
	}
	est := Estimate{TokensPerSec: math.NaN()}
	if in.StreamCounted {
		t.tokens.Observe(in.At, in.StreamedTokens)
		if r, ok := t.tokens.PerSecond(); ok {
			est.TokensPerSec = r
		}
	}
	t.finished.Observe(in.At, in.Done)
	est.ETA = t.eta(in)
	return est
}

// eta is the schedule's end while it is to come, else the smoothed
// extrapolation.
func (t *Tracker) eta(in Input) time.Duration {
	raw, extrapolated := t.rawETA(in)
	if !extrapolated {
		t.etaAt = -1
		return raw
	}
	if t.etaAt >= 0 {
		dt := in.At - t.etaAt
		predicted := t.lastETA - dt
		beta := min(float64(dt)/float64(ETASmoothing), 1)
		// Counted down past the end while requests are left: the
		// estimate of this reading is all there is.
		if smoothed := predicted + time.Duration(beta*float64(raw-predicted)); smoothed > 0 {
			raw = smoothed
		}
	}
	t.lastETA, t.etaAt = raw, in.At
	return raw
}

// rawETA is the time left from this reading alone, and whether it is an
// extrapolation of the finishing rate. The schedule's end wins while it is
// to come, unless requests waited at the gate within QueueMemory and the
// extrapolation says later: the client then lags the schedule (a
// concurrency cap below what the rate needs) and the finishing rate is the
// run's pace. A run that keeps up never mixes the two, so its early
// finishing rate, low until the first answers are complete, cannot make
// the time left swing.
func (t *Tracker) rawETA(in Input) (time.Duration, bool) {
	switch {
	case in.Total > 0 && in.Done >= in.Total:
		return 0, false
	case in.Stopping:
		return -1, false
	}
	scheduled := in.ScheduleEnd - in.At
	extrapolated := time.Duration(-1)
	if rate, ok := t.finished.PerSecond(); in.Total > 0 && ok && rate > 0 && t.finished.Covered() >= MinHistory {
		extrapolated = time.Duration(float64(in.Total-in.Done) / rate * float64(time.Second))
	}
	held := t.queuedAt >= 0 && in.At-t.queuedAt < QueueMemory
	switch {
	case scheduled > 0 && (!held || extrapolated < scheduled):
		return scheduled, false
	case extrapolated >= 0:
		return extrapolated, true
	}
	return -1, false
}
