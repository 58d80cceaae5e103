package record

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

func TestSLOMet(t *testing.T) {
	ok := &request.Result{Sent: 0, FirstToken: 100 * us, LastByte: 500 * us, CompletionTokens: 5} // TTFT 100, TPOT 100, E2E 500
	one := &request.Result{Sent: 0, FirstToken: 100 * us, LastByte: 150 * us, CompletionTokens: 1}
	none := &request.Result{Sent: 0, LastByte: 150 * us}
	failed := &request.Result{Sent: 0, FirstToken: 10 * us, LastByte: 20 * us, CompletionTokens: 2, Error: request.ErrStall}
	for _, c := range []struct {
		name string
		slo  SLO
		res  *request.Result
		want bool
	}{
		{"no slo", SLO{}, ok, true},
		{"no slo, failed", SLO{}, failed, false},
		{"ttft at the bound", SLO{TTFT: 100 * us}, ok, true},
		{"ttft over", SLO{TTFT: 99 * us}, ok, false},
		{"tpot at the bound", SLO{TPOT: 100 * us}, ok, true},
		{"tpot over", SLO{TPOT: 99 * us}, ok, false},
		{"e2e at the bound", SLO{E2E: 500 * us}, ok, true},
		{"e2e over", SLO{E2E: 499 * us}, ok, false},
		{"all met", SLO{TTFT: time.Millisecond, TPOT: time.Millisecond, E2E: time.Millisecond}, ok, true},
		{"one missed", SLO{TTFT: time.Millisecond, TPOT: 50 * us, E2E: time.Millisecond}, ok, false},
		{"one token: no tpot", SLO{TPOT: time.Nanosecond}, one, true},
		{"no token misses ttft", SLO{TTFT: time.Hour}, none, false},
		{"no token, e2e only", SLO{E2E: time.Hour}, none, true},
		{"failed within every bound", SLO{TTFT: time.Hour}, failed, false},
	} {
		if got := c.slo.Met(c.res); got != c.want {
			t.Errorf("%s: Met = %v, want %v", c.name, got, c.want)
		}
	}
	if (SLO{}).IsSet() || !(SLO{E2E: 1}).IsSet() {
		t.Error("IsSet")
	}
}

