package prom

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/results/record"
)

// benchResult is a typical chat request: 256 output tokens, one per event.
func benchResult() *request.Result {
	tt := make([]time.Duration, 256)
	for i := range tt {
		tt[i] = 50*time.Millisecond + time.Duration(i)*10*time.Millisecond
	}
	return completed(0, tt, nil, len(tt))
}

// BenchmarkObserve is the cost the exporter adds to every finished request
// on the engine's workers (it must not allocate).
func BenchmarkObserve(b *testing.B) {
	reg := prometheus.NewRegistry()
	e, err := New(reg)
	if err != nil {
		b.Fatal(err)
	}
	s, err := e.Scenario(Info{Name: "bench", SLO: record.SLO{TTFT: time.Second}})
	if err != nil {
		b.Fatal(err)
	}
	res := benchResult()
	b.ReportAllocs()
	for b.Loop() {
		s.Observe(res)
	}
}

// BenchmarkObserveParallel observes from every P at once, as the workers
// of a high-concurrency run do.
func BenchmarkObserveParallel(b *testing.B) {
	reg := prometheus.NewRegistry()
	e, err := New(reg)
	if err != nil {
		b.Fatal(err)
	}
	s, err := e.Scenario(Info{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		res := benchResult()
		for pb.Next() {
			s.Observe(res)
		}
	})
}

// BenchmarkObserveShort is a request with a single token event: the fixed
// cost without the per-token ITL loop.
func BenchmarkObserveShort(b *testing.B) {
	reg := prometheus.NewRegistry()
	e, _ := New(reg)
	s, _ := e.Scenario(Info{Name: "bench"})
	res := completed(0, []time.Duration{50 * time.Millisecond}, nil, 1)
	b.ReportAllocs()
	for b.Loop() {
		s.Observe(res)
	}
}

// TestObserveDoesNotAllocate guards the benchmark's promise in every
// test run, for completed, failed and dropped results.
func TestObserveDoesNotAllocate(t *testing.T) {
	_, _, s := newTest(t, Info{Name: "alloc", SLO: record.SLO{TTFT: time.Second, TPOT: time.Second}})
	ok := benchResult()
	ok.TokenCounts = make([]int32, len(ok.TokenTimes))
	for i := range ok.TokenCounts {
		ok.TokenCounts[i] = 2
	}
	failed := &request.Result{Error: request.ErrStall, Sent: time.Second, LastByte: 2 * time.Second}
	dropped := &request.Result{Error: request.ErrDropped}
	for _, r := range []*request.Result{ok, failed, dropped} {
		if n := testing.AllocsPerRun(100, func() { s.Observe(r) }); n != 0 {
			t.Errorf("Observe(%q result) allocates %.1f times", r.Error, n)
		}
	}
}
