package scripting

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/trace"
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
// row.generated_tokens, ignore_eos = true, hash_ids = row.hash_ids}
// (ignore_eos only when there is a max_tokens to reach). It holds no state
// and is safe for concurrent use.
type DefaultMapper struct{}

// Map implements Mapper.
func (DefaultMapper) Map(row trace.Row) (openai.Spec, error) {
	return openai.Spec{
		Endpoint:     request.Chat,
		PromptTokens: row.ContextTokens,
		MaxTokens:    row.GeneratedTokens,
		IgnoreEOS:    row.GeneratedTokens > 0,
		HashIDs:      row.HashIDs,
		BlockSize:    row.BlockSize,
	}, nil
}

// luaMapper calls a scenario's request function. It reuses one row table
// (and one hash_ids table) for every call, so a call allocates only what
// the script itself builds (and the row's fields, when the trace has them).
type luaMapper struct {
	s    *Script
	sc   *Scenario
	fn   *lua.LFunction
	what string // "request function of scenario x", for errors
	row  *rowTable
}

func (s *Script) newLuaMapper(sc *Scenario, fn *lua.LFunction) *luaMapper {
	return &luaMapper{s: s, sc: sc, fn: fn, row: s.newRowTable()}
}

// Map implements Mapper. The row table passed to the request function is
// the same table on every call: a script that keeps rows must copy fields.
func (m *luaMapper) Map(row trace.Row) (openai.Spec, error) {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	t := m.row.fill(s.ls, row) // rows as Lua tables: sources.go
	if m.what == "" {
		m.what = fmt.Sprintf("request function of scenario %q", m.sc.Name)
	}
	ret, err := s.call(m.fn, m.what, t)
	if err != nil {
		return openai.Spec{}, err
	}
	if ud, ok := ret.(*lua.LUserData); ok {
		if sp, ok := ud.Value.(*openai.Spec); ok {
			out := *sp
			if len(out.HashIDs) > 0 && out.BlockSize == 0 {
				out.BlockSize = row.BlockSize // the source's block_size, unless the spec says
			}
			return out, nil
		}
	}
	return openai.Spec{}, &Error{File: s.Path, Line: m.fn.Proto.LineDefined, Msg: fmt.Sprintf(
		"%s returned %s; it must return llm.chat{...} or llm.completion{...}", m.what, describe(ret))}
}
