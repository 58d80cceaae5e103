package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

const us = time.Microsecond

var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Four hand-made results: two completed (one with multi-token events), one
// HTTP error and one dropped. Values stay below 2.048 ms where percentiles
// are checked, the range the histogram holds exactly at microsecond
// resolution, so the expected numbers below are exact.
func syntheticResults() []*request.Result {
	return []*request.Result{
		{
			Seq: 0, Scenario: "chat", SourceLine: 2,
			Scheduled: 0, Released: 10 * us, Dispatched: 30 * us, Sent: 40 * us,
			Headers: 500 * us, FirstToken: 1040 * us, LastByte: 1640 * us,
			TokenTimes: []time.Duration{1000 * us, 1200 * us, 1400 * us, 1600 * us},
			Status:     200, BytesSent: 500, BytesRecv: 2000, SSEEvents: 6,
			PromptTokensRequested: 100, PromptTokens: 103, CompletionTokens: 4, UsageFromServer: true,
			MaxTokens: 4, FinishReason: "length", Tags: map[string]string{"tenant": "a", "kind": "conv"},
		},
		{
			Seq: 1, Scenario: "chat", SourceLine: 3,
			Scheduled: 100 * us, Released: 100 * us, Dispatched: 100 * us, Sent: 120 * us,
			Headers: 300 * us, FirstToken: 1620 * us, LastByte: 2620 * us,
			TokenTimes:  []time.Duration{1500 * us, 1800 * us, 2400 * us},
			TokenCounts: []int32{2, 1, 3},
			Status:      200, BytesSent: 600, BytesRecv: 3000, SSEEvents: 5,
			PromptTokensRequested: 200, PromptTokens: 190, CompletionTokens: 6, UsageFromServer: true,
			MaxTokens: 8, FinishReason: "stop", Truncated: true,
		},
		{
			Seq: 2, Scenario: "chat", SourceLine: 4,
			Scheduled: 200 * us, Released: 210 * us, Dispatched: 250 * us, Sent: 260 * us,
			Headers: 300 * us, LastByte: 310 * us,
			Status: 500, Error: request.ErrHTTPStatus, ErrorMsg: "HTTP 500: \"boom\"\n\x01",
			BytesSent: 400, BytesRecv: 100, PromptTokensRequested: 50, MaxTokens: 10,
		},
		{
			Seq: 3, Scenario: "chat", SourceLine: 5,
			Scheduled: 300 * us, Released: 320 * us, Dispatched: 320 * us,
			Error: request.ErrDropped, ErrorMsg: "not sent", PromptTokensRequested: 70, MaxTokens: 10,
		},
	}
}

