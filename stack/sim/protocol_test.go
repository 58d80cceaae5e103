package sim

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

func FuzzParseGenerate(f *testing.F) {
	for _, s := range []string{
		`{"messages":[{"role":"user","content":"hi"}],"max_tokens":3}`,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"a b"}]}],"stream":true,"stream_options":{"include_usage":null}}`,
		`{"prompt":[1,2,3],"max_tokens":2,"min_tokens":1}`,
		`{"prompt":[[1,2]],"ignore_eos":true}`,
		`{"prompt":["x y"],"max_completion_tokens":4}`,
		`{"prompt":"x","n":2}`, `{"model":"other","prompt":"x"}`, `{`, `null`, `[]`, `{"prompt":{}}`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	cfg := testConfig()
	cfg.MaxModelLen = 4096
	f.Fuzz(func(t *testing.T, body []byte, chat bool) {
		for _, ids := range []bool{false, true} {
			g, aerr := parseGenerate(body, chat, ids, &cfg)
			if aerr != nil {
				if aerr.status != 400 && aerr.status != 404 {
					t.Fatalf("status %d", aerr.status)
				}
				var e map[string]map[string]any
				if err := json.Unmarshal(appendError(nil, aerr), &e); err != nil || e["error"]["code"] != float64(aerr.status) {
					t.Fatalf("error object %s: %v", appendError(nil, aerr), err)
				}
				continue
			}
			if g.promptTokens < 1 || g.maxTokens < 1 || g.promptTokens+g.maxTokens > cfg.MaxModelLen || g.minTokens > g.maxTokens {
				t.Fatalf("accepted an invalid request: %+v", g)
			}
			if ids && len(g.promptIDs) != g.promptTokens {
				t.Fatalf("%d ids for %d prompt tokens", len(g.promptIDs), g.promptTokens)
			}
			for _, id := range g.promptIDs {
				if id < 0 || id >= vocabSize {
					t.Fatalf("token id %d out of range", id)
				}
			}
			o := newOutput(requestSeed(1, body), g.maxTokens, g.minTokens, g.ignoreEOS)
			if o.n < 1 || o.n > g.maxTokens || (o.stop && o.n <= g.minTokens) {
				t.Fatalf("output %+v for %+v", o, g)
			}
		}
	})
}

func FuzzParseTokenize(f *testing.F) {
	for _, s := range []string{`{"prompt":"a b"}`, `{"messages":[{"role":"user","content":"x"}]}`, `{"prompt":1}`, `{}`, `{"messages":null,"prompt":"y","add_special_tokens":false}`} {
		f.Add([]byte(s))
	}
	cfg := testConfig()
	f.Fuzz(func(t *testing.T, body []byte) {
		ids, aerr := parseTokenize(body, &cfg)
		if aerr != nil {
			return
		}
		for _, id := range ids {
			if id < 0 || id >= vocabSize {
				t.Fatalf("token id %d out of range", id)
			}
		}
	})
}

// FuzzConversationPrefix: for any chat request the simulator accepts, the
// answer it gives, sent back as the next request's assistant message
// exactly as rendered (text content, or tool_calls with their arguments),
// re-tokenizes to the previous prompt followed by the answer's token ids.
// This is what keeps a multi-turn conversation in the prefix cache.
func FuzzConversationPrefix(f *testing.F) {
	tools := `[{"type":"function","function":{"name":"f","parameters":{"properties":{"q":{}}}}},{"function":{"name":"g h","description":"x y"}}]`
	for _, s := range []string{
		`{"messages":[{"role":"user","content":"hi"}],"max_tokens":30}`,
		`{"messages":[{"role":"user","content":"hi"}],"tools":` + tools + `,"tool_choice":"required","max_tokens":40}`,
		`{"messages":[{"role":"user","content":"hi"}],"tools":` + tools + `,"tool_choice":{"type":"function","function":{"name":"g h"}},"max_tokens":7}`,
		`{"messages":[{"role":"system","content":[{"type":"text","text":"a"}]},{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{\"q\": \"x\"}"}}]},{"role":"tool","tool_call_id":"1","content":"ok"}],"tools":` + tools + `}`,
	} {
		f.Add([]byte(s))
	}
	cfg := testConfig()
	cfg.MaxModelLen = 4096
	cfg.ToolCallRate, cfg.ToolCallsMax, cfg.ToolArgsTokens = 0.5, 3, 5
	f.Fuzz(func(t *testing.T, body []byte) {
		g, aerr := parseGenerate(body, true, true, &cfg)
		if aerr != nil {
			return
		}
		if n, aerr := parseGenerate(body, true, false, &cfg); aerr != nil || n.promptTokens != g.promptTokens {
			t.Fatalf("counting gives %+v (%v), the ids %d prompt tokens", n, aerr, g.promptTokens)
		}
		var top map[string]json.RawMessage
		var msgs []json.RawMessage
		if json.Unmarshal(body, &top) != nil || json.Unmarshal(top["messages"], &msgs) != nil {
			return
		}
		// Only bodies that survive re-encoding unchanged (no duplicate or
		// case-folded keys) say something about the next turn.
		again, _ := json.Marshal(top)
		if g2, aerr := parseGenerate(again, true, true, &cfg); aerr != nil || !slices.Equal(g2.promptIDs, g.promptIDs) ||
			bytes.Contains(body, []byte(`"add_generation_prompt"`)) {
			return
		}
		o := newAnswer(requestSeed(cfg.Seed, body), g, &cfg)
		r := &request{out: o, g: g}
		var asst []byte
		if o.tools != nil {
			asst = append([]byte(`{"role":"assistant","content":null,"tool_calls":`), r.appendToolCalls(nil, o.n)...)
			asst = append(asst, '}')
		} else {
			asst = append([]byte(`{"role":"assistant","content":"`), r.appendText(nil, o.n)...)
			asst = append(asst, `"}`...)
		}
		msgs = append(msgs, asst, json.RawMessage(`{"role":"user","content":"next"}`))
		top["messages"], _ = json.Marshal(msgs)
		top["max_tokens"] = json.RawMessage(`1`)
		next, _ := json.Marshal(top)
		g3, aerr := parseGenerate(next, true, true, &cfg)
		if aerr != nil {
			if aerr.status == 400 && bytes.Contains([]byte(aerr.msg), []byte("maximum context length")) {
				return
			}
			t.Fatalf("the next turn is rejected: %v\n%s", aerr.msg, next)
		}
		want := slices.Clone(g.promptIDs)
		for k := range o.n {
			want = append(want, o.tokenID(k))
		}
		if len(g3.promptIDs) < len(want) || !slices.Equal(g3.promptIDs[:len(want)], want) {
			t.Fatalf("next prompt does not start with prompt + answer\nprompt+answer %v\nnext          %v", want, g3.promptIDs)
		}
	})
}
