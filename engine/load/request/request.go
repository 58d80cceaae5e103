// Package request holds the two values that flow through the load engine:
// a Plan (what to send and when) and a Result (what happened).
//
// Plans are built by the planner (which owns the Lua state), timed by the
// pacer, admitted by the gate and executed by a client. Results are produced
// by the client and consumed by the recorder. Neither type has methods that
// synchronise: a Plan is immutable once handed to the pacer, and a Result is
// owned by exactly one goroutine at a time (the client while the request runs,
// then the recorder).
package request

import (
	"time"

	"github.com/llmload/llmload/engine/shared/wire"
)

// Endpoint selects the OpenAI-compatible API a plan targets.
type Endpoint uint8

const (
	// Chat is POST .../v1/chat/completions.
	Chat Endpoint = iota
	// Completions is POST .../v1/completions.
	Completions
)

func (e Endpoint) String() string {
	if e == Completions {
		return "completions"
	}
	return "chat"
}

// Plan is one request, fully built before it is due so that sending costs
// no more than writing bytes.
type Plan struct {
	Seq      int64         // 0-based position in the scenario's stream of plans
	Due      time.Duration // send offset from the run's start on the pacer's clock
	Scenario string        // scenario name (tag) the plan belongs to
	Endpoint Endpoint
	URL      string // full URL to POST to
	Body     []byte // JSON request body, with "stream": true
	Headers  map[string]string

	// What was asked for, kept so results can be checked against it.
	PromptTokens int // requested prompt length in tokens (0 = not controlled)
	MaxTokens    int // requested output length (max_tokens)
	MinTokens    int // min_tokens, 0 if unset
	IgnoreEOS    bool

	// Source provenance for the per-request log.
	SourceLine int               // line in the trace file, 0 for synthetic rows
	Tags       map[string]string // free-form tags from the scenario

	// Session places the plan in a conversation; zero for one-shot
	// requests of the open-loop schedule.
	Session SessionRef
	// Capture asks the client to keep the answer (text, reasoning, tool
	// calls) in Result.Answer. Only sessions need it: one-shot requests
	// are measured without keeping what was said.
	Capture bool
	// Reply, when set, is called once with the plan's result after every
	// sink has seen it, on the gate worker that ran the request (or the
	// gate's drop reporter); it must not block. A session uses it to learn
	// that its turn is over.
	Reply func(*Result)
}

// SessionRef says which conversation a request belongs to.
type SessionRef struct {
	ID   string // the session's id, sent to the server in the body's "user" field and a header
	User int    // 1-based closed-loop user (virtual user) that ran it; 0 for open-loop sessions
	Turn int    // 1-based turn of the session: model calls in order, tool follow-ups included
}

// Answer is what the server said, kept when Plan.Capture is set.
type Answer struct {
	Text      string     // the content (chat) or text (completions), concatenated
	Reasoning string     // reasoning_content / reasoning, concatenated
	ToolCalls []ToolCall // in index order
	// Cut is true when the answer was longer than MaxAnswerBytes and its
	// end was not kept (the request is still measured to its end).
	Cut bool
}

// ToolCall is one function call of a chat answer, assembled from the
// stream's deltas.
type ToolCall struct {
	ID        string
	Name      string
	Arguments string // JSON text as the model wrote it; not validated
}

// MaxAnswerBytes bounds the answer text kept per request (text, reasoning
// and tool-call arguments together), whatever the server sends.
const MaxAnswerBytes = 4 << 20

// NewResult starts the result of p, released to the gate at released:
// the plan's identity (CopyPlan), Scheduled and Released.
func NewResult(p *Plan, released time.Duration) *Result {
	r := &Result{Scheduled: p.Due, Released: released}
	r.CopyPlan(p)
	return r
}

// CopyPlan copies the plan's identity into r: Seq, Scenario, SourceLine,
// Session, Tags, PromptTokensRequested (from PromptTokens) and MaxTokens.
// It is the one place these fields are copied.
func (r *Result) CopyPlan(p *Plan) {
	r.Seq, r.Scenario, r.SourceLine, r.Session, r.Tags = p.Seq, p.Scenario, p.SourceLine, p.Session, p.Tags
	r.PromptTokensRequested, r.MaxTokens = p.PromptTokens, p.MaxTokens
}

// ErrorClass says why a request failed. The zero value means success.
type ErrorClass string

