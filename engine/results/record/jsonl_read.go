package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// Line is one requests.jsonl line read back by ParseRequestLine: the
// result as the recorder saw it and the verdicts it wrote beside it.
type Line struct {
	Result       request.Result
	Good, Warmup bool
}

// lineFields is a requests.jsonl line as encoding/json reads it.
// Instants stay json.Number so they convert to nanoseconds exactly
// (parseMs); pointers tell null from absent fields' zero.
type lineFields struct {
	Seq                   *int64            `json:"seq"`
	Scenario              string            `json:"scenario"`
	SourceLine            int               `json:"source_line"`
	SessionID             string            `json:"session_id"`
	UserID                int               `json:"user_id"`
	Turn                  int               `json:"turn"`
	Scheduled             *json.Number      `json:"scheduled_ms"`
	Released              *json.Number      `json:"released_ms"`
	Dispatched            *json.Number      `json:"dispatched_ms"`
	Sent                  *json.Number      `json:"sent_ms"`
	Headers               *json.Number      `json:"headers_ms"`
	FirstToken            *json.Number      `json:"first_token_ms"`
	LastByte              *json.Number      `json:"last_byte_ms"`
	ITL                   []json.Number     `json:"itl_ms"`
	TokenEvents           int               `json:"token_events"`
	TokenCounts           []int32           `json:"token_counts"`
	Status                int               `json:"status"`
	Error                 *string           `json:"error"`
	ErrorMsg              string            `json:"error_msg"`
	PromptTokens          *int              `json:"prompt_tokens"`
	PromptTokensRequested int               `json:"prompt_tokens_requested"`
	CompletionTokens      int               `json:"completion_tokens"`
	UsageFromServer       bool              `json:"usage_from_server"`
	MaxTokens             int               `json:"max_tokens"`
	FinishReason          string            `json:"finish_reason"`
	Truncated             bool              `json:"truncated"`
	BytesSent             int64             `json:"bytes_sent"`
	BytesRecv             int64             `json:"bytes_recv"`
	SSEEvents             int               `json:"sse_events"`
	Tags                  map[string]string `json:"tags"`
	Good                  bool              `json:"good"`
	Warmup                bool              `json:"warmup"`
}

// maxTokenEvents bounds token_events, so a damaged line cannot make the
// reader allocate without limit.
const maxTokenEvents = 1 << 24

// maxInstant bounds the times a line may hold (about 53 days), far beyond
// any run, so that sums of them cannot overflow.
const maxInstant = time.Duration(1 << 62 >> 10)

// ParseRequestLine reads one requests.jsonl line (as Record writes it)
// back into the Result it was written from: every instant to the
// nanosecond, and the token events rebuilt from itl_ms, token_events and
// token_counts so that the line written again from the Result is the same
// line. Fields the line does not carry (the answer, ServerReceived) stay
// zero. The error says which field is wrong.
func ParseRequestLine(b []byte) (Line, error) {
	var f lineFields
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil {
		return Line{}, err
	}
	if f.Seq == nil {
		return Line{}, errors.New(`no "seq": not a requests.jsonl line`)
	}
	res := request.Result{
		Seq: *f.Seq, Scenario: f.Scenario, SourceLine: f.SourceLine,
		Status: f.Status, ErrorMsg: f.ErrorMsg,
		BytesSent: f.BytesSent, BytesRecv: f.BytesRecv, SSEEvents: f.SSEEvents,
		PromptTokensRequested: f.PromptTokensRequested, CompletionTokens: f.CompletionTokens,
		UsageFromServer: f.UsageFromServer, MaxTokens: f.MaxTokens,
		FinishReason: f.FinishReason, Truncated: f.Truncated,
	}
	if f.SessionID != "" {
		res.Session = request.SessionRef{ID: f.SessionID, User: f.UserID, Turn: f.Turn}
	}
	if len(f.Tags) > 0 {
		res.Tags = f.Tags
	}
	if f.Error != nil {
		if *f.Error == "" {
			return Line{}, errors.New(`"error" is "": a success is null`)
		}
		res.Error = request.ErrorClass(*f.Error)
	}
	if f.PromptTokens != nil {
		if *f.PromptTokens <= 0 {
			return Line{}, fmt.Errorf(`"prompt_tokens" is %d: unknown is null`, *f.PromptTokens)
		}
		res.PromptTokens = *f.PromptTokens
	}
	for _, t := range [...]struct {
		key      string
		v        *json.Number
		dst      *time.Duration
		required bool
	}{
		{"scheduled_ms", f.Scheduled, &res.Scheduled, true}, {"released_ms", f.Released, &res.Released, true},
		{"dispatched_ms", f.Dispatched, &res.Dispatched, false}, {"sent_ms", f.Sent, &res.Sent, false},
		{"headers_ms", f.Headers, &res.Headers, false}, {"first_token_ms", f.FirstToken, &res.FirstToken, false},
		{"last_byte_ms", f.LastByte, &res.LastByte, false},
	} {
		if t.v == nil {
			if t.required {
				return Line{}, fmt.Errorf("%q is missing or null", t.key)
			}
			continue
		}
		d, err := parseMs(t.v.String())
		if err != nil {
			return Line{}, fmt.Errorf("%q: %v", t.key, err)
		}
		*t.dst = d
	}
	if err := rebuildTokens(&res, &f); err != nil {
		return Line{}, err
	}
	return Line{Result: res, Good: f.Good, Warmup: f.Warmup}, nil
}

