package capacity

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/results/record"
)

// Step end reasons (StepResult.Ended).
const (
	EndedDone      = "done"      // warm-up, minimum time and minimum requests reached
	EndedMaxTime   = "max_time"  // the step's maximum time came first
	EndedSaturated = "saturated" // the over-saturation rule stopped it (saturation.go)
	EndedStopped   = "stopped"   // the run was stopped during it
	EndedSource    = "source"    // the source ran out of rows
)

// StepResult is one step's figures, as summary.json's capacity.steps has
// them. Requests are counted by arrival: a request belongs to the step in
// which it was sent, whenever it finished, and is judged unless it was
// sent during the step's warm-up.
type StepResult struct {
	N       int     `json:"step"` // 1-based
	Level   float64 `json:"level"`
	Verdict Verdict `json:"verdict"`
	// Clear: the goodput's 95% Wilson interval lies wholly on one side of
	// the target (always true for a saturated step).
	Clear bool   `json:"clear"`
	Ended string `json:"ended"`
	// Why is a human reason for a failed or untrusted verdict.
	Why string `json:"why,omitempty"`

	Start    time.Duration `json:"-"` // since the epoch
	Duration time.Duration `json:"-"` // send phase
	Drain    time.Duration `json:"-"` // waiting for the step's last requests
	StartS   float64       `json:"start_s"`
	SendS    float64       `json:"send_s"`
	DrainS   float64       `json:"drain_s"`

	Sent       int64 `json:"sent"`       // every request of the step, warm-up included
	Judged     int64 `json:"judged"`     // sent after the warm-up
	Good       int64 `json:"good"`       // judged requests that met every SLO
	Failed     int64 `json:"failed"`     // judged requests that failed (errors, drops)
	Unfinished int64 `json:"unfinished"` // judged requests still running when the drain ended (counted as not good)

	Goodput     float64 `json:"goodput"` // Good / Judged
	GoodputLow  float64 `json:"goodput_low"`
	GoodputHigh float64 `json:"goodput_high"`

	// Throughput over the send phase, of the judged requests.
	OfferedRPS float64 `json:"offered_rps"` // judged requests sent per second
	RPS        float64 `json:"rps"`         // judged requests completed per second (by arrival)
	GoodRPS    float64 `json:"good_rps"`
	OutputTPS  float64 `json:"output_tok_s"`

	TTFTP50MS float64 `json:"ttft_p50_ms"`
	TTFTP99MS float64 `json:"ttft_p99_ms"`
	TPOTP99MS float64 `json:"tpot_p99_ms"`
	E2EP99MS  float64 `json:"e2e_p99_ms"`

	// Validity: llmload's own delays over the judged requests.
	LagP99MS   float64 `json:"schedule_lag_p99_ms"`
	QueueP99MS float64 `json:"client_queue_p99_ms"`
}

// stepAcc gathers one step's results. record is called from gate
// workers (Plan.Reply) while the executor's goroutine calls the rest, so
// everything is under mu.
type stepAcc struct {
	mu          sync.Mutex
	slo         record.SLO
	outstanding int64 // released and not yet finished
	sending     bool
	drained     chan struct{} // closed when sending ended and outstanding reached 0

	sent, judged, good, failed, completed int64
	outTok                                int64
	ttft, tpot, e2e, lag, queue           []time.Duration

	// For the saturation rule: finished TTFTs since the last tick, and
	// the sum of E2E latencies of completed requests (Little's law).
	tickTTFT []time.Duration
	e2eSum   time.Duration
	e2eN     int64
}

func newStepAcc(slo record.SLO) *stepAcc {
	return &stepAcc{slo: slo, sending: true, drained: make(chan struct{})}
}

// released counts a request as sent; judged says whether it counts.
func (a *stepAcc) released(judged bool) {
	a.mu.Lock()
	a.outstanding++
	a.sent++
	if judged {
		a.judged++
	}
	a.mu.Unlock()
}

