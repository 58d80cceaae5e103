package scripting

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/load/request"
)

// answer is what s:chat returns: a read-only object whose fields are made
// when the script reads them. It was a table of 16 fields, and in
// gopher-lua each string key of a table is a map entry, a boxed key in a
// second map and a list element: the answer alone was half of a session
// step's allocations, while a script reads one or two of its fields
// (docs/performance.md, "Sessions"). It keeps a copy of the result's few
// fields, not the result, so an answer a script holds on to stays small.
type answer struct {
	ok                       bool
	turn, status             int
	errClass, errMsg, finish string
	completion, prompt       int
	ttftMS, e2elMS           float64
	hasTTFT                  bool
	text, reasoning          string
	toolCalls                []request.ToolCall
	calls                    *lua.LTable // tool_calls, made on first read and then the same table
}

// answerFields are the fields of an answer, for errors and the docs.
var answerFields = []string{"ok", "turn", "status", "error", "error_msg", "finish_reason", "completion_tokens",
	"prompt_tokens", "ttft_ms", "e2el_ms", "text", "reasoning", "tool_calls"}

// newAnswer makes the answer to res, an object of answerMT.
func (s *Script) newAnswer(L *lua.LState, res *request.Result) *lua.LUserData {
	a := &answer{ok: !res.Failed(), turn: res.Session.Turn, status: res.Status, finish: res.FinishReason,
		completion: res.CompletionTokens, prompt: res.PromptTokens, e2elMS: float64(res.E2E()) / 1e6}
	if !a.ok {
		a.errClass, a.errMsg = string(res.Error), res.ErrorMsg
	}
	if ttft := res.TTFT(); ttft > 0 {
		a.ttftMS, a.hasTTFT = float64(ttft)/1e6, true
	}
	if res.Answer != nil {
		a.text, a.reasoning, a.toolCalls = res.Answer.Text, res.Answer.Reasoning, res.Answer.ToolCalls
	}
	ud := L.NewUserData()
	ud.Value, ud.Metatable = a, s.answerMT
	return ud
}

// field is the value of the answer's field key; known is false for a name
// that is not a field. Fields that do not apply (error when the turn
// succeeded, prompt_tokens the server did not report, ttft_ms without a
// token) are nil, as they were absent from the table.
func (a *answer) field(L *lua.LState, key string) (v lua.LValue, known bool) {
	switch key {
	case "ok":
		return lua.LBool(a.ok), true
	case "turn":
		return lua.LNumber(a.turn), true
	case "status":
		return lua.LNumber(a.status), true
	case "error":
		return optString(!a.ok, a.errClass), true
	case "error_msg":
		return optString(!a.ok, a.errMsg), true
	case "finish_reason":
		return lua.LString(a.finish), true
	case "completion_tokens":
		return lua.LNumber(a.completion), true
	case "prompt_tokens":
		if a.prompt > 0 {
			return lua.LNumber(a.prompt), true
		}
		return lua.LNil, true
	case "ttft_ms":
		if a.hasTTFT {
			return lua.LNumber(a.ttftMS), true
		}
		return lua.LNil, true
	case "e2el_ms":
		return lua.LNumber(a.e2elMS), true
	case "text":
		return lua.LString(a.text), true
	case "reasoning":
		return lua.LString(a.reasoning), true
	case "tool_calls":
		if a.calls == nil {
			a.calls = toolCallsTable(L, a.toolCalls)
		}
		return a.calls, true
	}
	return lua.LNil, false
}

func optString(set bool, v string) lua.LValue {
	if set {
		return lua.LString(v)
	}
	return lua.LNil
}

// answerMetatable builds the metatable of answers: fields read through
// __index, no writes, a one-line tostring.
func (s *Script) answerMetatable(L *lua.LState) *lua.LTable {
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		a := s.selfAnswer(L)
		key := L.Get(2)
		if name, ok := key.(lua.LString); ok {
			if v, known := a.field(L, string(name)); known {
				L.Push(v)
				return 1
			}
		}
		s.unknownField(L, "answer", key, answerFields)
		return 0
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		s.raisef(L, "answer: fields are read-only; keep what you need in local variables (local text = r.text)")
		return 0
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		a := s.selfAnswer(L)
		state := "ok"
		if !a.ok {
			state = "failed: " + a.errClass
		}
		L.Push(lua.LString(fmt.Sprintf("answer (turn %d, %s, %d tokens, finish %q)", a.turn, state, a.completion, a.finish)))
		return 1
	}))
	mt.RawSetString("__metatable", lua.LString("llmload"))
	return mt
}

// selfAnswer is the answer a metamethod was called on.
func (s *Script) selfAnswer(L *lua.LState) *answer {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if a, ok := ud.Value.(*answer); ok {
			return a
		}
	}
	s.raisef(L, "answer: not an answer of s:chat")
	return nil
}
