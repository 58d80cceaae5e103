package report

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// writeLargeRun writes a results directory of n requests in
// requests.jsonl's format, with outputs of 50 to 350 tokens (mean 200,
// so about 200 ITLs a request), 1 s windows and a server scrape each
// second.
func writeLargeRun(b *testing.B, dir string, n int) {
	rng := rand.New(rand.NewPCG(1, 2))
	f, err := os.Create(filepath.Join(dir, "requests.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rate := 100.0 // requests per second
	var line []byte
	for i := range n {
		due := float64(i) / rate * 1e3
		ttft := 40 + rng.ExpFloat64()*30
		out := 50 + rng.IntN(301)
		itl := 8 + rng.Float64()*4
		e2e := ttft + itl*float64(out-1)
		line = fmt.Appendf(line[:0], `{"seq":%d,"scenario":"big","source_line":0,"scheduled_ms":%.6f,"released_ms":%.6f,"dispatched_ms":%.6f,"sent_ms":%.6f,"headers_ms":%.6f,"first_token_ms":%.6f,"last_byte_ms":%.6f,"ttft_ms":%.6f,"tpot_ms":%.6f,"e2el_ms":%.6f,"ttft_from_schedule_ms":%.6f,"e2el_from_schedule_ms":%.6f,"client_queue_time_ms":0.01,"schedule_lag_ms":0.2,"itl_ms":[`,
			i, due, due+0.2, due+0.21, due+0.22, due+2, due+0.22+ttft, due+0.22+e2e, ttft, itl, e2e, ttft+0.22, e2e+0.22)
		for k := 1; k < out; k++ {
			if k > 1 {
				line = append(line, ',')
			}
			line = strconv.AppendFloat(line, itl+rng.NormFloat64()*0.3, 'f', 6, 64)
		}
		line = fmt.Appendf(line, `],"token_events":%d,"status":200,"error":null,"error_msg":"","prompt_tokens":%d,"prompt_tokens_requested":%d,"completion_tokens":%d,"usage_from_server":true,"max_tokens":%d,"finish_reason":"length","truncated":false,"bytes_sent":1500,"bytes_recv":20000,"sse_events":%d,"tags":{"kind":"k%d"},"good":true}`+"\n",
			out, 1000+i%500, 1000+i%500, out, out, out+2, i%3)
		w.Write(line)
	}
	w.Flush()
	f.Close()
	secs := int(float64(n)/rate) + 5
	var ws, ss bytes.Buffer
	for s := range secs {
		fmt.Fprintf(&ws, `{"start_s":%d,"end_s":%d,"partial":false,"count":100,"completed":100,"failed":0,"good":100,"warmup":0,"errors_by_class":{},"input_tokens":120000,"output_tokens":20000,"bytes_sent":1,"bytes_recv":1,"request_throughput":100,"output_throughput":20000,"request_goodput":100,"ttft_count":100,"p50_ttft_ms":60,"p95_ttft_ms":130,"p99_ttft_ms":180,"tpot_count":100,"p50_tpot_ms":10,"p95_tpot_ms":11.5,"p99_tpot_ms":11.9,"e2el_count":100,"p50_e2el_ms":2000,"p95_e2el_ms":3500,"p99_e2el_ms":3900}`+"\n", s, s+1)
		fmt.Fprintf(&ss, `{"t_s":%d,"dt_s":1,"running":40,"waiting":2,"kv_cache_usage":0.3,"generation_tokens_per_s":20000,"prompt_tokens_per_s":120000,"power_w":650,"j_per_generation_token":0.03}`+"\n", s)
	}
	os.WriteFile(filepath.Join(dir, "windows.jsonl"), ws.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "server.jsonl"), ss.Bytes(), 0o644)
	summary := fmt.Sprintf(`{"name":"big","started_at":"2026-01-01T00:00:00Z","sample_interval_s":1,"duration":%d,"completed":%d,"failed":0,"request_throughput":100,"mean_ttft_ms":70,"p99_ttft_ms":180,"meta":{"model":"m","seed":1}}`, secs, n)
	os.WriteFile(filepath.Join(dir, "summary.json"), []byte(summary), 0o644)
}

// BenchmarkReport100k builds the report of a 100,000-request run (about
// 20 million ITLs, a 260 MB requests.jsonl): the target is under 5 s and
// an HTML page under 5 MB (reported as html_bytes).
func BenchmarkReport100k(b *testing.B) {
	dir := b.TempDir()
	writeLargeRun(b, dir, 100_000)
	out := filepath.Join(dir, "report.html")
	b.ResetTimer()
	for range b.N {
		if err := WriteFile(out, []string{dir}, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st, err := os.Stat(out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size()), "html_bytes")
	if fi, err := os.Stat(filepath.Join(dir, "requests.jsonl")); err == nil {
		b.ReportMetric(float64(fi.Size()), "requests_jsonl_bytes")
	}
}
