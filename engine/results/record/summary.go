package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Summary is the whole run's result, as written to summary.json. It is a
// value computed once by Close; safe to read from any goroutine.
type Summary struct {
	Name           string
	Epoch          time.Time
	SampleInterval time.Duration
	// Duration runs from the first send to the last completion.
	Duration time.Duration

	Completed int64 // finished without error
	Failed    int64 // finished with an error, dropped plans included
	Dropped   int64 // never sent (on_full = "drop"); also in Failed
	Sent      int64 // results that were sent: Completed + Failed - Dropped

	TotalInputTokens, TotalOutputTokens int64 // over completed requests
	RequestThroughput                   float64
	OutputThroughput                    float64
	TotalTokenThroughput                float64

	// Goodput: completed requests that met every objective of SLO, as in
	// vLLM bench's --goodput. Failed requests are never good.
	SLO              SLO
	GoodRequests     int64
	GoodOutputTokens int64   // output tokens of the good requests
	RequestGoodput   float64 // GoodRequests / Duration
	OutputGoodput    float64 // GoodOutputTokens / Duration
	// WarmupExcluded counts the warm-up results left out of every figure
	// of this summary (Config.WarmupRequests, WarmupDuration).
	WarmupExcluded int64

	// Latencies over completed requests.
	TTFT, TPOT, ITL, E2EL              Stats
	TTFTFromSchedule, E2ELFromSchedule Stats
	// Client-side delays: QueueTime over every sent request, ScheduleLag
	// over every request.
	QueueTime, ScheduleLag Stats

	TargetRate   float64 // (n-1) / (last due - first due), over all results
	AchievedRate float64 // (n-1) / (last send - first send), over sent results

	Truncated          int64
	ErrorsByClass      map[string]int64
	TokenSource        string // "server_usage", "counted", "mixed" or "none"
	CompletedWithUsage int64

	// Input length fidelity over results with both a requested and a
	// server-reported prompt length.
	InputLenChecked int64
	InputLenMeanAbs float64 // tokens
	InputLenMaxAbs  int64   // tokens
	InputLenMeanRel float64 // mean of |reported-requested|/requested

	// ByTurn: TTFT and E2EL by turn index, for session scenarios (turn 1
	// pays the whole prefill; later turns should hit the prefix cache).
	ByTurn []TurnStats

	BytesSent, BytesRecv int64
	RequestsLogDropped   int64 // requests.jsonl lines lost to a stalled disk
	Windows              int64
	Meta                 map[string]any
	// Extra holds more top-level keys of summary.json, written after
	// "meta" in key order (e.g. "thresholds", "custom"; see
	// Config.Finish). Keys that summary.json already has are refused by
	// MarshalJSON.
	Extra map[string]any
}

// buildSummary computes the summary from the aggregates. r.mu is held.
func (r *Recorder) buildSummary() *Summary {
	s := &Summary{
		Name: r.cfg.Name, Epoch: r.cfg.Epoch, SampleInterval: r.interval,
		Completed: r.completed, Failed: r.failed, Dropped: r.dropped, Sent: r.sent,
		SLO: r.cfg.SLO, GoodRequests: r.good, GoodOutputTokens: r.goodOutTok, WarmupExcluded: r.warmup,
		TotalInputTokens: r.inTok, TotalOutputTokens: r.outTok,
		TTFT: r.ttft.stats(), TPOT: r.tpot.stats(), ITL: r.itl.stats(), E2EL: r.e2el.stats(),
		TTFTFromSchedule: r.ttftSched.stats(), E2ELFromSchedule: r.e2elSched.stats(),
		QueueTime: r.queue.stats(), ScheduleLag: r.lag.stats(),
		Truncated: r.truncated, CompletedWithUsage: r.usageCompleted,
		InputLenChecked: r.inChecked, InputLenMaxAbs: r.inAbsMax,
		BytesSent: r.bytesSent, BytesRecv: r.bytesRecv,
		Windows: r.windowsWritten, Meta: r.cfg.Meta, ByTurn: r.turnStats(),
		ErrorsByClass: map[string]int64{},
	}
	for k, v := range r.errors {
		s.ErrorsByClass[string(k)] = v
	}
	if r.sent > 0 && r.lastDone > r.minSent {
		s.Duration = r.lastDone - r.minSent
	}
	if sec := s.Duration.Seconds(); sec > 0 {
		s.RequestThroughput = float64(r.completed) / sec
		s.OutputThroughput = float64(r.outTok) / sec
		s.TotalTokenThroughput = float64(r.inTok+r.outTok) / sec
		s.RequestGoodput = float64(r.good) / sec
		s.OutputGoodput = float64(r.goodOutTok) / sec
	}
	if r.all > 1 && r.maxDue > r.minDue {
		s.TargetRate = float64(r.all-1) / (r.maxDue - r.minDue).Seconds()
	}
	if r.sent > 1 && r.maxSent > r.minSent {
		s.AchievedRate = float64(r.sent-1) / (r.maxSent - r.minSent).Seconds()
	}
	switch {
	case r.completed == 0:
		s.TokenSource = "none"
	case r.usageCompleted == r.completed:
		s.TokenSource = "server_usage"
	case r.usageCompleted == 0:
		s.TokenSource = "counted"
	default:
		s.TokenSource = "mixed"
	}
	if r.inChecked > 0 {
		s.InputLenMeanAbs = float64(r.inAbsSum) / float64(r.inChecked)
		s.InputLenMeanRel = r.inRelSum / float64(r.inChecked)
	}
	return s
}

