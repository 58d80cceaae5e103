package scripting

import (
	"encoding/json"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/results/record"
)

// Hooks are a scenario's Lua callbacks: setup before the run, on_response
// for each finished request, on_window for each finished sample window,
// teardown after the run. Whatever setup returns is passed to the others
// as their last argument.
//
// Every method is safe for concurrent use: it takes the script's lock, the
// one the scenarios' Mappers take, because the Lua state is
// single-threaded. A hook therefore delays the planner (and the other
// hooks) while it runs: hooks must be short, and OnResponse must be called
// off the workers' hot path (from a goroutine fed by a buffered channel).
// A method whose hook is not set does nothing and returns nil; so does
// every method of a nil *Hooks.
type Hooks struct {
	s  *Script
	sc *Scenario

	setup, onResponse, onWindow, teardown *lua.LFunction
	data                                  lua.LValue // what setup returned
}

func (s *Script) newHooks(sc *Scenario) *Hooks { return &Hooks{s: s, sc: sc, data: lua.LNil} }

// HasSetup, HasOnResponse, HasOnWindow and HasTeardown report which hooks
// the scenario sets, so a caller can skip the plumbing of unused ones.
func (h *Hooks) HasSetup() bool      { return h != nil && h.setup != nil }
func (h *Hooks) HasOnResponse() bool { return h != nil && h.onResponse != nil }
func (h *Hooks) HasOnWindow() bool   { return h != nil && h.onWindow != nil }
func (h *Hooks) HasTeardown() bool   { return h != nil && h.teardown != nil }

// Setup calls setup() once, before the first request. Its result is kept
// for the other hooks. It may run as long as the script's top level may
// (Env.LoadTimeout).
func (h *Hooks) Setup() error {
	if !h.HasSetup() {
		return nil
	}
	ret, err := h.run(h.setup, "setup", h.s.env.LoadTimeout, nil)
	if err != nil {
		return err
	}
	h.data = ret
	return nil
}

// OnResponse calls on_response(r, data) with a table describing res (see
// docs/scripting.md); r.good says whether it met the scenario's SLO. It
// may run for Env.CallTimeout.
func (h *Hooks) OnResponse(res *request.Result) error {
	if !h.HasOnResponse() {
		return nil
	}
	good := h.sc.SLO.Met(res)
	_, err := h.run(h.onResponse, "on_response", h.s.env.CallTimeout, func(L *lua.LState) lua.LValue {
		return resultTable(L, res, good)
	})
	return err
}

// OnWindow calls on_window(stats, data) with the keys of a windows.jsonl
// line. It may run for Env.CallTimeout.
func (h *Hooks) OnWindow(w *record.Window) error {
	if !h.HasOnWindow() {
		return nil
	}
	_, err := h.run(h.onWindow, "on_window", h.s.env.CallTimeout, func(L *lua.LState) lua.LValue {
		return windowTable(L, w)
	})
	return err
}

// Teardown calls teardown(summary, data) with the keys of summary.json,
// after the run. It may run for Env.LoadTimeout.
func (h *Hooks) Teardown(sum *record.Summary) error {
	if !h.HasTeardown() {
		return nil
	}
	b, err := json.Marshal(sum)
	if err != nil {
		return fmt.Errorf("scenario %s: teardown: encoding the summary: %w", h.sc.Name, err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("scenario %s: teardown: decoding the summary: %w", h.sc.Name, err)
	}
	_, err = h.run(h.teardown, "teardown", h.s.env.LoadTimeout, func(L *lua.LState) lua.LValue { return goToLua(L, v) })
	return err
}

// run calls hook fn(arg, data) under the script's lock with the time limit
// limit; arg builds the first argument (nil: no argument but data). The
// scenario is the current one for llm.set_rate while it runs.
func (h *Hooks) run(fn *lua.LFunction, name string, limit time.Duration, arg func(*lua.LState) lua.LValue) (lua.LValue, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return lua.LNil, fmt.Errorf("scenario %s: %s hook: %s: script is closed", h.sc.Name, name, s.Path)
	}
	s.x.current = h.sc
	defer func() { s.x.current = nil }()
	L := s.ls
	L.Push(fn)
	nargs := 0
	if arg != nil {
		L.Push(arg(L))
		L.Push(h.data)
		nargs = 2
	}
	s.raised = nil
	s.armCallFor(limit)
	err := L.PCall(nargs, 1, nil)
	s.disarmCall()
	if err != nil {
		what := fmt.Sprintf("%s hook of scenario %q", name, h.sc.Name)
		return lua.LNil, fmt.Errorf("scenario %s: %s hook: %w", h.sc.Name, name, s.luaError(err, s.callCtx, limit, what))
	}
	ret := L.Get(-1)
	L.Pop(1)
	return ret, nil
}

