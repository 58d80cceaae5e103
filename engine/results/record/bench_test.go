package record

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// benchResult is a typical chat request: 200 tokens, one per event.
func benchResult() *request.Result {
	tt := make([]time.Duration, 200)
	for i := range tt {
		tt[i] = 150*time.Millisecond + time.Duration(i)*20*time.Millisecond
	}
	return &request.Result{
		Scenario: "conv", SourceLine: 17, Scheduled: time.Second, Released: time.Second, Dispatched: time.Second,
		Sent: time.Second + 50*time.Microsecond, Headers: time.Second + 100*time.Millisecond,
		FirstToken: time.Second + 150*time.Millisecond, LastByte: time.Second + 4200*time.Millisecond,
		TokenTimes: tt, Status: 200, BytesSent: 4100, BytesRecv: 60000, SSEEvents: 202,
		PromptTokensRequested: 1000, PromptTokens: 1003, CompletionTokens: 200, UsageFromServer: true,
		MaxTokens: 200, FinishReason: "length",
	}
}

func benchRecord(b *testing.B, outDir string) {
	r, err := New(Config{Name: "bench", OutDir: outDir, Epoch: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		res := benchResult()
		for pb.Next() {
			n := seq.Add(1)
			// Spread finishes over windows (100 per second) so rotation
			// costs are included.
			shift := time.Duration(n) * 10 * time.Millisecond
			res.Seq = n
			res.Sent, res.FirstToken, res.LastByte = time.Second+shift, 1150*time.Millisecond+shift, 5200*time.Millisecond+shift
			r.Record(res)
		}
	})
	b.StopTimer()
	if _, err := r.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRecord: aggregates only (OutDir "").
func BenchmarkRecord(b *testing.B) { benchRecord(b, "") }

// BenchmarkRecordFiles: aggregates plus the requests.jsonl line (a 200-token
// ITL array) handed to the background writer.
func BenchmarkRecordFiles(b *testing.B) { benchRecord(b, b.TempDir()) }

// BenchmarkSnapshot takes snapshots 10 s into a run whose results all
// finished in the first 5 s: the costlier path, where the window in
// progress is frozen and the idle intervals since are filled in.
func BenchmarkSnapshot(b *testing.B) {
	r, err := New(Config{Name: "bench", Epoch: time.Now().Add(-10 * time.Second)})
	if err != nil {
		b.Fatal(err)
	}
	res := benchResult()
	for i := range 10000 {
		res.Seq = int64(i)
		r.Record(res)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_ = r.Snapshot()
	}
}