const (
	OK            ErrorClass = ""
	ErrConnect    ErrorClass = "connect"      // dial or write failed
	ErrHTTPStatus ErrorClass = "http_status"  // non-2xx status
	ErrTimeout    ErrorClass = "timeout"      // whole-request timeout
	ErrStall      ErrorClass = "stall"        // no bytes for longer than the idle timeout
	ErrProtocol   ErrorClass = "protocol"     // malformed SSE or JSON, or stream ended without [DONE]
	ErrServer     ErrorClass = "server_error" // an error object inside the stream
	ErrCanceled   ErrorClass = "canceled"     // the run was stopped while the request was in flight
	ErrDropped    ErrorClass = "dropped"      // never sent: the concurrency gate was full and on_full = "drop"
	// ErrOverrun: the server sent far more tokens than max_tokens allows
	// (or, without max_tokens, more than the client's fixed cap); the
	// request was ended there so that its memory stays bounded.
	ErrOverrun ErrorClass = "overrun"
)

// Result is the full record of one request. All instants are offsets from
// the run's start on the same monotonic clock as Plan.Due, so they subtract
// without wall-clock jumps.
type Result struct {
	Seq        int64
	Scenario   string
	SourceLine int

	Scheduled  time.Duration // = Plan.Due
	Released   time.Duration // the pacer released it to the gate
	Dispatched time.Duration // left the concurrency gate (a worker took it)
	Sent       time.Duration // request bytes written (start of the HTTP exchange)
	Headers    time.Duration // response headers read
	FirstToken time.Duration // first event with generated content; 0 if none
	LastByte   time.Duration // end of the response body
	// ServerReceived is when the server says the request arrived, from
	// its SimReceiptHeader (llmload's simulator sets it; other servers
	// do not): an offset from the epoch on this machine's wall clock, so
	// it compares with the other instants only when client and server
	// share the host. 0 when unknown.
	ServerReceived time.Duration

	// TokenTimes holds the instant of every token-bearing SSE event, as an
	// offset from Sent. TokenCounts[i] is the number of tokens event i
	// carried when the server said so; it is nil when every event carried one.
	TokenTimes  []time.Duration
	TokenCounts []int32

	Status    int
	Error     ErrorClass
	ErrorMsg  string
	BytesSent int64 // request line, headers and body
	BytesRecv int64 // response headers and body as read
	SSEEvents int   // count of data events, including [DONE]

	// Tokens. The server's usage block is the source when present.
	PromptTokensRequested int
	PromptTokens          int  // usage.prompt_tokens, or 0 when unknown
	CompletionTokens      int  // usage.completion_tokens, else counted events
	UsageFromServer       bool // true when the counts above came from usage
	MaxTokens             int
	FinishReason          string // "stop", "length", ... as the server said
	// Truncated is true when the server produced fewer tokens than asked
	// for with ignore_eos or min_tokens, i.e. it cut the request short.
	Truncated bool

	Tags map[string]string

	Session SessionRef // = Plan.Session
	Answer  *Answer    // what the server said, when Plan.Capture was set (nil otherwise)
}

// SimReceiptHeader is wire.SimReceiptHeader, where the simulator and the
// client both find it.
const SimReceiptHeader = wire.SimReceiptHeader

// Failed reports whether the request counts as failed.
func (r *Result) Failed() bool { return r.Error != OK }

// TTFT is first token minus send, or 0 when there was no token.
func (r *Result) TTFT() time.Duration {
	if r.FirstToken == 0 {
		return 0
	}
	return r.FirstToken - r.Sent
}

// E2E is last byte minus send.
func (r *Result) E2E() time.Duration { return r.LastByte - r.Sent }

// TPOT is (E2E - TTFT) / (completion_tokens - 1), vLLM's definition; ok is
// false when fewer than two tokens were generated.
func (r *Result) TPOT() (d time.Duration, ok bool) {
	if r.CompletionTokens < 2 || r.FirstToken == 0 {
		return 0, false
	}
	return (r.E2E() - r.TTFT()) / time.Duration(r.CompletionTokens-1), true
}

// QueueTime is the time the request waited at the concurrency gate: the
// open-loop cost of the concurrency cap.
func (r *Result) QueueTime() time.Duration { return r.Dispatched - r.Released }

// ScheduleLag is how late the pacer released the request compared with its
// due time: the pacer's own error, excluding time queued at the gate.
func (r *Result) ScheduleLag() time.Duration { return r.Released - r.Scheduled }

// TTFTFromSchedule is TTFT measured from the due time, so that time lost in
// the client (queueing, lag) is never hidden (coordinated omission).
func (r *Result) TTFTFromSchedule() time.Duration {
	if r.FirstToken == 0 {
		return 0
	}
	return r.FirstToken - r.Scheduled
}

// E2EFromSchedule is E2E measured from the due time.
func (r *Result) E2EFromSchedule() time.Duration { return r.LastByte - r.Scheduled }