// rebuildTokens sets res.TokenTimes and TokenCounts from the line: event
// i after the first carried k = token_counts[i] tokens (1 without
// token_counts), whose k equal ITLs are the event's gap split. A line of
// a run before token_counts existed whose events carried several tokens
// has more ITLs than events: each ITL becomes an event of its own, which
// keeps every ITL (but not token_events).
func rebuildTokens(res *request.Result, f *lineFields) error {
	if f.TokenEvents < 0 || f.TokenEvents > maxTokenEvents {
		return fmt.Errorf(`"token_events" is %d: want 0 to %d`, f.TokenEvents, maxTokenEvents)
	}
	itl := make([]time.Duration, len(f.ITL))
	for i, n := range f.ITL {
		d, err := parseMs(n.String())
		if err != nil {
			return fmt.Errorf(`"itl_ms"[%d]: %v`, i, err)
		}
		if d < 0 || d > maxInstant {
			return fmt.Errorf(`"itl_ms"[%d]: %v is not an interval`, i, n)
		}
		itl[i] = d
	}
	events, counts := f.TokenEvents, f.TokenCounts
	if counts != nil && len(counts) != events {
		return fmt.Errorf(`"token_counts" has %d entries for %d token_events`, len(counts), events)
	}
	if counts == nil && events > 0 && len(itl) > events-1 {
		events = len(itl) + 1
	}
	if events == 0 {
		if len(itl) > 0 {
			return fmt.Errorf(`"itl_ms" has %d values but token_events is 0`, len(itl))
		}
		return nil
	}
	tt := make([]time.Duration, events)
	if res.FirstToken != 0 {
		tt[0] = res.FirstToken - res.Sent
	}
	j := 0
	for i := 1; i < events; i++ {
		k := 1
		if counts != nil && counts[i] > 1 {
			k = int(counts[i])
		}
		if j+k > len(itl) {
			return fmt.Errorf(`"itl_ms" has %d values, fewer than token_events and token_counts say`, len(itl))
		}
		var gap time.Duration
		for _, d := range itl[j : j+k] {
			gap += d
		}
		if gap < 0 || tt[i-1] > maxInstant-gap {
			return fmt.Errorf(`"itl_ms": the token times of event %d are negative or too large`, i)
		}
		tt[i] = tt[i-1] + gap
		j += k
	}
	if j != len(itl) {
		return fmt.Errorf(`"itl_ms" has %d values, more than token_events and token_counts say (%d)`, len(itl), j)
	}
	res.TokenTimes, res.TokenCounts = tt, counts
	return nil
}

// parseMs reads milliseconds as appendMs writes them (an integer and up
// to six decimals) into exact nanoseconds; any other JSON number is
// rounded to the nanosecond.
func parseMs(s string) (time.Duration, error) {
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(digits, ".")
	if len(whole) > 0 && len(whole) <= 9 && len(frac) <= 6 && allDigits(whole) && allDigits(frac) {
		w, _ := strconv.ParseInt(whole, 10, 64)
		fr, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
		ns := w*1e6 + fr
		if neg {
			ns = -ns
		}
		return time.Duration(ns), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.Abs(v*1e6) > float64(maxInstant) {
		return 0, fmt.Errorf("%q is not a time in milliseconds", s)
	}
	return time.Duration(math.Round(v * 1e6)), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