func newRecorder(t *testing.T, cfg Config) *Recorder {
	t.Helper()
	if cfg.Epoch.IsZero() {
		cfg.Epoch = epoch
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// meanStd is the reference: population mean and standard deviation.
func meanStd(xs ...float64) (float64, float64) {
	var m float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	var v float64
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, math.Sqrt(v / float64(len(xs)))
}

func approx(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func checkStats(t *testing.T, name string, st Stats, n int64, p50, p90, p95, p99 time.Duration, values ...float64) {
	t.Helper()
	if st.N != n {
		t.Errorf("%s: N = %d, want %d", name, st.N, n)
	}
	mean, std := meanStd(values...)
	approx(t, name+" mean (µs)", st.Mean/1e3, mean)
	approx(t, name+" std (µs)", st.Std/1e3, std)
	if st.P50 != p50 || st.P90 != p90 || st.P95 != p95 || st.P99 != p99 {
		t.Errorf("%s: p50/90/95/99 = %v %v %v %v, want %v %v %v %v", name, st.P50, st.P90, st.P95, st.P99, p50, p90, p95, p99)
	}
}

func TestSummaryExactNumbers(t *testing.T) {
	dir := t.TempDir()
	r := newRecorder(t, Config{Name: "exact", OutDir: dir, Meta: map[string]any{"model": "m", "concurrency": 4}})
	for _, res := range syntheticResults() {
		r.Record(res)
	}
	s, err := r.Close()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}

	if s.Completed != 2 || s.Failed != 2 || s.Dropped != 1 || s.Sent != 3 {
		t.Errorf("completed %d failed %d dropped %d sent %d, want 2 2 1 3", s.Completed, s.Failed, s.Dropped, s.Sent)
	}
	// First send (40µs, seq 0) to last completion (2620µs, seq 1).
	if s.Duration != 2580*us {
		t.Errorf("duration %v, want 2.58ms", s.Duration)
	}
	if s.TotalInputTokens != 103+190 || s.TotalOutputTokens != 4+6 {
		t.Errorf("tokens in %d out %d, want 293 and 10", s.TotalInputTokens, s.TotalOutputTokens)
	}
	approx(t, "request_throughput", s.RequestThroughput, 2/0.00258)
	approx(t, "output_throughput", s.OutputThroughput, 10/0.00258)
	approx(t, "total_token_throughput", s.TotalTokenThroughput, 303/0.00258)
	// Dues 0..300µs for 4 results; sends 40..260µs for 3.
	approx(t, "target_rate", s.TargetRate, 3/0.000300)
	approx(t, "achieved_rate", s.AchievedRate, 2/0.000220)

	// TTFT: 1000, 1500. Nearest rank over two values: p50 is the first.
	checkStats(t, "ttft", s.TTFT, 2, 1000*us, 1500*us, 1500*us, 1500*us, 1000, 1500)
	// TPOT: (1600-1000)/3 and (2500-1500)/5.
	checkStats(t, "tpot", s.TPOT, 2, 200*us, 200*us, 200*us, 200*us, 200, 200)
	// ITL: 200 x3 from seq 0; seq 1: 300 (1 token) then 600/3 = 200 x3.
	checkStats(t, "itl", s.ITL, 7, 200*us, 200*us, 300*us, 300*us, 200, 200, 200, 300, 200, 200, 200)
	// E2EL: 1600 and 2500; 2500 is beyond the exact range but is the max,
	// and percentiles are clamped to the observed extremes.
	checkStats(t, "e2el", s.E2EL, 2, 1600*us, 2500*us, 2500*us, 2500*us, 1600, 2500)
	checkStats(t, "ttft_from_schedule", s.TTFTFromSchedule, 2, 1040*us, 1520*us, 1520*us, 1520*us, 1040, 1520)
	checkStats(t, "e2el_from_schedule", s.E2ELFromSchedule, 2, 1640*us, 2520*us, 2520*us, 2520*us, 1640, 2520)
	// Queue time over the three sent: 20, 0, 40. Lag over all four: 10, 0, 10, 20.
	checkStats(t, "queue", s.QueueTime, 3, 20*us, 40*us, 40*us, 40*us, 20, 0, 40)
	checkStats(t, "lag", s.ScheduleLag, 4, 10*us, 20*us, 20*us, 20*us, 10, 0, 10, 20)
	if s.ScheduleLag.Max != 20*us {
		t.Errorf("max schedule lag %v, want 20µs", s.ScheduleLag.Max)
	}

	if s.Truncated != 1 || s.TokenSource != "server_usage" || s.CompletedWithUsage != 2 {
		t.Errorf("truncated %d token source %q usage %d", s.Truncated, s.TokenSource, s.CompletedWithUsage)
	}
	if s.ErrorsByClass["http_status"] != 1 || s.ErrorsByClass["dropped"] != 1 || len(s.ErrorsByClass) != 2 {
		t.Errorf("errors by class %v", s.ErrorsByClass)
	}
	// |103-100| = 3 (3%), |190-200| = 10 (5%).
	if s.InputLenChecked != 2 || s.InputLenMaxAbs != 10 {
		t.Errorf("input length checked %d max %d", s.InputLenChecked, s.InputLenMaxAbs)
	}
	approx(t, "mean input abs error", s.InputLenMeanAbs, 6.5)
	approx(t, "mean input rel error", s.InputLenMeanRel, 0.04)
	if s.BytesSent != 1500 || s.BytesRecv != 5100 {
		t.Errorf("bytes %d/%d, want 1500/5100", s.BytesSent, s.BytesRecv)
	}

	// summary.json carries the same numbers under vLLM's keys.
	var j map[string]any
	b, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	for k, want := range map[string]float64{
		"duration": 0.00258, "completed": 2, "failed": 2, "total_input_tokens": 293, "total_output_tokens": 10,
		"request_throughput": 2 / 0.00258, "output_throughput": 10 / 0.00258, "total_token_throughput": 303 / 0.00258,
		"mean_ttft_ms": 1.25, "median_ttft_ms": 1, "std_ttft_ms": 0.25, "p99_ttft_ms": 1.5,
		"mean_tpot_ms": 0.2, "median_tpot_ms": 0.2, "std_tpot_ms": 0, "p99_tpot_ms": 0.2,
		"mean_itl_ms": 1.5 / 7, "median_itl_ms": 0.2, "p99_itl_ms": 0.3, "p95_itl_ms": 0.3, "p90_itl_ms": 0.2,
		"mean_e2el_ms": 2.05, "median_e2el_ms": 1.6, "std_e2el_ms": 0.45, "p99_e2el_ms": 2.5,
		"mean_client_queue_time_ms": 0.02, "p99_client_queue_time_ms": 0.04,
		"mean_schedule_lag_ms": 0.01, "p99_schedule_lag_ms": 0.02, "max_schedule_lag_ms": 0.02,
		"p50_ttft_from_schedule_ms": 1.04, "p99_e2el_from_schedule_ms": 2.52,
		"target_rate": 10000, "achieved_rate": 2 / 0.00022, "truncated": 1,
		"mean_input_len_abs_error": 6.5, "max_input_len_abs_error": 10, "mean_input_len_rel_error": 0.04,
		"bytes_sent": 1500, "bytes_recv": 5100, "dropped": 1, "requests_log_dropped": 0,
	} {
		got, ok := j[k].(float64)
		if !ok {
			t.Errorf("summary.json: %s missing or not a number: %v", k, j[k])
			continue
		}
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("summary.json: %s = %v, want %v", k, got, want)
		}
	}
	if p, ok := j["percentiles_ttft_ms"].(map[string]any); !ok || p["p50"] != 1.0 || p["p95"] != 1.5 {
		t.Errorf("percentiles_ttft_ms = %v", j["percentiles_ttft_ms"])
	}
	if j["token_source"] != "server_usage" || j["name"] != "exact" {
		t.Errorf("token_source %v name %v", j["token_source"], j["name"])
	}
	if m, ok := j["meta"].(map[string]any); !ok || m["model"] != "m" || m["concurrency"] != 4.0 {
		t.Errorf("meta %v", j["meta"])
	}
	if e, ok := j["errors_by_class"].(map[string]any); !ok || e["http_status"] != 1.0 {
		t.Errorf("errors_by_class %v", j["errors_by_class"])
	}

	var table bytes.Buffer
	s.WriteTable(&table)
	for _, want := range []string{
		"============ Serving Benchmark Result ============",
		"Successful requests:                     2 ",
		"Benchmark duration (s):                  0.00",
		"Mean TTFT (ms):                          1.25",
		// vLLM's rows with --metric-percentiles 90,95,99, in its order.
		"Median ITL (ms):                         0.20      \n" +
			"P90 ITL (ms):                            0.20      \n" +
			"P95 ITL (ms):                            0.30      \n" +
			"P99 ITL (ms):                            0.30      \n",
		"P95 TTFT (ms):                           1.50",
		"Max schedule lag (ms):                   0.02",
		"http_status:                             1",
	} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

func TestTokenSource(t *testing.T) {
	for _, c := range []struct {
		usage []bool
		want  string
	}{
		{nil, "none"}, {[]bool{true, true}, "server_usage"}, {[]bool{false}, "counted"}, {[]bool{true, false}, "mixed"},
	} {
		r := newRecorder(t, Config{})
		for i, u := range c.usage {
			r.Record(&request.Result{Seq: int64(i), Sent: us, LastByte: 2 * us, CompletionTokens: 1, UsageFromServer: u})
		}
		s, _ := r.Close()
		if s.TokenSource != c.want {
			t.Errorf("usage %v: token source %q, want %q", c.usage, s.TokenSource, c.want)
		}
	}
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s line %d does not parse: %v\n%s", filepath.Base(path), len(out)+1, err, sc.Text())
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func floats(v any) []float64 {
	var out []float64
	for _, x := range v.([]any) {
		out = append(out, x.(float64))
	}
	return out
}

func TestRequestsJSONL(t *testing.T) {
	dir := t.TempDir()
	r := newRecorder(t, Config{Name: "x", OutDir: dir})
	results := syntheticResults()
	for _, res := range results {
		r.Record(res)
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, filepath.Join(dir, RequestsFile))
	if len(lines) != len(results) {
		t.Fatalf("%d lines, want %d", len(lines), len(results))
	}
	l0 := lines[0]
	for k, want := range map[string]any{
		"seq": 0.0, "scenario": "chat", "source_line": 2.0,
		"scheduled_ms": 0.0, "released_ms": 0.01, "dispatched_ms": 0.03, "sent_ms": 0.04,
		"headers_ms": 0.5, "first_token_ms": 1.04, "last_byte_ms": 1.64,
		"ttft_ms": 1.0, "tpot_ms": 0.2, "e2el_ms": 1.6, "ttft_from_schedule_ms": 1.04, "e2el_from_schedule_ms": 1.64,
		"client_queue_time_ms": 0.02, "schedule_lag_ms": 0.01, "token_events": 4.0,
		"status": 200.0, "error": nil, "error_msg": "", "prompt_tokens": 103.0, "prompt_tokens_requested": 100.0,
		"completion_tokens": 4.0, "usage_from_server": true, "max_tokens": 4.0, "finish_reason": "length",
		"truncated": false, "bytes_sent": 500.0, "bytes_recv": 2000.0, "sse_events": 6.0,
	} {
		if got, ok := l0[k]; !ok || got != want {
			t.Errorf("line 0: %s = %#v, want %#v", k, l0[k], want)
		}
	}
	if tags := l0["tags"].(map[string]any); tags["tenant"] != "a" || tags["kind"] != "conv" {
		t.Errorf("tags %v", tags)
	}
	if got := floats(l0["itl_ms"]); len(got) != 3 || got[0] != 0.2 || got[2] != 0.2 {
		t.Errorf("line 0 itl_ms %v", got)
	}
	// Line 1 carries the split: one 300µs gap, then 600µs over 3 tokens.
	if got := floats(lines[1]["itl_ms"]); len(got) != 4 || got[0] != 0.3 || got[1] != 0.2 || got[3] != 0.2 {
		t.Errorf("line 1 itl_ms %v, want [0.3 0.2 0.2 0.2]", got)
	}
	if lines[2]["error"] != "http_status" || lines[2]["error_msg"] != "HTTP 500: \"boom\"\n\x01" || lines[2]["ttft_ms"] != nil || lines[2]["prompt_tokens"] != nil {
		t.Errorf("failed line: %v", lines[2])
	}
	d := lines[3]
	if d["error"] != "dropped" || d["sent_ms"] != nil || d["e2el_ms"] != nil || d["client_queue_time_ms"] != nil || d["schedule_lag_ms"] != 0.02 {
		t.Errorf("dropped line: %v", d)
	}
}

func TestITLSplitUneven(t *testing.T) {
	res := &request.Result{
		TokenTimes:  []time.Duration{10 * us, 110 * us, 111 * us},
		TokenCounts: []int32{5, 3, 0}, // 0 (unknown) counts as one token
	}
	var got []float64
	EachITL(res, func(gap float64, k int64) {
		for range k {
			got = append(got, gap)
		}
	})
	want := []float64{100e3 / 3, 100e3 / 3, 100e3 / 3, 1e3}
	if len(got) != len(want) {
		t.Fatalf("ITLs %v, want %v", got, want)
	}
	for i := range got {
		approx(t, "itl", got[i], want[i])
	}
	line := string(appendRequestLine(nil, res))
	if !strings.Contains(line, `"itl_ms":[0.033333,0.033333,0.033333,0.001]`) {
		t.Errorf("line: %s", line)
	}
}

func TestWindowsRotateByResultTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		start := time.Now()
		r := newRecorder(t, Config{Name: "w", OutDir: dir, SampleInterval: time.Second, Epoch: start})
		done := func(seq int64, at time.Duration, class request.ErrorClass) *request.Result {
			res := &request.Result{Seq: seq, Scheduled: at - 300*time.Millisecond, Released: at - 300*time.Millisecond,
				Dispatched: at - 300*time.Millisecond, Sent: at - 300*time.Millisecond, LastByte: at, Error: class,
				BytesSent: 10, BytesRecv: 100}
			if class == request.OK {
				res.FirstToken = at - 100*time.Millisecond
				res.CompletionTokens, res.PromptTokensRequested = 5, 20
			}
			return res
		}
		sleepUntil := func(d time.Duration) { time.Sleep(d - time.Since(start)) }

		r.Record(done(0, 500*time.Millisecond, request.OK))
		r.Record(done(1, 900*time.Millisecond, request.OK))
		sleepUntil(1500 * time.Millisecond)
		r.Record(done(2, 1200*time.Millisecond, request.ErrTimeout))
		s := r.Snapshot()
		if s.At != 1500*time.Millisecond || len(s.Windows) != 1 || s.Windows[0].Count != 2 || s.Windows[0].Completed != 2 {
			t.Fatalf("at 1.5s: at %v, %d windows, first %+v", s.At, len(s.Windows), s.Windows[0])
		}
		if c := s.Current; c.Start != time.Second || c.Len != 500*time.Millisecond || c.Count != 1 || c.Errors[request.ErrTimeout] != 1 || !c.Partial {
			t.Fatalf("current at 1.5s: %+v", c)
		}
		if w := s.Windows[0]; w.TTFT.N != 2 || w.TTFT.P50 != 200*time.Millisecond || w.OutputTokens != 10 || w.InputTokens != 40 || w.RequestRate() != 2 {
			t.Errorf("window 0: %+v", w)
		}

		// A stall: nothing finishes until 4.2s. The snapshot shows the
		// intervals as empty windows, not a frozen window 1.
		sleepUntil(4200 * time.Millisecond)
		s = r.Snapshot()
		if len(s.Windows) != 4 || s.Windows[1].Count != 1 || s.Windows[1].Partial || s.Windows[2].Count != 0 || s.Windows[3].Start != 3*time.Second {
			t.Fatalf("at 4.2s: %d windows %+v", len(s.Windows), s.Windows)
		}
		if c := s.Current; c.Start != 4*time.Second || c.Count != 0 || c.Len != 200*time.Millisecond {
			t.Fatalf("current at 4.2s: %+v", c)
		}
		if rps, _, _ := s.RecentRates(5 * time.Second); rps != 0.5 {
			t.Errorf("recent rps %v, want 2 completions over 4 windows = 0.5", rps)
		}

		// Recorded late: both finished in window 3.
		r.Record(done(3, 3700*time.Millisecond, request.OK))
		r.Record(done(4, 3100*time.Millisecond, request.OK))
		s = r.Snapshot()
		if len(s.Windows) != 4 || s.Windows[3].Count != 2 || s.Current.Start != 4*time.Second {
			t.Fatalf("after late results: %+v current %+v", s.Windows, s.Current)
		}
		// A result recorded after its window rotated out counts in the
		// current one.
		r.Record(done(5, 4500*time.Millisecond, request.OK))
		r.Record(done(6, 3900*time.Millisecond, request.OK))
		sum, err := r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if sum.Windows != 5 {
			t.Errorf("summary windows %d, want 5", sum.Windows)
		}
		s = r.Snapshot()
		if s.Current.Start != 4*time.Second || s.Current.Count != 2 || s.Current.Len != 500*time.Millisecond || !s.Current.Partial {
			t.Errorf("final window %+v", s.Current)
		}

		lines := readLines(t, filepath.Join(dir, WindowsFile))
		wantCounts := []float64{2, 1, 0, 2, 2}
		if len(lines) != len(wantCounts) {
			t.Fatalf("%d window lines, want %d", len(lines), len(wantCounts))
		}
		for i, l := range lines {
			if l["count"] != wantCounts[i] || l["start_s"] != float64(i) {
				t.Errorf("window %d: %v", i, l)
			}
		}
		if lines[4]["end_s"] != 4.5 || lines[4]["partial"] != true || lines[3]["end_s"] != 4.0 {
			t.Errorf("last windows: %v / %v", lines[3], lines[4])
		}
		if e := lines[1]["errors_by_class"].(map[string]any); e["timeout"] != 1.0 {
			t.Errorf("window 1 errors %v", e)
		}
		if lines[2]["p95_ttft_ms"] != nil || lines[0]["p50_ttft_ms"] != 200.0 || lines[0]["ttft_count"] != 2.0 {
			t.Errorf("window percentiles: %v / %v", lines[0], lines[2])
		}
	})
}

