package record

import (
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry: microsecond resolution up to 24 hours. Whole-run
// histograms keep 3 significant digits (0.1% relative error, about 230 KB
// each); the per-window ones 2 digits (1%, about 32 KB), since they are
// reset every interval and feed plots.
const (
	histLowest   = 1
	histHighest  = int64(24 * time.Hour / time.Microsecond)
	histDigits   = 3
	windowDigits = 2
)

// dist is one latency distribution: an HDR histogram for percentiles, plus
// exact running moments (Welford) and extremes, so that mean and standard
// deviation are exact and percentiles never lie outside the observed range.
// Not safe for concurrent use; the recorder's mutex guards it.
type dist struct {
	h        *hdrhistogram.Histogram
	n        int64
	mean, m2 float64 // nanoseconds
	min, max float64 // nanoseconds
	over     int64   // values above 24h, counted at the histogram's top
}

func newDist() *dist { return newDistDigits(histDigits) }

func newDistDigits(digits int) *dist {
	return &dist{h: hdrhistogram.New(histLowest, histHighest, digits)}
}

// add records k occurrences of ns nanoseconds. k > 1 is how an SSE event
// carrying several tokens contributes its equal split inter-token gaps.
func (d *dist) add(ns float64, k int64) {
	if k <= 0 {
		return
	}
	if ns < 0 || math.IsNaN(ns) {
		// A negative interval means the producer's instants are out of
		// order; it is clamped rather than allowed to corrupt the moments.
		ns = 0
	}
	us := int64(math.Round(ns / 1e3))
	if us > histHighest {
		us = histHighest
		d.over += k
	}
	// RecordValues cannot fail here: the value is in range and k > 0.
	_ = d.h.RecordValues(us, k)

	if d.n == 0 || ns < d.min {
		d.min = ns
	}
	if d.n == 0 || ns > d.max {
		d.max = ns
	}
	n := d.n + k
	delta := ns - d.mean
	d.mean += delta * float64(k) / float64(n)
	d.m2 += delta * delta * float64(d.n) * float64(k) / float64(n)
	d.n = n
}

func (d *dist) addDur(v time.Duration) { d.add(float64(v), 1) }

// quantile returns the value at percentile q (0..100), nearest-rank from
// the histogram (the highest value equivalent to the rank's bucket, as
// HdrHistogram reports it) and clamped to the exact observed minimum and maximum. It
// is 0 when nothing was recorded.
func (d *dist) quantile(q float64) time.Duration {
	if d.n == 0 {
		return 0
	}
	return d.clamp(d.h.ValueAtQuantile(q))
}

// clamp converts a histogram value (µs) to a Duration within the exact
// observed extremes.
func (d *dist) clamp(us int64) time.Duration {
	v := min(max(float64(us)*1e3, d.min), d.max)
	return time.Duration(math.Round(v))
}

func (d *dist) std() float64 {
	if d.n == 0 {
		return 0
	}
	return math.Sqrt(d.m2 / float64(d.n))
}

func (d *dist) reset() {
	d.h.Reset()
	d.n, d.mean, d.m2, d.min, d.max, d.over = 0, 0, 0, 0, 0, 0
}

// Stats summarises one distribution. Mean, Std, Min and Max are exact;
// the percentiles come from the histogram (nearest rank, within 0.1%).
// Std is the population standard deviation, as numpy's np.std (vLLM).
type Stats struct {
	N                  int64
	Mean, Std          float64 // nanoseconds
	Min, Max           time.Duration
	P50, P90, P95, P99 time.Duration
	// Overflow counts values above the histograms' 24 h range; they are
	// in the percentiles as 24 h (but exact in Mean, Std and Max).
	Overflow int64
}

func (d *dist) stats() Stats {
	if d.n == 0 {
		return Stats{}
	}
	return Stats{
		N: d.n, Mean: d.mean, Std: d.std(),
		Min: time.Duration(math.Round(d.min)), Max: time.Duration(math.Round(d.max)),
		P50: d.quantile(50), P90: d.quantile(90), P95: d.quantile(95), P99: d.quantile(99),
		Overflow: d.over,
	}
}

// Percentiles are the points kept per window: N samples, p50/p90/p95/p99,
// and the exact mean and maximum (all zero when N is 0). windows.jsonl
// carries p50, p95 and p99; the rest serve live checks (thresholds).
type Percentiles struct {
	N                  int64
	P50, P90, P95, P99 time.Duration
	Mean               float64 // nanoseconds
	Max                time.Duration
}

func (d *dist) percentiles() Percentiles {
	if d.n == 0 {
		return Percentiles{}
	}
	// One histogram scan for all the points.
	v := d.h.ValueAtPercentilesSlice(windowQuantiles[:])
	return Percentiles{N: d.n, P50: d.clamp(v[0]), P90: d.clamp(v[1]), P95: d.clamp(v[2]), P99: d.clamp(v[3]),
		Mean: d.mean, Max: time.Duration(math.Round(d.max))}
}

var windowQuantiles = [...]float64{50, 90, 95, 99}

// Dist is a latency distribution for other packages' figures (the session
// executor's think times and step costs): the recorder's HDR histogram
// with exact moments. Not safe for concurrent use.
type Dist struct{ d *dist }

// NewDist returns an empty distribution (microsecond resolution, 3
// significant digits, up to 24 h).
func NewDist() *Dist { return &Dist{newDist()} }

// Add records one value.
func (d *Dist) Add(v time.Duration) { d.d.addDur(v) }

// Stats summarises what was recorded.
func (d *Dist) Stats() Stats { return d.d.stats() }

// StatsMS is Stats in milliseconds, as other sections of summary.json
// (sessions, turns) write a distribution.
type StatsMS struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// MS converts s to milliseconds.
func (s Stats) MS() StatsMS {
	return StatsMS{Count: s.N, Mean: ms(s.Mean), P50: msd(s.P50), P90: msd(s.P90), P95: msd(s.P95), P99: msd(s.P99), Max: msd(s.Max)}
}
