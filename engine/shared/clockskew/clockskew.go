// Package clockskew estimates how far this machine's wall clock is from a
// server's, from exchanges that happen anyway: the HTTP Date header of the
// requests made before a run (any server; one-second resolution) and
// llmload's simulator's receipt stamp on the run's own requests
// (nanoseconds). Each exchange bounds the offset to an interval; the
// estimate is the intersection of the intervals, reported as its middle
// and half-width. No exchange is made for it.
//
// An Estimator is safe for concurrent use. A leaf: it imports nothing of
// llmload.
package clockskew

import (
	"net/http"
	"sync"
	"time"
)

// DateStale is how old a Date header may be when it leaves a server:
// fasthttp and uvicorn format it once a second and reuse it, so a header
// can name the previous second as well as the current one (net/http
// formats it per response). With the header's own truncation to the
// second, the server's clock at the response lies in [Date, Date+1s+DateStale).
const DateStale = time.Second

// Methods, as recorded.
const (
	MethodReceipt = "simulator receipt header (nanoseconds; bound: the time from sending to the response headers)"
	MethodDate    = "HTTP Date header of the probes before the run (1 s resolution, 1 s staleness allowed)"
	MethodNone    = "none: no response carried a Date or receipt header"
)

// Estimate is the offset of this machine's clock from the server's
// (local minus server: positive when this machine is ahead), within
// ±Uncertainty. OK is false when nothing bounded it.
type Estimate struct {
	Offset, Uncertainty time.Duration
	Method              string
	OK                  bool
}

// Estimator gathers bounds on the server's clock minus this machine's.
type Estimator struct {
	mu            sync.Mutex
	date, receipt bound
}

// bound is an interval known to hold server-minus-local.
type bound struct {
	lo, hi time.Duration
	n      int
}

// add intersects b with [lo, hi]. Intervals that do not meet (a clock
// stepped between the exchanges) widen b to hold both instead, so the
// estimate never claims more than the exchanges show.
func (b *bound) add(lo, hi time.Duration) {
	if b.n == 0 {
		b.lo, b.hi = lo, hi
	} else if lo > b.hi || hi < b.lo {
		b.lo, b.hi = min(b.lo, lo), max(b.hi, hi)
	} else {
		b.lo, b.hi = max(b.lo, lo), min(b.hi, hi)
	}
	b.n++
}

// ObserveDate takes one response's Date header: the request left at sent
// and the response's headers arrived at received (this machine's clock).
// A missing or malformed header is ignored.
func (e *Estimator) ObserveDate(sent, received time.Time, date string) {
	d, err := http.ParseTime(date)
	if err != nil || received.Before(sent) {
		return
	}
	// The server's clock read t_s in [d, d+1s+DateStale) at a local
	// instant in [sent, received]: server-local in (d-received, d+1s+DateStale-sent).
	lo := d.Sub(received.Round(0))
	hi := d.Add(time.Second + DateStale).Sub(sent.Round(0))
	e.mu.Lock()
	e.date.add(lo, hi)
	e.mu.Unlock()
}

// ObserveReceipt takes the simulator's receipt of one request: the server
// read its clock at server (wall) while, on this machine, the request had
// been sent at sent and its response headers came at headers.
func (e *Estimator) ObserveReceipt(server, sent, headers time.Time) {
	if headers.Before(sent) {
		return
	}
	lo, hi := server.Sub(headers.Round(0)), server.Sub(sent.Round(0))
	e.mu.Lock()
	e.receipt.add(lo, hi)
	e.mu.Unlock()
}

// Estimate is the best bound so far: the receipt stamps' when there are
// any (far finer), else the Date headers'.
func (e *Estimator) Estimate() Estimate {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, method := e.receipt, MethodReceipt
	if b.n == 0 {
		b, method = e.date, MethodDate
	}
	if b.n == 0 {
		return Estimate{Method: MethodNone}
	}
	mid := b.lo + (b.hi-b.lo)/2
	return Estimate{Offset: -mid, Uncertainty: (b.hi - b.lo) / 2, Method: method, OK: true}
}

// Transport wraps next (nil: http.DefaultTransport) so that every
// response's Date header is observed.
func (e *Estimator) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper{e, next}
}

type roundTripper struct {
	e    *Estimator
	next http.RoundTripper
}

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := time.Now()
	resp, err := t.next.RoundTrip(req)
	if err == nil {
		t.e.ObserveDate(sent, time.Now(), resp.Header.Get("Date"))
	}
	return resp, err
}