func TestRingKeepsLastWindows(t *testing.T) {
	r := newRecorder(t, Config{SampleInterval: time.Second})
	n := RingSize + 50
	for i := range n {
		at := time.Duration(i)*time.Second + time.Millisecond
		r.Record(&request.Result{Seq: int64(i), Sent: at, LastByte: at, CompletionTokens: 1})
	}
	s, _ := r.Close()
	if s.Windows != int64(n) {
		t.Errorf("windows %d, want %d", s.Windows, n)
	}
	snap := r.Snapshot()
	if len(snap.Windows) != RingSize || snap.Windows[0].Start != 49*time.Second || snap.Windows[RingSize-1].Start != time.Duration(n-2)*time.Second {
		t.Errorf("ring: %d windows from %v to %v", len(snap.Windows), snap.Windows[0].Start, snap.Windows[len(snap.Windows)-1].Start)
	}
	if snap.Current.Start != time.Duration(n-1)*time.Second {
		t.Errorf("current %v", snap.Current.Start)
	}
}

func TestLargeValuesWithinResolution(t *testing.T) {
	r := newRecorder(t, Config{})
	for i := 1; i <= 1000; i++ {
		ttft := time.Duration(i) * time.Millisecond
		r.Record(&request.Result{Sent: time.Second, FirstToken: time.Second + ttft, LastByte: time.Second + ttft, CompletionTokens: 1})
	}
	s, _ := r.Close()
	for _, c := range []struct {
		got  time.Duration
		want float64
	}{{s.TTFT.P50, 500}, {s.TTFT.P90, 900}, {s.TTFT.P99, 990}} {
		if ms := msd(c.got); ms < c.want || ms > c.want*1.001 {
			t.Errorf("percentile %vms, want %v within 0.1%%", ms, c.want)
		}
	}
	if s.TTFT.Max != time.Second || s.TTFT.Min != time.Millisecond {
		t.Errorf("min %v max %v", s.TTFT.Min, s.TTFT.Max)
	}
	approx(t, "mean", s.TTFT.Mean, 500.5e6)
}

