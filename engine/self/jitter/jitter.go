package jitter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/llmload/llmload/engine/shared/monoclock"
)

// Config configures a probe.
type Config struct {
	// Interval between two deadlines of one thread; 0 means 500 µs. A
	// stall shorter than the interval can fall between two deadlines.
	Interval time.Duration
	// Threshold is the lateness from which a wake-up counts as a stall;
	// 0 means 1 ms.
	Threshold time.Duration
	// CPUs to probe, one pinned thread each; empty means every CPU the
	// process may run on.
	CPUs []int
}

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = 500 * time.Microsecond
	}
	if c.Threshold <= 0 {
		c.Threshold = time.Millisecond
	}
	return c
}

// Stall is one wake-up that came at least Threshold late: the thread
// pinned to CPU asked to run at At (CLOCK_MONOTONIC ns) and ran Late
// after it. The machine did not run it during [At, At+Late).
type Stall struct {
	CPU  int
	At   int64
	Late time.Duration
}

// End is the instant the stalled thread ran again.
func (s Stall) End() int64 { return s.At + int64(s.Late) }

// CPUReport is what one thread measured.
type CPUReport struct {
	CPU     int           `json:"cpu"`
	Wakeups int64         `json:"wakeups"`
	Stalls  int64         `json:"stalls"`     // wake-ups at least Threshold late
	Stalled time.Duration `json:"stalled_ns"` // sum of the stalls' lateness
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	Max     time.Duration `json:"max_ns"`
}

// StallPercent is the share of wake-ups that were stalls, in percent.
func (c CPUReport) StallPercent() float64 { return pct(c.Stalls, c.Wakeups) }

