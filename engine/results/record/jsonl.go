package record

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/shared/jsonx"
)

// The per-request and per-window lines are written by hand rather than
// with encoding/json: Record runs on the workers' hot path, and this is
// several times cheaper and allocation-free with a reused buffer.

// appendRequestLine appends one requests.jsonl line (with the newline).
func appendRequestLine(b []byte, r *request.Result) []byte {
	dropped := r.Error == request.ErrDropped
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, r.Seq, 10)
	b = append(b, `,"scenario":`...)
	b = jsonx.AppendString(b, r.Scenario)
	b = append(b, `,"source_line":`...)
	b = strconv.AppendInt(b, int64(r.SourceLine), 10)
	if r.Session.ID != "" {
		b = append(b, `,"session_id":`...)
		b = jsonx.AppendString(b, r.Session.ID)
		b = appendIntKey(b, "user_id", int64(r.Session.User))
		b = appendIntKey(b, "turn", int64(r.Session.Turn))
	}

	b = appendMsKey(b, "scheduled_ms", r.Scheduled, true)
	b = appendMsKey(b, "released_ms", r.Released, true)
	b = appendMsKey(b, "dispatched_ms", r.Dispatched, !dropped)
	b = appendMsKey(b, "sent_ms", r.Sent, !dropped)
	b = appendMsKey(b, "headers_ms", r.Headers, r.Status != 0)
	b = appendMsKey(b, "first_token_ms", r.FirstToken, r.FirstToken != 0)
	b = appendMsKey(b, "last_byte_ms", r.LastByte, !dropped)

	ttftOK := r.FirstToken != 0
	b = appendMsKey(b, "ttft_ms", r.TTFT(), ttftOK)
	tpot, tpotOK := r.TPOT()
	b = appendMsKey(b, "tpot_ms", tpot, tpotOK)
	b = appendMsKey(b, "e2el_ms", r.E2E(), !dropped)
	b = appendMsKey(b, "ttft_from_schedule_ms", r.TTFTFromSchedule(), ttftOK)
	b = appendMsKey(b, "e2el_from_schedule_ms", r.E2EFromSchedule(), !dropped)
	b = appendMsKey(b, "client_queue_time_ms", r.QueueTime(), !dropped)
	b = appendMsKey(b, "schedule_lag_ms", r.ScheduleLag(), true)

	b = append(b, `,"itl_ms":[`...)
	first := true
	EachITL(r, func(gap float64, k int64) {
		for range k {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendMs(b, gap)
		}
	})
	b = append(b, `],"token_events":`...)
	b = strconv.AppendInt(b, int64(len(r.TokenTimes)), 10)
	if r.TokenCounts != nil {
		// Which ITLs came from one event: without it a reader cannot
		// rebuild the events (ParseRequestLine, llmload merge).
		b = append(b, `,"token_counts":[`...)
		for i, k := range r.TokenCounts {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(k), 10)
		}
		b = append(b, ']')
	}

	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"error":`...)
	if r.Error == request.OK {
		b = append(b, "null"...)
	} else {
		b = jsonx.AppendString(b, string(r.Error))
	}
	b = append(b, `,"error_msg":`...)
	b = jsonx.AppendString(b, r.ErrorMsg)

	b = append(b, `,"prompt_tokens":`...)
	if r.PromptTokens > 0 {
		b = strconv.AppendInt(b, int64(r.PromptTokens), 10)
	} else {
		b = append(b, "null"...)
	}
	b = appendIntKey(b, "prompt_tokens_requested", int64(r.PromptTokensRequested))
	b = appendIntKey(b, "completion_tokens", int64(r.CompletionTokens))
	b = append(b, `,"usage_from_server":`...)
	b = strconv.AppendBool(b, r.UsageFromServer)
	b = appendIntKey(b, "max_tokens", int64(r.MaxTokens))
	b = append(b, `,"finish_reason":`...)
	b = jsonx.AppendString(b, r.FinishReason)
	b = append(b, `,"truncated":`...)
	b = strconv.AppendBool(b, r.Truncated)
	b = appendIntKey(b, "bytes_sent", r.BytesSent)
	b = appendIntKey(b, "bytes_recv", r.BytesRecv)
	b = appendIntKey(b, "sse_events", int64(r.SSEEvents))

	b = append(b, `,"tags":{`...)
	if len(r.Tags) > 0 {
		keys := make([]string, 0, len(r.Tags))
		for k := range r.Tags {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonx.AppendString(b, k)
			b = append(b, ':')
			b = jsonx.AppendString(b, r.Tags[k])
		}
	}
	return append(b, "}}\n"...)
}

// appendLineVerdict adds the recorder's verdicts to a request line made by
// appendRequestLine: "good" (met the SLO) always, "warmup" when true.
func appendLineVerdict(line []byte, good, warmup bool) []byte {
	line = line[:len(line)-2] // "}\n"
	line = append(line, `,"good":`...)
	line = strconv.AppendBool(line, good)
	if warmup {
		line = append(line, `,"warmup":true`...)
	}
	return append(line, "}\n"...)
}

// appendWindowLine appends one windows.jsonl line (with the newline).
func appendWindowLine(b []byte, w *Window) []byte {
	b = append(b, `{"start_s":`...)
	b = appendFloat(b, w.Start.Seconds())
	b = append(b, `,"end_s":`...)
	b = appendFloat(b, (w.Start + w.Len).Seconds())
	b = append(b, `,"partial":`...)
	b = strconv.AppendBool(b, w.Partial)
	b = appendIntKey(b, "count", w.Count)
	b = appendIntKey(b, "completed", w.Completed)
	b = appendIntKey(b, "failed", w.Failed)
	b = appendIntKey(b, "good", w.Good)
	b = appendIntKey(b, "warmup", w.Warmup)
	b = append(b, `,"errors_by_class":`...)
	b = appendCounts(b, w.Errors)
	b = appendIntKey(b, "input_tokens", w.InputTokens)
	b = appendIntKey(b, "output_tokens", w.OutputTokens)
	b = appendIntKey(b, "bytes_sent", w.BytesSent)
	b = appendIntKey(b, "bytes_recv", w.BytesRecv)
	b = append(b, `,"request_throughput":`...)
	b = appendFloat(b, w.RequestRate())
	b = append(b, `,"output_throughput":`...)
	b = appendFloat(b, w.OutputTokenRate())
	b = append(b, `,"request_goodput":`...)
	b = appendFloat(b, w.GoodRate())
	for _, m := range [...]struct {
		name string
		p    *Percentiles
	}{
		{"ttft", &w.TTFT}, {"tpot", &w.TPOT}, {"e2el", &w.E2EL},
		{"client_queue_time", &w.QueueTime}, {"schedule_lag", &w.ScheduleLag},
	} {
		b = appendIntKey(b, m.name+"_count", m.p.N)
		ok := m.p.N > 0
		b = appendMsKey(b, "p50_"+m.name+"_ms", m.p.P50, ok)
		b = appendMsKey(b, "p95_"+m.name+"_ms", m.p.P95, ok)
		b = appendMsKey(b, "p99_"+m.name+"_ms", m.p.P99, ok)
	}
	return append(b, "}\n"...)
}

func appendCounts(b []byte, m map[request.ErrorClass]int64) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonx.AppendString(b, k)
		b = append(b, ':')
		b = strconv.AppendInt(b, m[request.ErrorClass(k)], 10)
	}
	return append(b, '}')
}

func appendIntKey(b []byte, key string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

// appendMsKey appends ,"key":ms or ,"key":null when !ok.
func appendMsKey(b []byte, key string, d time.Duration, ok bool) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	if !ok {
		return append(b, "null"...)
	}
	return appendMs(b, float64(d))
}

// appendMs appends a nanosecond count as milliseconds with up to six
// decimals (exact to the nanosecond), using integer arithmetic: a line
// holds one of these per generated token, and strconv's shortest float
// formatting would dominate Record's cost.
func appendMs(b []byte, ns float64) []byte {
	if math.IsNaN(ns) || math.IsInf(ns, 0) || math.Abs(ns) > 1<<62 {
		return append(b, "null"...)
	}
	n := int64(math.Round(ns))
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	b = strconv.AppendInt(b, n/1e6, 10)
	frac := n % 1e6
	if frac == 0 {
		return b
	}
	var d [7]byte
	d[0] = '.'
	for i := 6; i >= 1; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	end := 7
	for d[end-1] == '0' {
		end--
	}
	return append(b, d[:end]...)
}

// appendFloat appends f in the shortest form that reads back exactly; NaN
// and infinities, which JSON cannot hold, become null.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}