func TestGoodput(t *testing.T) {
	dir := t.TempDir()
	// Result 0 has TTFT 1000µs (good at the bound), result 1 1500µs; 2
	// failed and 3 was dropped, both against goodput.
	r := newRecorder(t, Config{Name: "g", OutDir: dir, SLO: SLO{TTFT: time.Millisecond}, SampleInterval: time.Millisecond})
	for _, res := range syntheticResults() {
		r.Record(res)
	}
	snap := r.Snapshot()
	s, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s.GoodRequests != 1 || s.GoodOutputTokens != 4 || snap.Good != 1 {
		t.Fatalf("good %d, good tokens %d, snapshot good %d; want 1, 4, 1", s.GoodRequests, s.GoodOutputTokens, snap.Good)
	}
	dur := (2620 - 40) * us // first send to last completion
	if s.Duration != dur {
		t.Fatalf("duration %v, want %v", s.Duration, dur)
	}
	approx(t, "request_goodput", s.RequestGoodput, 1/dur.Seconds())
	approx(t, "output_goodput", s.OutputGoodput, 4/dur.Seconds())

	b, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	var js map[string]any
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	approx(t, "json request_goodput", js["request_goodput"].(float64), 1/dur.Seconds())
	approx(t, "json output_goodput", js["output_goodput"].(float64), 4/dur.Seconds())
	if js["good_requests"] != 1.0 || js["good_output_tokens"] != 4.0 || js["warmup_excluded"] != 0.0 {
		t.Errorf("summary.json: good_requests %v, good_output_tokens %v, warmup_excluded %v", js["good_requests"], js["good_output_tokens"], js["warmup_excluded"])
	}
	if slo := js["slo"].(map[string]any); slo["ttft_ms"] != 1.0 || slo["tpot_ms"] != nil || slo["e2el_ms"] != nil {
		t.Errorf("summary.json slo = %v", slo)
	}

	// Per request and per window.
	lines := readLines(t, filepath.Join(dir, RequestsFile))
	for i, want := range []bool{true, false, false, false} {
		if lines[i]["good"] != want || lines[i]["warmup"] != nil {
			t.Errorf("request %d: good %v warmup %v, want good %v and no warmup key", i, lines[i]["good"], lines[i]["warmup"], want)
		}
	}
	wins := readLines(t, filepath.Join(dir, WindowsFile))
	var good, count float64
	for _, w := range wins {
		good += w["good"].(float64)
		count += w["count"].(float64)
		if w["good"].(float64) > 0 {
			approx(t, "window request_goodput", w["request_goodput"].(float64),
				w["good"].(float64)/(w["end_s"].(float64)-w["start_s"].(float64)))
		}
	}
	if good != 1 || count != 4 {
		t.Errorf("windows: good %v, count %v; want 1 and 4", good, count)
	}
	// Result 0 finished at 1.64 ms: window 1 holds the good request.
	if wins[1]["good"] != 1.0 {
		t.Errorf("window 1 good = %v, want 1: %v", wins[1]["good"], wins[1])
	}

	var table bytes.Buffer
	s.WriteTable(&table)
	for _, want := range []string{"Request goodput (req/s):", "Output goodput (tok/s):", "Good requests (met the SLO): 1"} {
		if !strings.Contains(strings.Join(strings.Fields(table.String()), " "), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

func TestGoodputWithoutSLOIsThroughput(t *testing.T) {
	r := newRecorder(t, Config{})
	for _, res := range syntheticResults() {
		r.Record(res)
	}
	s, _ := r.Close()
	if s.GoodRequests != s.Completed || s.RequestGoodput != s.RequestThroughput || s.OutputGoodput != s.OutputThroughput {
		t.Errorf("no SLO: good %d of %d, goodput %v vs %v", s.GoodRequests, s.Completed, s.RequestGoodput, s.RequestThroughput)
	}
	var table bytes.Buffer
	s.WriteTable(&table)
	if strings.Contains(table.String(), "goodput") {
		t.Error("the table shows goodput without an SLO")
	}
}

func TestWarmupExcluded(t *testing.T) {
	for name, cfg := range map[string]Config{
		"requests": {WarmupRequests: 2},
		"duration": {WarmupDuration: 150 * us}, // scheduled at 0 and 100µs
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg.OutDir, cfg.SampleInterval = dir, time.Hour
			r := newRecorder(t, cfg)
			for _, res := range syntheticResults() {
				r.Record(res)
			}
			snap := r.Snapshot()
			s, err := r.Close()
			if err != nil {
				t.Fatal(err)
			}
			// Only the failed and the dropped results remain.
			if s.WarmupExcluded != 2 || s.Completed != 0 || s.Failed != 2 || s.Dropped != 1 || s.Sent != 1 ||
				s.TTFT.N != 0 || s.TotalOutputTokens != 0 || s.InputLenChecked != 0 || s.ScheduleLag.N != 2 {
				t.Errorf("summary: warmup %d completed %d failed %d dropped %d sent %d ttft n %d out %d checked %d lag n %d",
					s.WarmupExcluded, s.Completed, s.Failed, s.Dropped, s.Sent, s.TTFT.N, s.TotalOutputTokens, s.InputLenChecked, s.ScheduleLag.N)
			}
			// Duration counts from the first measured send (260µs) to its end (310µs).
			if s.Duration != 50*us || s.BytesSent != 400 {
				t.Errorf("duration %v, bytes sent %d; want 50µs, 400", s.Duration, s.BytesSent)
			}
			if snap.Warmup != 2 || snap.Completed != 0 {
				t.Errorf("snapshot warmup %d completed %d", snap.Warmup, snap.Completed)
			}
			// Windows keep every result, and say how many were warm-up.
			wins := readLines(t, filepath.Join(dir, WindowsFile))
			if len(wins) != 1 || wins[0]["count"] != 4.0 || wins[0]["completed"] != 2.0 || wins[0]["warmup"] != 2.0 {
				t.Errorf("windows %v", wins)
			}
			lines := readLines(t, filepath.Join(dir, RequestsFile))
			for i, l := range lines {
				if want := i < 2; (l["warmup"] == true) != want {
					t.Errorf("request %d: warmup %v, want %v", i, l["warmup"], want)
				}
			}
		})
	}
}

func TestAllWarmup(t *testing.T) {
	r := newRecorder(t, Config{WarmupRequests: 100, SampleInterval: time.Hour})
	for _, res := range syntheticResults() {
		r.Record(res)
	}
	s, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s.WarmupExcluded != 4 || s.Completed+s.Failed != 0 || s.Windows != 1 || s.Duration != 0 {
		t.Errorf("all warm-up: %+v", s)
	}
	if w := r.Snapshot().Current; w.Count != 4 || w.Warmup != 4 {
		t.Errorf("last window %+v", w)
	}
}

func TestWindowPercentilesExtras(t *testing.T) {
	r := newRecorder(t, Config{SampleInterval: time.Hour})
	for _, res := range syntheticResults() {
		r.Record(res)
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	w := r.Snapshot().Current
	// TTFTs 1000µs and 1500µs.
	if w.TTFT.N != 2 || w.TTFT.Mean != float64(1250*us) || w.TTFT.Max != 1500*us || w.TTFT.P90 < 1490*us {
		t.Errorf("window TTFT %+v", w.TTFT)
	}
}

func TestFinishAddsExtraKeys(t *testing.T) {
	dir := t.TempDir()
	var seen *Summary
	r := newRecorder(t, Config{OutDir: dir, Finish: func(s *Summary) {
		seen = s
		s.Extra = map[string]any{"thresholds": []map[string]any{{"threshold": "ttft p95 < 2s", "pass": true}},
			"custom": map[string]any{"n": map[string]any{"type": "counter", "value": 3}}}
	}})
	for _, res := range syntheticResults() {
		r.Record(res)
	}
	s, err := r.Close()
	if err != nil || seen != s || s.Completed != 2 {
		t.Fatalf("Close: %v; Finish saw %p, summary %p", err, seen, s)
	}
	var js map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	th := js["thresholds"].([]any)[0].(map[string]any)
	if th["threshold"] != "ttft p95 < 2s" || js["custom"].(map[string]any)["n"].(map[string]any)["value"] != 3.0 {
		t.Errorf("extra keys: thresholds %v custom %v", js["thresholds"], js["custom"])
	}
	// Extra keys follow meta, sorted.
	if i, j, k := bytes.Index(b, []byte(`"meta"`)), bytes.Index(b, []byte(`"custom"`)), bytes.Index(b, []byte(`"thresholds"`)); !(i < j && j < k) {
		t.Errorf("order of meta, custom, thresholds: %d %d %d", i, j, k)
	}
	// A key of summary.json's own is refused rather than written twice.
	s.Extra = map[string]any{"completed": 1}
	if _, err := json.Marshal(s); err == nil || !strings.Contains(err.Error(), `"completed" is one of summary.json's own`) {
		t.Errorf("duplicate key: %v", err)
	}
	s.Meta, s.Extra = map[string]any{"seed": 1}, map[string]any{"seed": 2} // meta's key, not the summary's
	if _, err := json.Marshal(s); err != nil {
		t.Errorf("extra key seed: %v", err)
	}
}
