package openai

import (
	"strconv"
	"strings"
	"testing"

	"github.com/llmload/llmload/engine/load/prompt"
	"github.com/llmload/llmload/engine/load/request"
)

// BenchmarkBuild measures the planner's cost of one request. MB/s counts
// body bytes.
func BenchmarkBuild(b *testing.B) {
	cal := prompt.NewOnline(request.Chat, prompt.Model{A: 1, B: 8})
	long := strings.Repeat("a user's \"quoted\" text, with unicode é and\nnewlines. ", 600)
	cases := []struct {
		name     string
		tokenIDs bool
		spec     Spec
	}{
		{"chat/1000tokens", false, Spec{Endpoint: request.Chat, PromptTokens: 1000, MaxTokens: 200, IgnoreEOS: true}},
		{"chat/8000tokens", false, Spec{Endpoint: request.Chat, PromptTokens: 8000, MaxTokens: 200, IgnoreEOS: true}},
		{"completions-ids/1000tokens", true, Spec{Endpoint: request.Completions, PromptTokens: 1000, MaxTokens: 200, IgnoreEOS: true}},
		{"completions-ids/8000tokens", true, Spec{Endpoint: request.Completions, PromptTokens: 8000, MaxTokens: 200, IgnoreEOS: true}},
		{"chat-user-text/" + strconv.Itoa(len(long)) + "bytes", false, Spec{Endpoint: request.Chat, Messages: []Message{{Role: "user", Content: long}}, MaxTokens: 200,
			Extra: map[string]any{"top_p": 0.9, "stop": []any{"END"}}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			bl, err := NewBuilder(BuilderConfig{BaseURL: "http://127.0.0.1:8000", Model: "meta-llama/Llama-3.1-8B-Instruct", Seed: 1, TokenIDs: c.tokenIDs}, cal)
			if err != nil {
				b.Fatal(err)
			}
			var p request.Plan
			if err := bl.Build(0, &c.spec, &p); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(p.Body)))
			b.ReportAllocs()
			seq := int64(0)
			for b.Loop() {
				seq++
				if err := bl.Build(seq, &c.spec, &p); err != nil {
					b.Fatal(err)
				}
			}
			if c.spec.PromptTokens > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(c.spec.PromptTokens), "ns/token")
			}
		})
	}
}