// resultTable is on_response's argument: requests.jsonl's keys, without
// itl_ms (a list per token would make the hook cost grow with the output).
func resultTable(L *lua.LState, r *request.Result, good bool) *lua.LTable {
	t := L.CreateTable(0, 32)
	num := func(k string, v float64) { t.RawSetString(k, lua.LNumber(v)) }
	msKey := func(k string, d time.Duration, ok bool) {
		if ok {
			num(k, float64(d)/1e6)
		}
	}
	dropped := r.Error == request.ErrDropped
	num("seq", float64(r.Seq))
	t.RawSetString("scenario", lua.LString(r.Scenario))
	num("source_line", float64(r.SourceLine))
	if r.Session.ID != "" {
		t.RawSetString("session_id", lua.LString(r.Session.ID))
		num("user_id", float64(r.Session.User))
		num("turn", float64(r.Session.Turn))
	}
	num("status", float64(r.Status))
	t.RawSetString("ok", lua.LBool(!r.Failed()))
	t.RawSetString("good", lua.LBool(good))
	if r.Failed() {
		t.RawSetString("error", lua.LString(r.Error))
		t.RawSetString("error_msg", lua.LString(r.ErrorMsg))
	}
	msKey("scheduled_ms", r.Scheduled, true)
	msKey("sent_ms", r.Sent, !dropped)
	msKey("first_token_ms", r.FirstToken, r.FirstToken != 0)
	msKey("last_byte_ms", r.LastByte, !dropped)
	msKey("ttft_ms", r.TTFT(), r.FirstToken != 0)
	tpot, ok := r.TPOT()
	msKey("tpot_ms", tpot, ok)
	msKey("e2el_ms", r.E2E(), !dropped)
	msKey("ttft_from_schedule_ms", r.TTFTFromSchedule(), r.FirstToken != 0)
	msKey("e2el_from_schedule_ms", r.E2EFromSchedule(), !dropped)
	msKey("client_queue_time_ms", r.QueueTime(), !dropped)
	msKey("schedule_lag_ms", r.ScheduleLag(), true)
	if r.PromptTokens > 0 {
		num("prompt_tokens", float64(r.PromptTokens))
	}
	num("prompt_tokens_requested", float64(r.PromptTokensRequested))
	num("completion_tokens", float64(r.CompletionTokens))
	num("max_tokens", float64(r.MaxTokens))
	num("token_events", float64(len(r.TokenTimes)))
	t.RawSetString("finish_reason", lua.LString(r.FinishReason))
	t.RawSetString("truncated", lua.LBool(r.Truncated))
	tags := L.CreateTable(0, len(r.Tags))
	for k, v := range r.Tags {
		tags.RawSetString(k, lua.LString(v))
	}
	t.RawSetString("tags", tags)
	return t
}

// windowTable is on_window's argument: windows.jsonl's keys, plus p90,
// mean and max of each latency.
func windowTable(L *lua.LState, w *record.Window) *lua.LTable {
	t := L.CreateTable(0, 56)
	num := func(k string, v float64) { t.RawSetString(k, lua.LNumber(v)) }
	num("start_s", w.Start.Seconds())
	num("end_s", (w.Start + w.Len).Seconds())
	t.RawSetString("partial", lua.LBool(w.Partial))
	num("count", float64(w.Count))
	num("completed", float64(w.Completed))
	num("failed", float64(w.Failed))
	num("good", float64(w.Good))
	num("warmup", float64(w.Warmup))
	errs := L.CreateTable(0, len(w.Errors))
	for k, n := range w.Errors {
		errs.RawSetString(string(k), lua.LNumber(n))
	}
	t.RawSetString("errors_by_class", errs)
	num("input_tokens", float64(w.InputTokens))
	num("output_tokens", float64(w.OutputTokens))
	num("request_throughput", w.RequestRate())
	num("output_throughput", w.OutputTokenRate())
	num("request_goodput", w.GoodRate())
	for _, m := range [...]struct {
		name string
		p    *record.Percentiles
	}{
		{"ttft", &w.TTFT}, {"tpot", &w.TPOT}, {"e2el", &w.E2EL},
		{"client_queue_time", &w.QueueTime}, {"schedule_lag", &w.ScheduleLag},
	} {
		num(m.name+"_count", float64(m.p.N))
		if m.p.N == 0 {
			continue
		}
		for _, q := range [...]struct {
			key string
			d   time.Duration
		}{{"p50", m.p.P50}, {"p90", m.p.P90}, {"p95", m.p.P95}, {"p99", m.p.P99}, {"max", m.p.Max}} {
			num(q.key+"_"+m.name+"_ms", float64(q.d)/1e6)
		}
		num("mean_"+m.name+"_ms", m.p.Mean/1e6)
	}
	return t
}
