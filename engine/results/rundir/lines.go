package rundir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// requestLine is the part of a requests.jsonl line a Request keeps.
// Pointers tell null from 0.
type requestLine struct {
	Seq                   *int64            `json:"seq"`
	Scenario              string            `json:"scenario"`
	Turn                  int               `json:"turn"`
	Scheduled             *float64          `json:"scheduled_ms"`
	Released              *float64          `json:"released_ms"`
	Dispatched            *float64          `json:"dispatched_ms"`
	Sent                  *float64          `json:"sent_ms"`
	LastByte              *float64          `json:"last_byte_ms"`
	TTFT                  *float64          `json:"ttft_ms"`
	TPOT                  *float64          `json:"tpot_ms"`
	E2EL                  *float64          `json:"e2el_ms"`
	QueueTime             *float64          `json:"client_queue_time_ms"`
	ScheduleLag           *float64          `json:"schedule_lag_ms"`
	Error                 *string           `json:"error"`
	PromptTokens          *int              `json:"prompt_tokens"`
	PromptTokensRequested int               `json:"prompt_tokens_requested"`
	CompletionTokens      int               `json:"completion_tokens"`
	MaxTokens             int               `json:"max_tokens"`
	Tags                  map[string]string `json:"tags"`
	Good                  bool              `json:"good"`
	Warmup                bool              `json:"warmup"`
}

var itlKey = []byte(`"itl_ms":[`)

// addRequest parses one requests.jsonl line. The itl_ms array, most of a
// line's bytes, is read by a small number scanner rather than
// encoding/json: a 100,000-request run has millions of them.
func (r *Run) addRequest(line []byte) error {
	lo := int32(len(r.ITL))
	rest := line
	if i := bytes.Index(line, itlKey); i >= 0 {
		start := i + len(itlKey)
		end := bytes.IndexByte(line[start:], ']')
		if end < 0 {
			return fmt.Errorf("itl_ms: the array has no closing ]")
		}
		var err error
		if r.ITL, err = appendFloats(r.ITL, line[start:start+end]); err != nil {
			r.ITL = r.ITL[:lo]
			return fmt.Errorf("itl_ms: %v", err)
		}
		rest = make([]byte, 0, len(line)-end)
		rest = append(append(rest, line[:start]...), line[start+end:]...)
	}
	var l requestLine
	if err := json.Unmarshal(rest, &l); err != nil {
		r.ITL = r.ITL[:lo]
		return err
	}
	if l.Seq == nil {
		r.ITL = r.ITL[:lo]
		return fmt.Errorf(`no "seq": not a requests.jsonl line`)
	}
	if len(r.ITL) > math.MaxInt32 {
		return fmt.Errorf("more than %d inter-token latencies in one run", math.MaxInt32)
	}
	q := Request{
		Seq: *l.Seq, Scenario: l.Scenario, Turn: l.Turn,
		Scheduled: val(l.Scheduled), Released: val(l.Released), Dispatched: val(l.Dispatched),
		Sent: val(l.Sent), LastByte: val(l.LastByte),
		TTFT: val(l.TTFT), TPOT: val(l.TPOT), E2EL: val(l.E2EL),
		QueueTime: val(l.QueueTime), ScheduleLag: val(l.ScheduleLag),
		PromptTokensRequested: l.PromptTokensRequested, CompletionTokens: l.CompletionTokens,
		MaxTokens: l.MaxTokens, Tags: l.Tags, Good: l.Good, Warmup: l.Warmup,
		itlLo: lo, itlHi: int32(len(r.ITL)),
	}
	if l.Error != nil {
		q.Error = *l.Error
		if q.Error == "" {
			q.Error = "unknown"
		}
	}
	if l.PromptTokens != nil {
		q.PromptTokens = *l.PromptTokens
	}
	if len(q.Tags) == 0 {
		q.Tags = nil
	}
	r.Requests = append(r.Requests, q)
	return nil
}

// appendFloats parses a comma-separated list of JSON numbers. It scans
// by hand (no trimming helpers): a large run has tens of millions.
func appendFloats(dst []float32, b []byte) ([]float32, error) {
	i := 0
	for {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		if i == len(b) {
			if len(dst) > 0 && len(b) > 0 && b[len(b)-1] == ',' {
				return dst, fmt.Errorf("a trailing comma")
			}
			return dst, nil
		}
		j := i
		for j < len(b) && b[j] != ',' && b[j] != ' ' && b[j] != '\t' {
			j++
		}
		v, err := strconv.ParseFloat(string(b[i:j]), 64)
		if err != nil || math.IsInf(v, 0) {
			return dst, fmt.Errorf("%q is not a number", b[i:j])
		}
		dst = append(dst, float32(v))
		for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
			j++
		}
		if j < len(b) {
			if b[j] != ',' {
				return dst, fmt.Errorf("expected , after %q", b[i:j])
			}
			j++
		}
		i = j
	}
}

