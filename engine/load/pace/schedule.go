// Package pace decides when each request is sent and how many may be in
// flight at once.
//
// A Schedule turns each source row's arrival instant into a due offset from
// the run's start. The Pacer releases plans at those offsets on an absolute
// clock, so a slow moment never accumulates into drift. The Gate caps the
// number of requests in flight and either queues the excess (recording how
// long each one waited) or drops it with request.ErrDropped.
package pace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/llmload/llmload/engine/shared/randdist"
)

// Schedule maps each successive row's arrival instant to a due offset from
// the run start. Due is called once per row, in source order, and returns
// non-decreasing offsets, which is what the Pacer expects. A schedule that
// has no more arrivals (Stages after its last stage, Func when its function
// says so) returns End, and the planner stops there.
//
// A Schedule is not safe for concurrent use: the planner goroutine owns it.
// The one exception is RateSetter, whose methods any goroutine may call
// while Due runs.
type Schedule interface {
	Due(at time.Duration) time.Duration
}

// End is what Due returns when the schedule has no more arrivals: the
// planner must not plan the row it was asked about, nor any later one.
const End = time.Duration(math.MaxInt64)

// RateSetter is implemented by the schedules whose mean rate can change
// while a run goes: Constant, Poisson and Gamma. SetRate and Rate are safe
// for concurrent use with each other and with Due (the rate is an atomic
// value), so a hook or a control loop may call them from any goroutine.
//
// A new rate applies from the next gap Due draws; the gap already drawn
// keeps the old rate. Since the planner builds plans up to its lookahead
// (2 s by default) ahead of their due time, a change reaches the wire
// after about the lookahead plus one old gap.
type RateSetter interface {
	// SetRate sets the mean rate in requests per second. It must be > 0
	// (+Inf sends at once); anything else is refused with an error and
	// the rate stays as it was.
	SetRate(rate float64) error
	// Rate is the current mean rate.
	Rate() float64
}

// liveRate is a rate that one goroutine reads in Due and others may set.
type liveRate struct{ bits atomic.Uint64 }

func newLiveRate(r float64) *liveRate {
	l := &liveRate{}
	l.bits.Store(math.Float64bits(r))
	return l
}

func (l *liveRate) load() float64 { return math.Float64frombits(l.bits.Load()) }

func (l *liveRate) SetRate(rate float64) error {
	if !(rate > 0) {
		return fmt.Errorf("pace: rate must be > 0 requests per second, got %v", rate)
	}
	l.bits.Store(math.Float64bits(rate))
	return nil
}

func (l *liveRate) Rate() float64 { return l.load() }

// mustPositive panics on a rate or speed-up that cannot describe a schedule.
// The constructors take plain floats because the scripting layer validates
// user input (and names the offending field) before it gets here; reaching
// this panic is a programming error.
func mustPositive(what string, v float64) {
	if !(v > 0) { // also catches NaN
		panic(fmt.Sprintf("pace: %s must be > 0, got %v", what, v))
	}
}

// seconds converts a float number of seconds to a Duration, rounded to the
// nearest nanosecond and saturating instead of overflowing.
func seconds(s float64) time.Duration {
	ns := math.Round(s * float64(time.Second))
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

type replay struct {
	speedup float64
	started bool
	at0     time.Duration
	last    time.Duration
}

// Replay keeps a trace's own timing, compressed by speedup: due = (at - at0)
// / speedup, where at0 is the first row's instant. A row earlier than the
// one before it (an unsorted trace) is due together with its predecessor
// rather than in the past, so due times never decrease. speedup must be > 0.
func Replay(speedup float64) Schedule {
	mustPositive("replay speedup", speedup)
	return &replay{speedup: speedup}
}

// RowTimed is implemented by schedules whose due times come from the
// rows' own arrival instants (Replay): the planner must read a row before
// asking when it is due. Every other schedule is asked first, so that no
// row is read that will not be sent (a Lua source counting its rows sees
// exactly the requests).
type RowTimed interface {
	UsesRowTime()
}

// UsesRowTime implements RowTimed.
func (r *replay) UsesRowTime() {}

func (r *replay) Due(at time.Duration) time.Duration {
	if !r.started {
		r.started, r.at0 = true, at
	}
	d := time.Duration(math.Round(float64(at-r.at0) / r.speedup))
	if d < r.last {
		d = r.last
	}
	r.last = d
	return d
}

type constant struct {
	*liveRate
	cur  float64 // the rate of the current segment
	base float64 // seconds: the due of the segment's arrival number 0
	n    int64   // arrivals of the segment so far
	last float64 // the latest due returned, seconds
}

// Constant spaces requests evenly at rate per second, ignoring the rows'
// own instants: the i-th row (from 0) is due at i/rate. Each due time is
// computed from the index, so rounding never accumulates. rate must be > 0;
// +Inf sends everything at once. The schedule is a RateSetter: after a
// change the next row is due 1/rate after the previous one, and the index
// counts again from there.
func Constant(rate float64) Schedule {
	mustPositive("constant rate", rate)
	return &constant{liveRate: newLiveRate(rate), cur: rate}
}

func (c *constant) Due(time.Duration) time.Duration {
	if r := c.load(); r != c.cur {
		if c.n > 0 { // a new segment starting at the last arrival
			c.base, c.n = c.last, 1
		}
		c.cur = r
	}
	c.last = c.base + float64(c.n)/c.cur
	c.n++
	return seconds(c.last)
}

type poisson struct {
	*liveRate
	rng   *rand.Rand
	t     float64 // seconds since the first arrival
	first bool
}

// Poisson draws arrivals of a Poisson process at rate per second: gaps are
// independent and exponential with mean 1/rate. The first row is due at 0,
// so a run starts with a request rather than an idle random wait. The same
// seed gives the same sequence. rate must be > 0. The schedule is a
// RateSetter; a Poisson process has no memory, so a change simply draws
// the following gaps at the new rate.
func Poisson(rate float64, seed uint64) Schedule {
	mustPositive("poisson rate", rate)
	return &poisson{liveRate: newLiveRate(rate), rng: newRand(seed), first: true}
}

func (p *poisson) Due(time.Duration) time.Duration {
	if p.first {
		p.first = false
		return 0
	}
	p.t += p.rng.ExpFloat64() / p.load()
	return seconds(p.t)
}

type gamma struct {
	*liveRate
	shape float64
	rng   *rand.Rand
	t     float64
	first bool
}

// Gamma draws gaps from a gamma distribution with mean 1/rate and shape
// burstiness, as vLLM's benchmark does: burstiness 1 is a Poisson process,
// below 1 arrivals come in bursts, above 1 they are more regular (the gaps'
// coefficient of variation is 1/sqrt(burstiness)). The first row is due at
// 0. rate and burstiness must be > 0. The schedule is a RateSetter: later
// gaps keep the shape and take the new mean.
func Gamma(rate, burstiness float64, seed uint64) Schedule {
	mustPositive("gamma rate", rate)
	mustPositive("gamma burstiness", burstiness)
	return &gamma{liveRate: newLiveRate(rate), shape: burstiness, rng: newRand(seed), first: true}
}

func (g *gamma) Due(time.Duration) time.Duration {
	if g.first {
		g.first = false
		return 0
	}
	// scale = 1/(rate*shape) keeps the mean gap at 1/rate.
	g.t += randdist.Gamma(g.rng, g.shape) / (g.load() * g.shape)
	return seconds(g.t)
}

func newRand(seed uint64) *rand.Rand {
	// The second PCG word is fixed so that one user-visible seed names one
	// sequence.
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}
