package accuracy

import (
	"math"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/llmload/llmload/engine/load/request"
)

// errDist accumulates signed errors: exact mean and mean magnitude, and
// percentiles of the magnitude from an HDR histogram (1 ns to 100 s, 3
// significant digits: within 0.1%).
type errDist struct {
	n           int64
	sum, absSum float64 // ns
	maxAbs      int64   // ns
	h           *hdrhistogram.Histogram
}

const histHighest = int64(100 * time.Second)

func newErrDist() *errDist {
	return &errDist{h: hdrhistogram.New(1, histHighest, 3)}
}

func (d *errDist) add(v time.Duration) {
	a := int64(v)
	if a < 0 {
		a = -a
	}
	d.n++
	d.sum += float64(v)
	d.absSum += float64(a)
	d.maxAbs = max(d.maxAbs, a)
	_ = d.h.RecordValue(min(max(a, 1), histHighest)) // 0 counts as 1 ns
}

// ErrStats summarises errors (or lags) in milliseconds. Mean is signed;
// the percentiles and Max are of the magnitude.
type ErrStats struct {
	N       int64   `json:"n"`
	Mean    float64 `json:"mean_ms"`
	MeanAbs float64 `json:"mean_abs_ms"`
	P50     float64 `json:"p50_abs_ms"`
	P99     float64 `json:"p99_abs_ms"`
	Max     float64 `json:"max_abs_ms"`
}

func (d *errDist) stats() ErrStats {
	if d.n == 0 {
		return ErrStats{}
	}
	q := func(p float64) float64 {
		if p >= 100 {
			return float64(d.maxAbs) / 1e6
		}
		return math.Min(float64(d.h.ValueAtQuantile(p)), float64(d.maxAbs)) / 1e6
	}
	return ErrStats{
		N: d.n, Mean: d.sum / float64(d.n) / 1e6, MeanAbs: d.absSum / float64(d.n) / 1e6,
		P50: q(50), P99: q(99), Max: float64(d.maxAbs) / 1e6,
	}
}

// accum measures every result of a step against the simulator's promise.
// add is safe for concurrent use (the runner calls it from every worker).
type accum struct {
	ttftTrue, itlTrue time.Duration
	tokens            int
	from, to          time.Duration // the measured span: results sent in it

	mu        sync.Mutex
	ttft, itl *errDist // measured results only
	// The TTFT error split at the simulator's receipt (measured results
	// that carry it): the way there, and the way back.
	toServer, back *errDist
	send, rel      *errDist // every result
	measured       int64
	wrongTokens    int64

	// Sessions steps: the measured TTFT errors of first turns and of the
	// turns after, and the request bytes of every measured turn by its
	// index (turnBytes[k-1] sums turn k's, turnCount[k-1] counts them).
	first, later         *errDist
	turnBytes, turnCount []int64
}

func newAccum(s Step) *accum {
	return &accum{
		ttftTrue: s.TTFT, itlTrue: s.ITL, tokens: s.Tokens,
		// Streams open at the arrival rate: after one stream time the
		// step is at full load. Earlier requests also paid for dials.
		// Sessions steps ramp their users over one turn time.
		from: s.warmup(), to: s.span(),
		ttft: newErrDist(), itl: newErrDist(), send: newErrDist(), rel: newErrDist(),
		toServer: newErrDist(), back: newErrDist(),
		first: newErrDist(), later: newErrDist(),
		turnBytes: make([]int64, s.Turns), turnCount: make([]int64, s.Turns),
	}
}

func (a *accum) add(r *request.Result) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Error == request.ErrDropped {
		return
	}
	a.send.add(r.Sent - r.Scheduled)
	a.rel.add(r.Released - r.Scheduled)
	if r.Failed() {
		return
	}
	if r.CompletionTokens != a.tokens {
		a.wrongTokens++
		return
	}
	if r.Sent < a.from || r.Sent > a.to || r.FirstToken == 0 {
		return
	}
	a.measured++
	a.ttft.add(r.TTFT() - a.ttftTrue)
	if k := r.Session.Turn; k > 0 {
		if k == 1 {
			a.first.add(r.TTFT() - a.ttftTrue)
		} else {
			a.later.add(r.TTFT() - a.ttftTrue)
		}
		if k <= len(a.turnBytes) {
			a.turnBytes[k-1] += r.BytesSent
			a.turnCount[k-1]++
		}
	}
	if r.ServerReceived != 0 {
		// TTFT error = (received - sent) + (first token - received - TTFT).
		a.toServer.add(r.ServerReceived - r.Sent)
		a.back.add(r.FirstToken - r.ServerReceived - a.ttftTrue)
	}
	// Gap i is between token-bearing events i-1 and i; an event that
	// carried k tokens (continuous usage) was due k ITLs after the last.
	for i := 1; i < len(r.TokenTimes); i++ {
		want := a.itlTrue
		if len(r.TokenCounts) > i && r.TokenCounts[i] > 1 {
			want *= time.Duration(r.TokenCounts[i])
		}
		a.itl.add(r.TokenTimes[i] - r.TokenTimes[i-1] - want)
	}
}