// metric names as they appear in summary.json keys, vLLM's where it has one.
func (s *Summary) metrics() []struct {
	key, label, header string
	st                 *Stats
} {
	return []struct {
		key, label, header string
		st                 *Stats
	}{
		{"ttft", "TTFT", "Time to First Token", &s.TTFT},
		{"tpot", "TPOT", "Time per Output Token (excl. 1st token)", &s.TPOT},
		{"itl", "ITL", "Inter-token Latency", &s.ITL},
		{"e2el", "E2EL", "End-to-end Latency", &s.E2EL},
		{"ttft_from_schedule", "TTFT from schedule", "TTFT from Schedule (incl. client delay)", &s.TTFTFromSchedule},
		{"e2el_from_schedule", "E2EL from schedule", "E2EL from Schedule (incl. client delay)", &s.E2ELFromSchedule},
		{"client_queue_time", "client queue time", "Client Queue Time", &s.QueueTime},
		{"schedule_lag", "schedule lag", "Schedule Lag", &s.ScheduleLag},
	}
}

// MarshalJSON writes summary.json's layout: vLLM bench's keys where they
// exist (duration, completed, ..., mean_ttft_ms, median_ttft_ms,
// std_ttft_ms, p99_ttft_ms), in a fixed order.
func (s *Summary) MarshalJSON() ([]byte, error) {
	var o object
	o.add("name", s.Name)
	o.add("started_at", s.Epoch.UTC().Format(time.RFC3339Nano))
	o.add("sample_interval_s", s.SampleInterval.Seconds())
	o.add("duration", s.Duration.Seconds())
	o.add("completed", s.Completed)
	o.add("failed", s.Failed)
	o.add("dropped", s.Dropped)
	o.add("sent", s.Sent)
	o.add("total_input_tokens", s.TotalInputTokens)
	o.add("total_output_tokens", s.TotalOutputTokens)
	o.add("request_throughput", s.RequestThroughput)
	o.add("output_throughput", s.OutputThroughput)
	o.add("total_token_throughput", s.TotalTokenThroughput)
	o.add("request_goodput", s.RequestGoodput)
	o.add("output_goodput", s.OutputGoodput)
	o.add("good_requests", s.GoodRequests)
	o.add("good_output_tokens", s.GoodOutputTokens)
	var slo object
	for _, f := range [...]struct {
		key string
		d   time.Duration
	}{{"ttft_ms", s.SLO.TTFT}, {"tpot_ms", s.SLO.TPOT}, {"e2el_ms", s.SLO.E2E}} {
		if f.d > 0 {
			slo.add(f.key, msd(f.d))
		} else {
			slo.add(f.key, nil)
		}
	}
	o.addRaw("slo", slo.bytes())
	o.add("warmup_excluded", s.WarmupExcluded)
	o.add("target_rate", s.TargetRate)
	o.add("achieved_rate", s.AchievedRate)
	for _, m := range s.metrics() {
		st := m.st
		o.add(m.key+"_count", st.N)
		o.add("mean_"+m.key+"_ms", ms(st.Mean))
		o.add("median_"+m.key+"_ms", msd(st.P50))
		o.add("std_"+m.key+"_ms", ms(st.Std))
		o.add("min_"+m.key+"_ms", msd(st.Min))
		o.add("max_"+m.key+"_ms", msd(st.Max))
		o.add("p50_"+m.key+"_ms", msd(st.P50))
		o.add("p90_"+m.key+"_ms", msd(st.P90))
		o.add("p95_"+m.key+"_ms", msd(st.P95))
		o.add("p99_"+m.key+"_ms", msd(st.P99))
		var p object
		p.add("p50", msd(st.P50))
		p.add("p90", msd(st.P90))
		p.add("p95", msd(st.P95))
		p.add("p99", msd(st.P99))
		o.addRaw("percentiles_"+m.key+"_ms", p.bytes())
		if st.Overflow > 0 {
			o.add(m.key+"_over_24h", st.Overflow)
		}
	}
	o.add("truncated", s.Truncated)
	o.add("errors_by_class", s.ErrorsByClass)
	o.add("token_source", s.TokenSource)
	o.add("completed_with_usage", s.CompletedWithUsage)
	o.add("input_len_checked", s.InputLenChecked)
	o.add("mean_input_len_abs_error", s.InputLenMeanAbs)
	o.add("max_input_len_abs_error", s.InputLenMaxAbs)
	o.add("mean_input_len_rel_error", s.InputLenMeanRel)
	if len(s.ByTurn) > 0 {
		o.add("by_turn", s.ByTurn)
	}
	o.add("bytes_sent", s.BytesSent)
	o.add("bytes_recv", s.BytesRecv)
	o.add("requests_log_dropped", s.RequestsLogDropped)
	o.add("windows", s.Windows)
	o.add("meta", s.Meta)
	for _, k := range slices.Sorted(maps.Keys(s.Extra)) {
		if o.has(k) {
			return nil, fmt.Errorf("record: summary extra key %q is one of summary.json's own", k)
		}
		o.add(k, s.Extra[k])
	}
	if o.err != nil {
		return nil, o.err
	}
	return o.bytes(), nil
}

