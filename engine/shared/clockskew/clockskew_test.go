package clockskew

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A server whose clock runs 3.4 s ahead: the Date headers' bound holds
// the true offset and is at most 1 s + DateStale + the round trip wide.
func TestDateHeaderBoundsTheOffset(t *testing.T) {
	const skew = 3400 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(skew).UTC().Format(http.TimeFormat))
	}))
	defer srv.Close()
	var e Estimator
	hc := &http.Client{Transport: e.Transport(nil)}
	for range 3 {
		resp, err := hc.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	est := e.Estimate()
	if !est.OK || est.Method != MethodDate {
		t.Fatalf("estimate %+v", est)
	}
	if lo, hi := est.Offset-est.Uncertainty, est.Offset+est.Uncertainty; -skew < lo || -skew > hi {
		t.Errorf("offset %v ± %v does not hold the true %v", est.Offset, est.Uncertainty, -skew)
	}
	if est.Uncertainty > (time.Second+DateStale)/2+time.Second {
		t.Errorf("uncertainty %v: wider than the header's resolution explains", est.Uncertainty)
	}
}

// Receipts beat Date headers, and intersecting them narrows the bound.
func TestReceiptsNarrowTheBound(t *testing.T) {
	var e Estimator
	base := time.Unix(1_800_000_000, 0)
	const skew = -250 * time.Millisecond // server behind
	e.ObserveDate(base, base.Add(time.Millisecond), base.Add(skew).UTC().Format(http.TimeFormat))
	for k, rtt := range []time.Duration{9 * time.Millisecond, 4 * time.Millisecond, 6 * time.Millisecond} {
		sent := base.Add(time.Duration(k) * time.Second)
		recv := sent.Add(rtt / 3) // the server read its clock a third of the way
		e.ObserveReceipt(recv.Add(skew), sent, sent.Add(rtt))
	}
	est := e.Estimate()
	if est.Method != MethodReceipt || !est.OK {
		t.Fatalf("estimate %+v", est)
	}
	if d := est.Offset - (-skew); d < -est.Uncertainty || d > est.Uncertainty || est.Uncertainty > 2*time.Millisecond {
		t.Errorf("offset %v ± %v, want %v within the narrowest round trip", est.Offset, est.Uncertainty, -skew)
	}
}

func TestNoHeaderNoEstimate(t *testing.T) {
	var e Estimator
	e.ObserveDate(time.Now(), time.Now(), "")
	e.ObserveDate(time.Now(), time.Now(), "yesterday")
	if est := e.Estimate(); est.OK || est.Method != MethodNone {
		t.Errorf("estimate %+v from no usable header", est)
	}
}