// Report is a probe's result.
type Report struct {
	Interval  time.Duration `json:"interval_ns"`
	Threshold time.Duration `json:"threshold_ns"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	CPUs      []CPUReport   `json:"cpus"`
}

// Totals sums the CPUs: wake-ups, stalls, stalled time and the longest
// stall.
func (r *Report) Totals() (wakeups, stalls int64, stalled, longest time.Duration) {
	for _, c := range r.CPUs {
		wakeups += c.Wakeups
		stalls += c.Stalls
		stalled += c.Stalled
		longest = max(longest, c.Max)
	}
	return
}

// ErrUnsupported is returned by Run where threads cannot be pinned or
// sleep to absolute deadlines (everywhere but Linux).
var ErrUnsupported = errors.New("jitter: the probe needs Linux (sched_setaffinity, clock_nanosleep)")

// Run probes until ctx is done and returns what every thread measured.
// onStall, when set, is called for each stall as it happens, from the
// probe threads (concurrently: it must be safe for concurrent use, and
// quick, or it delays the next deadline of its thread).
func Run(ctx context.Context, cfg Config, onStall func(Stall)) (*Report, error) {
	cfg = cfg.withDefaults()
	cpus := cfg.CPUs
	if len(cpus) == 0 {
		var err error
		if cpus, err = allowedCPUs(); err != nil {
			return nil, err
		}
	}
	start := monoclock.Now()
	type out struct {
		rep CPUReport
		err error
	}
	results := make(chan out, len(cpus))
	for _, cpu := range cpus {
		go func() {
			rep, err := runPinned(ctx, cpu, cfg, onStall)
			results <- out{rep, err}
		}()
	}
	rep := &Report{Interval: cfg.Interval, Threshold: cfg.Threshold}
	var errs []error
	for range cpus {
		o := <-results
		if o.err != nil {
			errs = append(errs, o.err)
			continue
		}
		rep.CPUs = append(rep.CPUs, o.rep)
	}
	rep.Elapsed = time.Duration(monoclock.Now() - start)
	sort.Slice(rep.CPUs, func(i, j int) bool { return rep.CPUs[i].CPU < rep.CPUs[j].CPU })
	return rep, errors.Join(errs...)
}

// clock is what one probe thread needs of the machine: the time, and a
// sleep to an absolute instant. Tests substitute a scripted one.
type clock interface {
	now() int64
	sleepUntil(t int64)
}

// probe is one thread's loop: sleep to each deadline, record how late it
// woke. When it wakes past the next deadline it skips to the first one
// still ahead (a stall is one stall, not a burst of late wake-ups).
func probe(ctx context.Context, cpu int, cfg Config, c clock, onStall func(Stall)) CPUReport {
	rep := CPUReport{CPU: cpu}
	lat := newLatencyHist()
	step := int64(cfg.Interval)
	next := c.now() + step
	for ctx.Err() == nil {
		c.sleepUntil(next)
		woke := c.now()
		late := time.Duration(max(woke-next, 0))
		rep.Wakeups++
		lat.add(late)
		if late >= cfg.Threshold {
			rep.Stalls++
			rep.Stalled += late
			if onStall != nil {
				onStall(Stall{CPU: cpu, At: next, Late: late})
			}
		}
		next += step
		if next <= woke {
			next += (woke-next)/step*step + step
		}
	}
	rep.P50, rep.P99, rep.Max = lat.quantile(0.50), lat.quantile(0.99), lat.max
	return rep
}

// latencyHist holds wake-up lateness in an HDR histogram (the one the
// recorder and calibrate use): microsecond units from 1 µs to a minute,
// two significant digits, a few kilobytes whatever the probe's length.
// The largest value is kept exactly.
type latencyHist struct {
	h   *hdrhistogram.Histogram
	max time.Duration
}

const latencyHighest = int64(time.Minute / time.Microsecond)

func newLatencyHist() *latencyHist {
	return &latencyHist{h: hdrhistogram.New(1, latencyHighest, 2)}
}

func (h *latencyHist) add(d time.Duration) {
	_ = h.h.RecordValue(min(max(int64(d/time.Microsecond), 0), latencyHighest))
	h.max = max(h.max, d)
}

// quantile returns the histogram's value at quantile q (0..1), capped at
// the largest value seen.
func (h *latencyHist) quantile(q float64) time.Duration {
	if h.h.TotalCount() == 0 {
		return 0
	}
	v := time.Duration(h.h.ValueAtQuantile(q*100)) * time.Microsecond
	return min(v, h.max)
}

// Stalls is a set of stalls, for asking whether an interval of another
// process's time overlaps any of them. The zero value is empty; Add and
// Overlaps must not run concurrently.
type Stalls struct {
	s      []Stall
	sorted bool
	maxLen int64
}

// Add adds a stall.
func (ss *Stalls) Add(s Stall) {
	ss.s = append(ss.s, s)
	ss.sorted = false
	ss.maxLen = max(ss.maxLen, int64(s.Late))
}

// Len is the number of stalls.
func (ss *Stalls) Len() int { return len(ss.s) }

// Overlaps reports whether [from, to] (CLOCK_MONOTONIC ns) overlaps a
// stall of any CPU.
func (ss *Stalls) Overlaps(from, to int64) bool {
	if len(ss.s) == 0 || to < from {
		return false
	}
	if !ss.sorted {
		slices.SortFunc(ss.s, func(a, b Stall) int {
			switch {
			case a.At < b.At:
				return -1
			case a.At > b.At:
				return 1
			}
			return 0
		})
		ss.sorted = true
	}
	// Stalls starting after to cannot overlap; of those starting before,
	// only ones that began at most maxLen before from can reach it.
	hi := sort.Search(len(ss.s), func(i int) bool { return ss.s[i].At > to })
	for i := hi - 1; i >= 0; i-- {
		s := ss.s[i]
		if s.At < from-ss.maxLen {
			break
		}
		if s.End() >= from {
			return true
		}
	}
	return false
}

// Covered is how much of [from, to] lies inside at least one stall, of
// any CPU: the time the machine was seen not running a thread that asked
// to run.
func (ss *Stalls) Covered(from, to int64) time.Duration {
	if to <= from {
		return 0
	}
	iv := make([][2]int64, 0, len(ss.s))
	for _, s := range ss.s {
		a, b := max(s.At, from), min(s.End(), to)
		if a < b {
			iv = append(iv, [2]int64{a, b})
		}
	}
	slices.SortFunc(iv, func(x, y [2]int64) int {
		switch {
		case x[0] < y[0]:
			return -1
		case x[0] > y[0]:
			return 1
		}
		return 0
	})
	var total, curA, curB int64
	curA, curB = -1, -1
	for _, v := range iv {
		if curB < 0 || v[0] > curB {
			if curB >= 0 {
				total += curB - curA
			}
			curA, curB = v[0], v[1]
			continue
		}
		curB = max(curB, v[1])
	}
	if curB >= 0 {
		total += curB - curA
	}
	return time.Duration(total)
}

// String is a one-line summary.
func (r *Report) String() string {
	w, n, stalled, longest := r.Totals()
	return fmt.Sprintf("%d wake-ups on %d CPUs, %d stalls >= %v (%.3f%%), stalled %v, longest %v",
		w, len(r.CPUs), n, r.Threshold, pct(n, w), stalled.Round(time.Microsecond), longest.Round(time.Microsecond))
}

func pct(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}
