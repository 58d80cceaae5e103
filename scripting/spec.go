package scripting

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/shared/didyoumean"
)

var (
	chatFields       = []string{"prompt_tokens", "messages", "max_tokens", "min_tokens", "ignore_eos", "temperature", "model", "extra", "headers", "tags", "hash_ids", "block_size"}
	completionFields = []string{"prompt_tokens", "prompt", "max_tokens", "min_tokens", "ignore_eos", "temperature", "model", "extra", "headers", "tags", "hash_ids", "block_size"}
)

func endpointFunc(sp *openai.Spec) string {
	if sp.Endpoint == request.Completions {
		return "completion"
	}
	return "chat"
}

// lchat implements llm.chat{...}.
func (s *Script) lchat(L *lua.LState) int {
	return s.buildSpec(L, request.Chat)
}

// lcompletion implements llm.completion{...}.
func (s *Script) lcompletion(L *lua.LState) int {
	return s.buildSpec(L, request.Completions)
}

// buildSpec reads the table argument into an openai.Spec userdata. It runs
// once per request, so it walks the table once and allocates only the Spec
// and what the fields themselves need.
func (s *Script) buildSpec(L *lua.LState, ep request.Endpoint) int {
	fn, known := "llm.chat", chatFields
	if ep == request.Completions {
		fn, known = "llm.completion", completionFields
	}
	sp := s.specFromTable(L, fn, s.argTable(L, fn, false), ep, known, true)
	ud := L.NewUserData()
	ud.Value = sp
	ud.Metatable = s.mt.spec
	L.Push(ud)
	return 1
}

// specFromTable reads a llm.chat / llm.completion table. needPrompt false
// lets a chat spec leave its prompt out (a session's s:chat sends the
// conversation so far).
func (s *Script) specFromTable(L *lua.LState, fn string, t *lua.LTable, ep request.Endpoint, known []string, needPrompt bool) *openai.Spec {
	sp := &openai.Spec{Endpoint: ep}
	hasTokens := false
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		key, _ := k.(lua.LString)
		switch key {
		case "prompt_tokens":
			sp.PromptTokens = int(s.toInt(L, fn, "prompt_tokens", v, 0))
			hasTokens = true
		case "max_tokens":
			sp.MaxTokens = int(s.toInt(L, fn, "max_tokens", v, 0))
		case "min_tokens":
			sp.MinTokens = int(s.toInt(L, fn, "min_tokens", v, 0))
		case "ignore_eos":
			sp.IgnoreEOS = s.toBool(L, fn, "ignore_eos", v)
		case "temperature":
			f := s.toNumber(L, fn, "temperature", v, false)
			sp.Temperature = &f
		case "model":
			sp.Model = s.toString(L, fn, "model", v)
		case "extra":
			obj, ok := s.toJSON(L, fn, "extra", v).(map[string]any)
			if !ok {
				s.fieldErr(L, fn, "extra", "a table of named fields {top_p = 0.9}", v)
			}
			sp.Extra = obj
		case "headers":
			sp.Headers = s.toStringMap(L, fn, "headers", v)
		case "tags":
			sp.Tags = s.toStringMap(L, fn, "tags", v)
		case "hash_ids":
			sp.HashIDs = s.toHashIDs(L, fn, v) // sources.go
		case "block_size":
			sp.BlockSize = int(s.toInt(L, fn, "block_size", v, 1))
		case "messages":
			if ep != request.Chat {
				s.raisef(L, "%s: unknown field messages (a completion takes prompt; messages is for llm.chat)", fn)
			}
			sp.Messages = s.toMessages(L, fn, v)
		case "prompt":
			if ep != request.Completions {
				s.raisef(L, "%s: unknown field prompt (chat takes messages = {{role = \"user\", content = \"...\"}}; prompt is for llm.completion)", fn)
			}
			sp.Prompt = s.toString(L, fn, "prompt", v)
		default:
			s.unknownField(L, fn, k, known)
		}
	}
	switch {
	case hasTokens && (sp.Messages != nil || sp.Prompt != ""):
		other := "messages"
		if ep == request.Completions {
			other = "prompt"
		}
		s.raisef(L, "%s: give prompt_tokens or %s, not both", fn, other)
	case !hasTokens && ep == request.Chat && len(sp.Messages) == 0 && needPrompt:
		s.raisef(L, "%s: needs prompt_tokens (a synthetic prompt of that length) or messages", fn)
	case !hasTokens && ep == request.Completions && sp.Prompt == "":
		s.raisef(L, "%s: needs prompt_tokens (a synthetic prompt of that length) or prompt", fn)
	case len(sp.HashIDs) > 0 && !hasTokens:
		s.raisef(L, "%s: hash_ids need prompt_tokens (the prompt is built from their blocks)", fn)
	case sp.MinTokens > 0 && sp.MaxTokens > 0 && sp.MinTokens > sp.MaxTokens:
		s.raisef(L, "%s: min_tokens (%d) is more than max_tokens (%d)", fn, sp.MinTokens, sp.MaxTokens)
	}
	return sp
}

