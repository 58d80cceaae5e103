package record

import (
	"maps"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// Window is what finished in one sample interval [Start, Start+Len), by
// each result's finish instant (its last byte; a dropped plan's release).
// Windows are aligned to the run's epoch. A Window is immutable once it is
// in a Snapshot or a Summary, and safe to share between goroutines.
type Window struct {
	Start time.Duration // offset from the epoch
	Len   time.Duration // the interval; less for the window in progress or the run's last
	// Partial is true for the window in progress and for the run's last,
	// which ends at the last completion.
	Partial bool

	Count     int64 // results finished, failed and dropped ones included
	Completed int64
	Failed    int64
	Good      int64                        // completed requests that met the SLO (Config.SLO)
	Warmup    int64                        // results of the warm-up (in the counts above, not in the summary)
	Errors    map[request.ErrorClass]int64 // nil when there were none

	InputTokens, OutputTokens int64 // over completed requests
	BytesSent, BytesRecv      int64 // over every result

	TTFT, TPOT, E2EL Percentiles // completed requests only
	// TTFT of the completed requests of session scenarios: first turns,
	// and the turns after them (N 0 in other runs).
	FirstTurnTTFT, LaterTurnTTFT Percentiles
	QueueTime                    Percentiles // every request that reached a worker
	ScheduleLag                  Percentiles // every request
}

// RequestRate is completed requests per second over the window's length.
func (w *Window) RequestRate() float64 { return perSecond(w.Completed, w.Len) }

// GoodRate is good requests (completed within the SLO) per second over the
// window's length: the window's request goodput.
func (w *Window) GoodRate() float64 { return perSecond(w.Good, w.Len) }

// OutputTokenRate is output tokens per second over the window's length.
func (w *Window) OutputTokenRate() float64 { return perSecond(w.OutputTokens, w.Len) }

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// winAcc accumulates the window in progress. Its histograms are reset and
// reused when it rotates, so rotation allocates only the finished Window.
type winAcc struct {
	idx                        int64 // window number: Start = idx * interval
	count, completed, failed   int64
	good, warmup               int64
	errors                     map[request.ErrorClass]int64
	inTok, outTok, sent, recvd int64
	ttft, tpot, e2el           *dist
	queue, lag                 *dist
	turn1, later               *dist // sessions' TTFT by turn; nil until a session result comes
}

func newWinAcc() *winAcc {
	d := func() *dist { return newDistDigits(windowDigits) }
	return &winAcc{ttft: d(), tpot: d(), e2el: d(), queue: d(), lag: d()}
}

func (a *winAcc) reset(idx int64) {
	a.idx = idx
	a.count, a.completed, a.failed = 0, 0, 0
	a.good, a.warmup = 0, 0
	a.inTok, a.outTok, a.sent, a.recvd = 0, 0, 0, 0
	clear(a.errors)
	for _, d := range [...]*dist{a.ttft, a.tpot, a.e2el, a.queue, a.lag, a.turn1, a.later} {
		if d != nil && d.n > 0 {
			d.reset()
		}
	}
}

// window freezes the accumulator into a Window of the given length.
func (a *winAcc) window(interval, length time.Duration, partial bool) *Window {
	w := &Window{
		Start: time.Duration(a.idx) * interval, Len: length, Partial: partial,
		Count: a.count, Completed: a.completed, Failed: a.failed, Good: a.good, Warmup: a.warmup,
		InputTokens: a.inTok, OutputTokens: a.outTok, BytesSent: a.sent, BytesRecv: a.recvd,
		TTFT: a.ttft.percentiles(), TPOT: a.tpot.percentiles(), E2EL: a.e2el.percentiles(),
		QueueTime: a.queue.percentiles(), ScheduleLag: a.lag.percentiles(),
	}
	if a.turn1 != nil {
		w.FirstTurnTTFT, w.LaterTurnTTFT = a.turn1.percentiles(), a.later.percentiles()
	}
	if len(a.errors) > 0 {
		w.Errors = maps.Clone(a.errors)
	}
	return w
}

// add folds res into the window; good says whether it met the SLO.
func (a *winAcc) add(res *request.Result, good bool) {
	a.count++
	a.sent += res.BytesSent
	a.recvd += res.BytesRecv
	a.lag.addDur(res.ScheduleLag())
	if res.Error != request.ErrDropped {
		a.queue.addDur(res.QueueTime())
	}
	if res.Failed() {
		a.failed++
		if a.errors == nil {
			a.errors = map[request.ErrorClass]int64{}
		}
		a.errors[res.Error]++
		return
	}
	a.completed++
	if good {
		a.good++
	}
	a.inTok += InputTokens(res)
	a.outTok += int64(res.CompletionTokens)
	if res.FirstToken != 0 {
		a.ttft.addDur(res.TTFT())
		if turn := res.Session.Turn; turn > 0 {
			if a.turn1 == nil {
				a.turn1, a.later = newDistDigits(windowDigits), newDistDigits(windowDigits)
			}
			if turn == 1 {
				a.turn1.addDur(res.TTFT())
			} else {
				a.later.addDur(res.TTFT())
			}
		}
	}
	if tpot, ok := res.TPOT(); ok {
		a.tpot.addDur(tpot)
	}
	a.e2el.addDur(res.E2E())
}

func emptyWindow(idx int64, interval time.Duration) *Window {
	return &Window{Start: time.Duration(idx) * interval, Len: interval}
}

// ring keeps the last RingSize finished windows for snapshots.
type ring struct {
	buf  [RingSize]*Window
	next int
	n    int
}

func (r *ring) push(w *Window) {
	r.buf[r.next] = w
	r.next = (r.next + 1) % RingSize
	r.n = min(r.n+1, RingSize)
}

// appendTo appends the windows oldest first.
func (r *ring) appendTo(dst []*Window) []*Window {
	start := (r.next - r.n + RingSize) % RingSize
	for i := range r.n {
		dst = append(dst, r.buf[(start+i)%RingSize])
	}
	return dst
}
