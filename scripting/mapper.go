package scripting

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/openai"
	"github.com/llmload/llmload/engine/request"
	"github.com/llmload/llmload/engine/trace"
)

// Mapper turns a source row into a request Spec. Map is called by the
// planner goroutine. The Mappers of one Script share its Lua state: they
// may be called from several goroutines (one planner per scenario), and
// their calls are serialised on the state.
type Mapper interface {
	Map(row trace.Row) (openai.Spec, error)
}

// DefaultMapper is the mapping of a scenario without a request function:
// llm.chat{prompt_tokens = row.context_tokens, max_tokens =
// row.generated_tokens, ignore_eos = true}. It holds no state and is safe
// for concurrent use.
type DefaultMapper struct{}

// Map implements Mapper.
func (DefaultMapper) Map(row trace.Row) (openai.Spec, error) {
	return openai.Spec{
		Endpoint:     request.Chat,
		PromptTokens: row.ContextTokens,
		MaxTokens:    row.GeneratedTokens,
		IgnoreEOS:    true,
	}, nil
}

// luaMapper calls a scenario's request function. It reuses one row table
// (and one hash_ids table) for every call, so a call allocates only what
// the script itself builds.
type luaMapper struct {
	s       *Script
	sc      *Scenario
	fn      *lua.LFunction
	what    string // "request function of scenario x", for errors
	row     *lua.LTable
	hashIDs *lua.LTable
	hashLen int // entries currently in hashIDs
}

func (s *Script) newLuaMapper(sc *Scenario, fn *lua.LFunction) *luaMapper {
	m := &luaMapper{s: s, sc: sc, fn: fn}
	m.row = s.ls.CreateTable(0, 6)
	m.hashIDs = s.ls.CreateTable(0, 0)
	m.row.RawSetString("hash_ids", m.hashIDs)
	return m
}

// Map implements Mapper. The row table passed to the request function is
// the same table on every call: a script that keeps rows must copy fields.
func (m *luaMapper) Map(row trace.Row) (openai.Spec, error) {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	t := m.row
	t.RawSetString("timestamp", lua.LNumber(row.At.Seconds()))
	t.RawSetString("context_tokens", lua.LNumber(row.ContextTokens))
	t.RawSetString("generated_tokens", lua.LNumber(row.GeneratedTokens))
	t.RawSetString("line", lua.LNumber(row.Line))
	if len(row.HashIDs) > 0 || m.hashLen > 0 {
		for i, id := range row.HashIDs {
			m.hashIDs.RawSetInt(i+1, lua.LNumber(id))
		}
		for i := len(row.HashIDs) + 1; i <= m.hashLen; i++ {
			m.hashIDs.RawSetInt(i, lua.LNil)
		}
		m.hashLen = len(row.HashIDs)
	}
	if m.what == "" {
		m.what = fmt.Sprintf("request function of scenario %q", m.sc.Name)
	}
	ret, err := s.call(m.fn, m.what, t)
	if err != nil {
		return openai.Spec{}, err
	}
	if ud, ok := ret.(*lua.LUserData); ok {
		if sp, ok := ud.Value.(*openai.Spec); ok {
			return *sp, nil
		}
	}
	return openai.Spec{}, &Error{File: s.Path, Line: m.fn.Proto.LineDefined, Msg: fmt.Sprintf(
		"%s returned %s; it must return llm.chat{...} or llm.completion{...}", m.what, describe(ret))}
}