func val(p *float64) float64 {
	if p == nil {
		return Missing
	}
	return *p
}

type windowLine struct {
	Start             *float64 `json:"start_s"`
	End               float64  `json:"end_s"`
	Partial           bool     `json:"partial"`
	Count             int64    `json:"count"`
	Completed         int64    `json:"completed"`
	Failed            int64    `json:"failed"`
	Good              int64    `json:"good"`
	InputTokens       int64    `json:"input_tokens"`
	OutputTokens      int64    `json:"output_tokens"`
	RequestThroughput float64  `json:"request_throughput"`
	OutputThroughput  float64  `json:"output_throughput"`
	RequestGoodput    float64  `json:"request_goodput"`
	P50TTFT           *float64 `json:"p50_ttft_ms"`
	P95TTFT           *float64 `json:"p95_ttft_ms"`
	P99TTFT           *float64 `json:"p99_ttft_ms"`
	P50TPOT           *float64 `json:"p50_tpot_ms"`
	P95TPOT           *float64 `json:"p95_tpot_ms"`
	P99TPOT           *float64 `json:"p99_tpot_ms"`
	P50E2EL           *float64 `json:"p50_e2el_ms"`
	P95E2EL           *float64 `json:"p95_e2el_ms"`
	P99E2EL           *float64 `json:"p99_e2el_ms"`
	P50Queue          *float64 `json:"p50_client_queue_time_ms"`
	P95Queue          *float64 `json:"p95_client_queue_time_ms"`
	P99Queue          *float64 `json:"p99_client_queue_time_ms"`
}

func (r *Run) addWindow(line []byte) error {
	var l windowLine
	if err := json.Unmarshal(line, &l); err != nil {
		return err
	}
	if l.Start == nil {
		return fmt.Errorf(`no "start_s": not a windows.jsonl line`)
	}
	r.Windows = append(r.Windows, Window{
		Start: *l.Start, End: l.End, Partial: l.Partial,
		Count: l.Count, Completed: l.Completed, Failed: l.Failed, Good: l.Good,
		InputTokens: l.InputTokens, OutputTokens: l.OutputTokens,
		RequestThroughput: l.RequestThroughput, OutputThroughput: l.OutputThroughput, RequestGoodput: l.RequestGoodput,
		P50TTFT: val(l.P50TTFT), P95TTFT: val(l.P95TTFT), P99TTFT: val(l.P99TTFT),
		P50TPOT: val(l.P50TPOT), P95TPOT: val(l.P95TPOT), P99TPOT: val(l.P99TPOT),
		P50E2EL: val(l.P50E2EL), P95E2EL: val(l.P95E2EL), P99E2EL: val(l.P99E2EL),
		P50Queue: val(l.P50Queue), P95Queue: val(l.P95Queue), P99Queue: val(l.P99Queue),
	})
	return nil
}

type serverLine struct {
	T                    *float64 `json:"t_s"`
	Running              *float64 `json:"running"`
	Waiting              *float64 `json:"waiting"`
	KVCacheUsage         *float64 `json:"kv_cache_usage"`
	GenerationTokensPerS *float64 `json:"generation_tokens_per_s"`
	PromptTokensPerS     *float64 `json:"prompt_tokens_per_s"`
	PowerW               *float64 `json:"power_w"`
	JPerGenerationToken  *float64 `json:"j_per_generation_token"`
}

func (r *Run) addServer(line []byte) error {
	var l serverLine
	if err := json.Unmarshal(line, &l); err != nil {
		return err
	}
	if l.T == nil {
		return fmt.Errorf(`no "t_s": not a server.jsonl line`)
	}
	r.Server = append(r.Server, ServerSample{
		T: *l.T, Running: val(l.Running), Waiting: val(l.Waiting), KVCacheUsage: val(l.KVCacheUsage),
		GenerationTokensPerS: val(l.GenerationTokensPerS), PromptTokensPerS: val(l.PromptTokensPerS),
		PowerW: val(l.PowerW), JPerGenerationToken: val(l.JPerGenerationToken),
	})
	return nil
}
