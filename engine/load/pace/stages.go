package pace

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Stage is one leg of a Stages schedule: the rate ramps linearly from where
// the previous stage ended (or the start rate) to Rate over Duration. A
// Duration of 0 jumps to Rate at once.
type Stage struct {
	Rate     float64       // requests per second at the end of the stage, >= 0
	Duration time.Duration // length of the ramp, >= 0
}

// stages is k6's ramping-arrival-rate executor as a Schedule. The rate
// r(t) is piecewise linear; the n-th arrival (n = 1, 2, ...) is due at the
// instant where the integral of r from 0 reaches target_n. With evenly
// spread arrivals target_n = n, exactly as k6 computes them; with Poisson
// arrivals target_n is a sum of n unit exponentials, which makes the
// arrivals a non-homogeneous Poisson process with intensity r(t) (by the
// time-change theorem).
type stages struct {
	stages []Stage
	rng    *rand.Rand // nil: evenly spread

	i          int           // current stage
	stageStart time.Duration // start of stage i, exact sum of durations
	from       float64       // rate at the start of stage i
	done       float64       // integral of the rate up to stage i's start
	target     float64       // integral at which the next arrival is due
	ended      bool
}

// Stages returns k6's ramping-arrival-rate schedule: starting at start
// requests per second, each stage ramps linearly to its Rate over its
// Duration, and arrival n (from 1) is due where the rate's integral reaches
// n. The first arrival is therefore not at 0 but when one request's worth
// of rate has accumulated (at 1/rate for a flat stage, sqrt(2·D/R) into a
// ramp from 0 to R over D seconds). After the last stage Due returns End.
// The rows' own instants are ignored.
func Stages(start float64, stages []Stage) (Schedule, error) {
	return newStages(start, stages, nil)
}

// StagesPoisson is Stages with random arrivals: a Poisson process whose
// intensity follows the same piecewise-linear rate, so the expected number
// of arrivals in any interval is the rate's integral over it. The same seed
// gives the same arrivals.
func StagesPoisson(start float64, stages []Stage, seed uint64) (Schedule, error) {
	return newStages(start, stages, newRand(seed))
}

func newStages(start float64, st []Stage, rng *rand.Rand) (Schedule, error) {
	if len(st) == 0 {
		return nil, errors.New("pace: stages: at least one stage is needed")
	}
	if !validRate(start) {
		return nil, fmt.Errorf("pace: stages: start rate must be a finite number >= 0, got %v", start)
	}
	for i, s := range st {
		if !validRate(s.Rate) {
			return nil, fmt.Errorf("pace: stages: stage %d: rate must be a finite number >= 0, got %v", i+1, s.Rate)
		}
		if s.Duration < 0 {
			return nil, fmt.Errorf("pace: stages: stage %d: duration %v is negative", i+1, s.Duration)
		}
	}
	s := &stages{stages: append([]Stage(nil), st...), rng: rng, from: start}
	s.target = s.step()
	return s, nil
}

func validRate(r float64) bool { return r >= 0 && !math.IsInf(r, 0) }

// step is the integral between two arrivals: 1, or a unit exponential.
func (s *stages) step() float64 {
	if s.rng == nil {
		return 1
	}
	return s.rng.ExpFloat64()
}

// Due implements Schedule.
func (s *stages) Due(time.Duration) time.Duration {
	for !s.ended {
		if s.i == len(s.stages) {
			s.ended = true
			break
		}
		st := s.stages[s.i]
		to, dur := st.Rate, st.Duration.Seconds()
		end := s.done + dur*meanRate(s.from, to)
		if s.target <= end {
			x := offsetInStage(s.from, to, dur, s.target-s.done)
			s.target += s.step()
			return s.stageStart + seconds(x)
		}
		s.done = end
		s.from = to
		s.stageStart += st.Duration
		s.i++
	}
	return End
}

// meanRate is the mean rate of a linear ramp from a to b.
func meanRate(a, b float64) float64 { return (a + b) / 2 }

// offsetInStage solves from·x + a·x²/2 = k for x in [0, dur], where
// a = (to-from)/dur is the ramp's slope: the instant, since the stage's
// start, at which k requests' worth of rate has accumulated. The root is
// written as 2k / (from + sqrt(from² + 2ak)), which stays accurate when the
// slope is tiny (no cancellation) and when from is 0.
func offsetInStage(from, to, dur, k float64) float64 {
	if k <= 0 {
		return 0
	}
	var x float64
	if from == to {
		x = k / from
	} else {
		a := (to - from) / dur
		disc := math.Max(from*from+2*a*k, 0) // rounding on a ramp down to 0
		den := from + math.Sqrt(disc)
		if den <= 0 {
			return dur
		}
		x = 2 * k / den
	}
	return math.Min(math.Max(x, 0), dur)
}

// Func is a schedule whose gaps come from a function, for arrival shapes
// that are easier to write than to name (a diurnal curve, a replayed
// pattern). It is not safe for concurrent use; the planner owns it.
type Func struct {
	f     GapFunc
	n     int64
	t     time.Duration
	ended bool
	err   error
}

// GapFunc returns the gap before arrival n (n = 0, 1, ...), whose
// predecessor was due at t (0 for n = 0): arrival n is due at t + gap.
// ok = false ends the schedule; an error ends it too and is kept for Err.
// A negative gap is an error.
type GapFunc func(n int64, t time.Duration) (gap time.Duration, ok bool, err error)

// NewFunc returns a schedule driven by f.
func NewFunc(f GapFunc) *Func { return &Func{f: f} }

// Due implements Schedule. It returns End once f has ended the schedule
// or failed.
func (s *Func) Due(time.Duration) time.Duration {
	if s.ended {
		return End
	}
	gap, ok, err := s.f(s.n, s.t)
	switch {
	case err != nil:
		s.err = fmt.Errorf("arrival %d: %w", s.n, err)
	case !ok:
	case gap < 0:
		s.err = fmt.Errorf("arrival %d: the gap %v is negative", s.n, gap)
	default:
		s.n++
		if gap >= End-s.t {
			s.t = End - 1
		} else {
			s.t += gap
		}
		return s.t
	}
	s.ended = true
	return End
}

// Err is why the schedule ended early: the error of its function, or nil.
// The planner checks it when Due returns End.
func (s *Func) Err() error { return s.err }