// record folds in one finished request.
func (a *stepAcc) record(res *request.Result, judged bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.outstanding--
	if !res.Failed() {
		a.e2eSum += res.E2E()
		a.e2eN++
		if res.FirstToken != 0 {
			a.tickTTFT = append(a.tickTTFT, res.TTFT())
		}
	}
	if judged {
		a.lag = append(a.lag, res.ScheduleLag())
		if res.Error != request.ErrDropped {
			a.queue = append(a.queue, res.QueueTime())
		}
		switch {
		case res.Failed():
			a.failed++
		default:
			a.completed++
			a.outTok += int64(res.CompletionTokens)
			if a.slo.Met(res) {
				a.good++
			}
			if res.FirstToken != 0 {
				a.ttft = append(a.ttft, res.TTFT())
			}
			if tp, ok := res.TPOT(); ok {
				a.tpot = append(a.tpot, tp)
			}
			a.e2e = append(a.e2e, res.E2E())
		}
	}
	if !a.sending && a.outstanding == 0 {
		a.closeDrained()
	}
}

func (a *stepAcc) closeDrained() {
	select {
	case <-a.drained:
	default:
		close(a.drained)
	}
}

// endSending marks the send phase over; drained closes once the last
// outstanding request finished.
func (a *stepAcc) endSending() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sending = false
	if a.outstanding == 0 {
		a.closeDrained()
	}
}

// tick is what the saturation rule samples once per tick.
type tick struct {
	outstanding int64
	ttftP50     time.Duration // of requests that got their first token in the tick; 0 when none
	meanE2E     time.Duration // of every completed request so far in the step; 0 when none
	judged      int64
	bad         int64 // judged requests known not to be good
}

// stepCounts is a step's judged requests so far.
type stepCounts struct{ judged, finished, good int64 }

func (a *stepAcc) counts() stepCounts {
	a.mu.Lock()
	defer a.mu.Unlock()
	return stepCounts{judged: a.judged, finished: a.completed + a.failed, good: a.good}
}

func (a *stepAcc) sample() tick {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := tick{outstanding: a.outstanding, judged: a.judged, bad: a.failed + a.completed - a.good}
	if len(a.tickTTFT) > 0 {
		t.ttftP50 = quantile(a.tickTTFT, 0.5)
		a.tickTTFT = a.tickTTFT[:0]
	}
	if a.e2eN > 0 {
		t.meanE2E = a.e2eSum / time.Duration(a.e2eN)
	}
	return t
}

// result freezes the step's figures; target is the goodput a pass needs.
func (a *stepAcc) result(target float64, send time.Duration) StepResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := StepResult{Sent: a.sent, Judged: a.judged, Good: a.good, Failed: a.failed,
		Unfinished: a.judged - a.completed - a.failed}
	if r.Unfinished < 0 { // warm-up requests are not judged, so cannot go negative; be safe
		r.Unfinished = 0
	}
	if a.judged > 0 {
		r.Goodput = float64(a.good) / float64(a.judged)
		r.GoodputLow, r.GoodputHigh = wilson(a.good, a.judged)
	}
	if s := send.Seconds(); s > 0 {
		r.OfferedRPS = float64(a.judged) / s
		r.RPS = float64(a.completed) / s
		r.GoodRPS = float64(a.good) / s
		r.OutputTPS = float64(a.outTok) / s
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	r.TTFTP50MS, r.TTFTP99MS = ms(quantile(a.ttft, 0.5)), ms(quantile(a.ttft, 0.99))
	r.TPOTP99MS, r.E2EP99MS = ms(quantile(a.tpot, 0.99)), ms(quantile(a.e2e, 0.99))
	r.LagP99MS, r.QueueP99MS = ms(quantile(a.lag, 0.99)), ms(quantile(a.queue, 0.99))
	r.Clear = r.GoodputLow >= target || r.GoodputHigh < target
	return r
}

// quantile is the nearest-rank q-quantile of xs (sorted in place); 0 when
// empty.
func quantile(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

// wilson is the 95% Wilson score interval of a proportion of k in n.
func wilson(k, n int64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	const z = 1.959963984540054
	p, nf := float64(k)/float64(n), float64(n)
	den := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return max(mid-half, 0), min(mid+half, 1)
}