func ms(ns float64) float64          { return ns / 1e6 }
func msd(d time.Duration) float64    { return float64(d) / 1e6 }
func secs(d time.Duration) string    { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) }
func fix2(f float64) string          { return strconv.FormatFloat(f, 'f', 2, 64) }
func msStr(d time.Duration) string   { return fix2(msd(d)) }
func msfStr(ns float64) string       { return fix2(ms(ns)) }
func itoa(n int64) string            { return strconv.FormatInt(n, 10) }
func ruleLine(w io.Writer, s string) { fmt.Fprintln(w, Center(s, '-')) }

// object builds a JSON object with keys in insertion order.
type object struct {
	buf  bytes.Buffer
	err  error
	keys map[string]bool
}

func (o *object) add(key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		if o.err == nil {
			o.err = fmt.Errorf("summary key %q: %w", key, err)
		}
		return
	}
	o.addRaw(key, b)
}

// has reports whether key was added.
func (o *object) has(key string) bool { return o.keys[key] }

func (o *object) addRaw(key string, raw []byte) {
	if o.keys == nil {
		o.keys = map[string]bool{}
	}
	o.keys[key] = true
	if o.buf.Len() == 0 {
		o.buf.WriteByte('{')
	} else {
		o.buf.WriteByte(',')
	}
	k, _ := json.Marshal(key)
	o.buf.Write(k)
	o.buf.WriteByte(':')
	o.buf.Write(raw)
}

func (o *object) bytes() []byte {
	if o.buf.Len() == 0 {
		return []byte("{}")
	}
	return append(o.buf.Bytes(), '}')
}

// Row prints one "label: value" row of the end-of-run table, in the
// columns of vLLM's table (`{:<40} {:<10}`). Other end-of-run tables use
// it to match.
func Row(w io.Writer, label, value string) { fmt.Fprintf(w, "%-40s %-10s\n", label, value) }