func TestCloseWithNoResults(t *testing.T) {
	dir := t.TempDir()
	r := newRecorder(t, Config{Name: "empty", OutDir: filepath.Join(dir, "nested", "out")})
	s, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s.Completed != 0 || s.Duration != 0 || s.RequestThroughput != 0 || s.TokenSource != "none" || s.Windows != 0 {
		t.Errorf("empty summary %+v", s)
	}
	for _, f := range []string{RequestsFile, WindowsFile} {
		if b, err := os.ReadFile(filepath.Join(dir, "nested", "out", f)); err != nil || len(b) != 0 {
			t.Errorf("%s: %q %v", f, b, err)
		}
	}
	var j map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "nested", "out", SummaryFile))
	if err := json.Unmarshal(b, &j); err != nil || j["completed"] != 0.0 || j["mean_ttft_ms"] != 0.0 {
		t.Errorf("summary.json %s: %v", b, err)
	}
	var table bytes.Buffer
	s.WriteTable(&table)
	if !strings.Contains(table.String(), "(no samples)") {
		t.Errorf("table:\n%s", table.String())
	}
	if again, err := r.Close(); again != s || err != nil {
		t.Errorf("second Close: %p %v", again, err)
	}
	if snap := r.Snapshot(); snap.Current == nil || len(snap.Windows) != 0 {
		t.Errorf("snapshot after close: %+v", snap)
	}
	defer func() {
		if recover() == nil {
			t.Error("Record after Close did not panic")
		}
	}()
	r.Record(&request.Result{})
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(Config{Epoch: epoch, SampleInterval: -time.Second}); err == nil {
		t.Error("negative interval accepted")
	}
	if _, err := New(Config{}); err == nil {
		t.Error("zero epoch accepted")
	}
	if _, err := New(Config{Epoch: epoch, Meta: map[string]any{"f": func() {}}}); err == nil {
		t.Error("unencodable meta accepted")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := New(Config{Epoch: epoch, OutDir: filepath.Join(f, "sub")}); err == nil || !strings.Contains(err.Error(), "results directory") {
		t.Errorf("OutDir under a file: %v", err)
	}
}

