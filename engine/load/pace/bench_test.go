package pace

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// BenchmarkPacer measures the pacer's own cost per plan: every plan is
// already due, so the time is channel receive + clock read + release.
func BenchmarkPacer(b *testing.B) {
	plans := make([]request.Plan, 1024)
	in := make(chan *request.Plan, 1024)
	go func() {
		defer close(in)
		for i := range b.N {
			in <- &plans[i%len(plans)]
		}
	}()
	n := 0
	b.ResetTimer()
	err := NewPacer(time.Now()).Run(context.Background(), in, func(*request.Plan, time.Duration) { n++ })
	b.StopTimer()
	if err != nil || n != b.N {
		b.Fatalf("Run: %v, released %d of %d", err, n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "plans/s")
}

// BenchmarkPacerSendLag runs the pacer on the real clock at 2,000 plans/s
// and reports how late releases are (released - due): the pacer's timing
// error on this machine. One op is one plan, so ns/op is about 500µs.
func BenchmarkPacerSendLag(b *testing.B) {
	const rate = 2000
	s := Constant(rate)
	plans := make([]request.Plan, b.N)
	for i := range plans {
		plans[i] = request.Plan{Seq: int64(i), Due: s.Due(0)}
	}
	in := make(chan *request.Plan, 4096)
	epoch := time.Now().Add(20 * time.Millisecond)
	go func() {
		defer close(in)
		for i := range plans {
			in <- &plans[i]
		}
	}()
	lags := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	err := NewPacer(epoch).Run(context.Background(), in, func(p *request.Plan, released time.Duration) {
		lags = append(lags, released-p.Due)
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(lags)
	q := func(f float64) float64 { return float64(lags[int(f*float64(len(lags)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-lag-µs")
	b.ReportMetric(q(0.99), "p99-lag-µs")
	b.ReportMetric(q(1), "max-lag-µs")
}

// BenchmarkGate measures Submit through done with an instant executor.
func BenchmarkGate(b *testing.B) {
	var plan request.Plan
	done := make(chan struct{}, 1024)
	g := NewGate(16, Queue, time.Now(), func(context.Context, *request.Plan, *request.Result) {}, func(*request.Result) { done <- struct{}{} })
	go func() {
		for i := range b.N {
			g.Submit(&plan, time.Duration(i))
		}
	}()
	for range b.N {
		<-done
	}
	b.StopTimer()
	g.Close()
}