// Center mimics Python's "{:c^50}" used by vLLM's table: s centred in a
// 50-column rule of c. Other end-of-run tables use it to match.
func Center(s string, c byte) string {
	const width = 50
	if s != "" {
		s = " " + s + " "
	}
	pad := width - len(s)
	if pad <= 0 {
		return s
	}
	left := pad / 2
	return string(bytes.Repeat([]byte{c}, left)) + s + string(bytes.Repeat([]byte{c}, pad-left))
}

// WriteTable prints the end-of-run table in the layout of vLLM bench's
// "Serving Benchmark Result" (as `vllm bench serve --metric-percentiles
// 90,95,99` prints it: mean, median, P90, P95, P99 of each latency),
// followed by llmload's own sections.
func (s *Summary) WriteTable(w io.Writer) {
	row := func(label, value string) { Row(w, label, value) }
	fmt.Fprintln(w, Center("Serving Benchmark Result", '='))
	row("Successful requests:", itoa(s.Completed))
	row("Failed requests:", itoa(s.Failed))
	if s.Dropped > 0 {
		row("  of which dropped (never sent):", itoa(s.Dropped))
	}
	row("Benchmark duration (s):", secs(s.Duration))
	row("Total input tokens:", itoa(s.TotalInputTokens))
	row("Total generated tokens:", itoa(s.TotalOutputTokens))
	row("Request throughput (req/s):", fix2(s.RequestThroughput))
	row("Output token throughput (tok/s):", fix2(s.OutputThroughput))
	row("Total Token throughput (tok/s):", fix2(s.TotalTokenThroughput))
	if s.SLO.IsSet() {
		row("Request goodput (req/s):", fix2(s.RequestGoodput))
		row("Output goodput (tok/s):", fix2(s.OutputGoodput))
		row("Good requests (met the SLO):", itoa(s.GoodRequests))
	}
	row("Target request rate (req/s):", fix2(s.TargetRate))
	row("Achieved send rate (req/s):", fix2(s.AchievedRate))
	if s.WarmupExcluded > 0 {
		row("Warm-up requests (left out):", itoa(s.WarmupExcluded))
	}
	for _, m := range s.metrics()[:6] {
		ruleLine(w, m.header)
		if m.st.N == 0 {
			row("(no samples)", "")
			continue
		}
		row("Mean "+m.label+" (ms):", msfStr(m.st.Mean))
		row("Median "+m.label+" (ms):", msStr(m.st.P50))
		// vLLM prints these rows with --metric-percentiles 90,95,99;
		// thresholds and compare use p90 and p95.
		row("P90 "+m.label+" (ms):", msStr(m.st.P90))
		row("P95 "+m.label+" (ms):", msStr(m.st.P95))
		row("P99 "+m.label+" (ms):", msStr(m.st.P99))
	}
	ruleLine(w, "Client-side Delays")
	row("Mean client queue time (ms):", msfStr(s.QueueTime.Mean))
	row("P99 client queue time (ms):", msStr(s.QueueTime.P99))
	row("Mean schedule lag (ms):", msfStr(s.ScheduleLag.Mean))
	row("P99 schedule lag (ms):", msStr(s.ScheduleLag.P99))
	row("Max schedule lag (ms):", msStr(s.ScheduleLag.Max))
	ruleLine(w, "Tokens")
	row("Token counts from:", s.TokenSource)
	row("Truncated responses:", itoa(s.Truncated))
	if s.InputLenChecked > 0 {
		row("Input length error, mean (tokens):", fix2(s.InputLenMeanAbs))
		row("Input length error, max (tokens):", itoa(s.InputLenMaxAbs))
		row("Input length error, mean (%):", fix2(100*s.InputLenMeanRel))
	} else {
		row("Input length error:", "not checked (no request had both a requested length and usage.prompt_tokens)")
	}
	s.writeTurnTable(w)
	if len(s.ErrorsByClass) > 0 {
		ruleLine(w, "Errors")
		for _, k := range slices.Sorted(maps.Keys(s.ErrorsByClass)) {
			row(k+":", itoa(s.ErrorsByClass[k]))
		}
	}
	if s.RequestsLogDropped > 0 {
		ruleLine(w, "Warning")
		row("requests.jsonl lines dropped (slow disk):", itoa(s.RequestsLogDropped))
	}
	fmt.Fprintln(w, Center("", '='))
}