var messageFields = []string{"role", "content"}

// toMessages reads {{role = "user", content = "..."}, ...}.
func (s *Script) toMessages(L *lua.LState, fn string, v lua.LValue) []openai.Message {
	t, ok := v.(*lua.LTable)
	if !ok || t.Len() == 0 {
		s.fieldErr(L, fn, "messages", `a non-empty list {{role = "user", content = "..."}}`, v)
	}
	n := t.Len()
	msgs := make([]openai.Message, n)
	for i := 1; i <= n; i++ {
		field := fmt.Sprintf("messages[%d]", i)
		mt, ok := t.RawGetInt(i).(*lua.LTable)
		if !ok {
			s.fieldErr(L, fn, field, `a table {role = "user", content = "..."}`, t.RawGetInt(i))
		}
		for k, mv := mt.Next(lua.LNil); k != lua.LNil; k, mv = mt.Next(k) {
			switch lua.LVAsString(k) {
			case "role":
				msgs[i-1].Role = s.toString(L, fn, field+".role", mv)
			case "content":
				msgs[i-1].Content = s.toString(L, fn, field+".content", mv)
			default:
				s.unknownField(L, fn+" "+field, k, messageFields)
			}
		}
		if msgs[i-1].Role == "" {
			s.raisef(L, "%s: %s.role is missing (\"system\", \"user\" or \"assistant\")", fn, field)
		}
	}
	return msgs
}

// specIndex implements reading a spec's fields from Lua (spec.max_tokens),
// so scripts can inspect or wrap what llm.chat built.
func (s *Script) specIndex(L *lua.LState) int {
	sp := L.CheckUserData(1).Value.(*openai.Spec)
	key := L.CheckString(2)
	switch key {
	case "endpoint":
		L.Push(lua.LString(endpointFunc(sp)))
	case "prompt_tokens":
		L.Push(lua.LNumber(sp.PromptTokens))
	case "max_tokens":
		L.Push(lua.LNumber(sp.MaxTokens))
	case "min_tokens":
		L.Push(lua.LNumber(sp.MinTokens))
	case "ignore_eos":
		L.Push(lua.LBool(sp.IgnoreEOS))
	case "temperature":
		if sp.Temperature == nil {
			L.Push(lua.LNil)
		} else {
			L.Push(lua.LNumber(*sp.Temperature))
		}
	case "model":
		L.Push(lua.LString(sp.Model))
	case "prompt":
		L.Push(lua.LString(sp.Prompt))
	case "messages":
		t := L.CreateTable(len(sp.Messages), 0)
		for _, m := range sp.Messages {
			mt := L.CreateTable(0, 2)
			mt.RawSetString("role", lua.LString(m.Role))
			mt.RawSetString("content", lua.LString(m.Content))
			t.Append(mt)
		}
		L.Push(t)
	case "headers", "tags":
		m := sp.Headers
		if key == "tags" {
			m = sp.Tags
		}
		t := L.CreateTable(0, len(m))
		for k, v := range m {
			t.RawSetString(k, lua.LString(v))
		}
		L.Push(t)
	case "extra":
		L.Push(goToLua(L, sp.Extra))
	case "hash_ids":
		t := L.CreateTable(len(sp.HashIDs), 0)
		for _, id := range sp.HashIDs {
			t.Append(lua.LNumber(id))
		}
		L.Push(t)
	case "block_size":
		L.Push(lua.LNumber(sp.BlockSize))
	default:
		known := append([]string{"endpoint"}, chatFields...)
		known = append(known, "prompt")
		s.raisef(L, "a request spec has no field %s%s", key, didyoumean.Suggest(key, known))
	}
	return 1
}

// specString implements tostring(spec).
func specString(L *lua.LState) int {
	sp := L.CheckUserData(1).Value.(*openai.Spec)
	var b strings.Builder
	fmt.Fprintf(&b, "llm.%s{", endpointFunc(sp))
	switch {
	case sp.PromptTokens > 0 || (sp.Messages == nil && sp.Prompt == ""):
		fmt.Fprintf(&b, "prompt_tokens=%d", sp.PromptTokens)
	case sp.Messages != nil:
		fmt.Fprintf(&b, "messages=%d", len(sp.Messages))
	default:
		fmt.Fprintf(&b, "prompt=%d bytes", len(sp.Prompt))
	}
	fmt.Fprintf(&b, ", max_tokens=%d", sp.MaxTokens)
	if sp.IgnoreEOS {
		b.WriteString(", ignore_eos=true")
	}
	b.WriteString("}")
	L.Push(lua.LString(b.String()))
	return 1
}