func TestConcurrentRecord(t *testing.T) {
	const workers, each = 64, 150
	dir := t.TempDir()
	r := newRecorder(t, Config{OutDir: dir, SampleInterval: 100 * time.Millisecond})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var snaps sync.WaitGroup
	snaps.Go(func() {
		var last int64
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				s := r.Snapshot()
				if n := s.Completed + s.Failed; n > workers*each || n < last {
					t.Errorf("snapshot counts %d after %d", n, last)
				}
				last = s.Completed + s.Failed
			}
		}
	})
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				seq := int64(w*each + i)
				at := time.Duration(seq) * time.Millisecond
				res := &request.Result{Seq: seq, Sent: at, FirstToken: at + 5*time.Millisecond, LastByte: at + 9*time.Millisecond,
					TokenTimes: []time.Duration{5 * time.Millisecond, 7 * time.Millisecond, 9 * time.Millisecond}, CompletionTokens: 3}
				if i%10 == 0 {
					res.Error = request.ErrStall
				}
				r.Record(res)
			}
		})
	}
	wg.Wait()
	close(stop)
	snaps.Wait()
	s, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s.Completed != workers*each*9/10 || s.Failed != workers*each/10 || s.ITL.N != 2*s.Completed {
		t.Errorf("completed %d failed %d itl %d", s.Completed, s.Failed, s.ITL.N)
	}
	lines := readLines(t, filepath.Join(dir, RequestsFile))
	seen := map[float64]bool{}
	for _, l := range lines {
		seen[l["seq"].(float64)] = true
	}
	if len(lines) != workers*each || len(seen) != workers*each {
		t.Errorf("%d lines, %d distinct seqs, want %d", len(lines), len(seen), workers*each)
	}
	var winCount float64
	for _, l := range readLines(t, filepath.Join(dir, WindowsFile)) {
		winCount += l["count"].(float64)
	}
	if winCount != workers*each {
		t.Errorf("windows hold %v results, want %d", winCount, workers*each)
	}
}

