package scripting

import (
	"errors"
	"github.com/llmload/llmload/engine/load/session"
	"io"
	"path/filepath"
	"testing"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/request"
)

// TestScenarioFiles loads every scenario under scenarios/ with its
// defaults and turns its first rows into request bodies, as the planner
// would: sources, request functions and the builder together. (The CLI's
// scenario test also runs each one against the simulator.)
func TestScenarioFiles(t *testing.T) {
	inRoot(t)
	files, err := filepath.Glob("scenarios/*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	b, err := openai.NewBuilder(openai.BuilderConfig{BaseURL: "http://127.0.0.1:8000", Model: "m", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if _, err := Load(file, Env{Seed: 1, Help: true}); err != nil {
				t.Fatalf("loading for --help: %v", err)
			}
			s := mustLoad(t, file, Env{Seed: 1})
			for _, sc := range s.Scenarios {
				if sc.Session != nil {
					drySession(t, s, sc, b)
					continue
				}
				hashIDs := 0
				for i := range 8 {
					row, err := sc.Source.Next()
					if errors.Is(err, io.EOF) {
						if i == 0 {
							t.Fatalf("scenario %s: the source is empty", sc.Name)
						}
						break
					}
					if err != nil {
						t.Fatalf("scenario %s: row %d: %v", sc.Name, i, err)
					}
					sp, err := sc.Mapper.Map(row)
					if err != nil {
						t.Fatalf("scenario %s: %v", sc.Name, err)
					}
					var p request.Plan
					p.Scenario = sc.Name
					if err := b.Build(int64(i), &sp, &p); err != nil {
						t.Fatalf("scenario %s: row %+v: building %+v: %v", sc.Name, row, sp, err)
					}
					if len(row.HashIDs) > 0 && len(sp.HashIDs) == len(row.HashIDs) {
						hashIDs++
					}
				}
				// The Mooncake example exists to replay prefix reuse: every
				// row's hash ids must reach its request.
				if filepath.Base(file) == "mooncake_prefix.lua" && hashIDs != 8 {
					t.Errorf("scenario %s: %d of 8 requests carry their row's hash ids", sc.Name, hashIDs)
				}
			}
		})
	}
}

// drySession runs one session of a session scenario against answers made
// up here (text, and a tool call when the request offers tools), building
// every request it sends: the session function, its fields and its
// requests must all be valid.
func drySession(t *testing.T, s *Script, sc *Scenario, b *openai.Builder) {
	t.Helper()
	prog := s.SessionProgram(sc, b, 1)
	sess := &session.Session{ID: sc.Name + "-1", User: 1, Iteration: 1}
	if src := sc.Session.Trace; src != nil {
		tr, err := src.NextSession()
		if err != nil {
			t.Fatalf("scenario %s: first session: %v", sc.Name, err)
		}
		sess.ID, sess.Trace = tr.ID, &tr
	}
	st, err := prog.Begin(sess)
	sends := 0
	for i := 0; err == nil && st.Kind != session.End && i < 200; i++ {
		var res *request.Result
		if st.Kind == session.Send {
			var p request.Plan
			p.Scenario = sc.Name
			if err := b.Build(int64(sends), &st.Spec, &p); err != nil {
				t.Fatalf("scenario %s: session request %d: %v", sc.Name, sends+1, err)
			}
			sends++
			sess.Turn++
			res = &request.Result{Status: 200, Session: request.SessionRef{ID: sess.ID, User: 1, Turn: sess.Turn},
				Answer: &request.Answer{Text: "an answer"}, CompletionTokens: 2, FinishReason: "stop"}
			if _, ok := st.Spec.Extra["tools"]; ok && sends%2 == 1 {
				res.Answer = &request.Answer{ToolCalls: []request.ToolCall{{ID: "call-1", Name: "search", Arguments: `{"query":"x"}`}}}
				res.FinishReason = "tool_calls"
			}
		}
		st, err = prog.Next(sess, res)
	}
	prog.Stop(sess)
	if err != nil {
		t.Fatalf("scenario %s: %v", sc.Name, err)
	}
	if sends == 0 {
		t.Fatalf("scenario %s: the session sent no request", sc.Name)
	}
}
