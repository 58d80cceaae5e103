package sim

import (
	"encoding/json"
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