func TestFormatProgress(t *testing.T) {
	s := &Snapshot{
		At: 12 * time.Second, Completed: 1200, Failed: 3,
		TTFTP95: 180 * time.Millisecond, TPOTP95: 21 * time.Millisecond,
		Windows: []*Window{
			{Len: time.Second, Completed: 100, Count: 100, OutputTokens: 1000},
			{Len: time.Second, Completed: 40, Count: 40, OutputTokens: 5000},
			{Len: time.Second, Completed: 40, Count: 40, OutputTokens: 5000},
			{Len: time.Second, Completed: 40, Count: 40, OutputTokens: 5000},
			{Len: time.Second, Completed: 40, Count: 40, OutputTokens: 5000},
			{Len: time.Second, Completed: 41, Count: 41, OutputTokens: 5600},
		},
		Current: &Window{Len: 500 * time.Millisecond},
	}
	// tok/s is the tokens received as they arrive, in-flight requests
	// included (5,000/s here while the finished ones carried 5,120/s:
	// at the start of a run they lag far more); the ETA is the tracker's.
	got := FormatProgress(s, ProgressExtra{Sent: 1240, InFlight: 34, Queued: 3, Total: 4823, TokensPerSec: 5000.4, ETA: 90*time.Second + 300*time.Millisecond})
	want := "[  12.0s] sent 1240 done 1203 err 3 inflight 34 queued 3 | 40.2 rps 5000 tok/s | ttft p95 180ms tpot p95 21ms | eta 1m30s"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// A client that does not count streamed tokens: those of finished
	// requests; an unknown ETA prints "-".
	got = FormatProgress(s, ProgressExtra{Sent: 1240, Total: 4823, TokensPerSec: math.NaN(), ETA: -1})
	if want := "| 40.2 rps 5120 tok/s | ttft p95 180ms tpot p95 21ms | eta -"; !strings.HasSuffix(got, want) {
		t.Errorf("fallback: %q, want suffix %q", got, want)
	}
	got = FormatProgress(&Snapshot{Current: &Window{}}, ProgressExtra{})
	if want := "[   0.0s] sent 0 done 0 err 0 inflight 0 queued 0 | 0.0 rps 0 tok/s | ttft p95 - tpot p95 -"; got != want {
		t.Errorf("empty: %q", got)
	}
	if got := FormatProgress(nil, ProgressExtra{Total: 10}); !strings.HasSuffix(got, "| eta -") {
		t.Errorf("nil snapshot: %q", got)
	}
	// A duration run has no total but its schedule's end; done is done.
	if got := FormatProgress(nil, ProgressExtra{ETA: 47 * time.Second}); !strings.HasSuffix(got, "| eta 47s") {
		t.Errorf("duration run: %q", got)
	}
	if got := FormatProgress(&Snapshot{Completed: 10}, ProgressExtra{Total: 10, ETA: -1}); !strings.HasSuffix(got, "| eta 0s") {
		t.Errorf("all done: %q", got)
	}
	for d, want := range map[time.Duration]string{0: "-", 8400 * us: "8.4ms", 2346 * time.Millisecond: "2.35s"} {
		if got := shortLatency(d); got != want {
			t.Errorf("shortLatency(%v) = %q, want %q", d, got, want)
		}
	}
}
