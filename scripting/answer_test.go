package scripting

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/session"
)

// answerScript checks every field of two answers in Lua: a turn with a
// tool call, then a failed turn, and what the object refuses.
const answerScript = `
local llm = require("llmload")
return llm.scenario{ name = "answers", users = 1, session = function(s)
  s:user("hi")
  local r = s:chat{ max_tokens = 8 }
  assert(r.ok == true and r.turn == 1 and r.status == 200, "ok, turn, status")
  assert(r.text == "the text" and r.reasoning == "thought", "text, reasoning")
  assert(r.finish_reason == "tool_calls" and r.completion_tokens == 7 and r.prompt_tokens == 11, "counts")
  assert(r.ttft_ms == 20 and r.e2el_ms == 50, "timings " .. tostring(r.ttft_ms) .. " " .. tostring(r.e2el_ms))
  assert(r.error == nil and r.error_msg == nil, "no error on success")
  assert(#r.tool_calls == 1 and r.tool_calls[1].name == "search" and r.tool_calls[1].arguments == '{"q":1}', "tool calls")
  assert(r.tool_calls == r.tool_calls, "tool_calls is one table")
  assert(tostring(r):find("turn 1, ok, 7 tokens"), tostring(r))
  local okw, errw = pcall(function() r.text = "x" end)
  assert(not okw and tostring(errw):find("read%-only"), "write: " .. tostring(errw))
  local oku, erru = pcall(function() return r.txt end)
  assert(not oku and tostring(erru):find("did you mean text"), "typo: " .. tostring(erru))
  s:user("again")
  local f = s:chat{ max_tokens = 8 }
  assert(f.ok == false and f.error == "http_status" and f.error_msg == "HTTP 503", "failed turn")
  assert(f.ttft_ms == nil and f.prompt_tokens == nil and f.text == "" and #f.tool_calls == 0, "absent fields")
  assert(r.text == "the text", "an earlier answer keeps its fields")
end }
`

func TestAnswerObject(t *testing.T) {
	path := filepath.Join(t.TempDir(), "answers.lua")
	if err := writeFile(path, answerScript); err != nil {
		t.Fatal(err)
	}
	s := mustLoad(t, path, Env{Seed: 1})
	b, err := openai.NewBuilder(openai.BuilderConfig{BaseURL: "http://127.0.0.1:8000", Model: "m", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	prog := s.SessionProgram(s.Scenarios[0], b, 1)
	sess := &session.Session{ID: "answers-1", User: 1, Iteration: 1}
	t0 := time.Second
	results := []*request.Result{
		{Status: 200, CompletionTokens: 7, PromptTokens: 11, FinishReason: "tool_calls",
			Sent: t0, FirstToken: t0 + 20*time.Millisecond, LastByte: t0 + 50*time.Millisecond,
			Answer: &request.Answer{Text: "the text", Reasoning: "thought",
				ToolCalls: []request.ToolCall{{ID: "c1", Name: "search", Arguments: `{"q":1}`}}}},
		{Status: 503, Error: request.ErrHTTPStatus, ErrorMsg: "HTTP 503", Sent: t0, LastByte: t0 + 5*time.Millisecond},
	}
	st, err := prog.Begin(sess)
	for i := 0; err == nil && st.Kind == session.Send; i++ {
		if i == len(results) {
			t.Fatalf("the session sent a turn %d", i+1)
		}
		sess.Turn++
		res := results[i]
		res.Session = request.SessionRef{ID: sess.ID, User: 1, Turn: sess.Turn}
		st, err = prog.Next(sess, res)
	}
	prog.Stop(sess)
	if err != nil {
		t.Fatal(err)
	}
	if st.Kind != session.End {
		t.Fatalf("the session stopped at a %v step, want its end", st.Kind)
	}
	if !strings.Contains(strings.Join(answerFields, " "), "tool_calls") {
		t.Fatal("answerFields lost tool_calls")
	}
}
