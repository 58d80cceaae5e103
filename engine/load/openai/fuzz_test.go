package openai

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/llmload/llmload/engine/load/prompt"
	"github.com/llmload/llmload/engine/load/request"
)

// FuzzBuild checks that any spec either fails validation or yields valid
// JSON that decodes back to the fields it was built from.
func FuzzBuild(f *testing.F) {
	f.Add("m", "user", "hello", "", 16, 0, false, 0.7, "top_p", "0.9", uint16(0), false)
	f.Add("", "system", "quote \" backslash \\ nl \n", "ctl \x00\x1f", 0, 0, false, -1.0, "", "", uint16(0), true)
	f.Add("m\xff", "us\u2028er", "inv \xff\xfe", "日本語 🦙", 5, 5, true, 0.0, "stop", "\"x\"", uint16(40), false)
	f.Add("m", "user", "", "prompt text", 1, 0, true, 2.0, "max_tokens", "3", uint16(100), true)
	f.Add("m", "user", "x", "", 10, 20, false, 1.0, "stream", "true", uint16(0), false)
	f.Add("m", "user", "x", "", 10, 0, false, 1.0, "\"weird\\key", "null", uint16(8), true)
	f.Fuzz(func(t *testing.T, model, role, content, promptText string, maxTokens, minTokens int, ignoreEOS bool,
		temp float64, extraKey, extraJSON string, promptTokens uint16, completions bool) {
		b, err := NewBuilder(BuilderConfig{BaseURL: "http://127.0.0.1:1", Model: "run-model", Seed: 9, TokenIDs: promptTokens%2 == 0},
			prompt.NewFixed(request.Chat, prompt.Model{A: 1, B: 8}))
		if err != nil {
			t.Fatal(err)
		}
		s := Spec{
			Endpoint:     request.Chat,
			Model:        model,
			PromptTokens: int(promptTokens % 512),
			Prompt:       promptText,
			MaxTokens:    maxTokens,
			MinTokens:    minTokens,
			IgnoreEOS:    ignoreEOS,
		}
		if completions {
			s.Endpoint = request.Completions
		}
		if s.PromptTokens > 0 && promptTokens&4 != 0 {
			// Prompts built from hash-id blocks have the same lengths.
			s.HashIDs = []int{0, int(promptTokens>>3) % 3}
			s.BlockSize = 1 + int(promptTokens>>5)%40
		}
		if content != "" || role != "" {
			s.Messages = []Message{{Role: role, Content: content}}
		}
		if temp >= -0.5 {
			s.Temperature = &temp
		}
		var extraVal any
		if extraKey != "" {
			if json.Unmarshal([]byte(extraJSON), &extraVal) != nil {
				extraVal = extraJSON
			}
			s.Extra = map[string]any{extraKey: extraVal}
		}
		var p request.Plan
		if err := b.Build(1, &s, &p); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if !json.Valid(p.Body) {
			t.Fatalf("invalid JSON: %q", p.Body)
		}
		var body map[string]any
		if err := json.Unmarshal(p.Body, &body); err != nil {
			t.Fatal(err)
		}
		generated := map[string]bool{"model": true, "messages": true, "prompt": true, "max_tokens": true, "min_tokens": true,
			"ignore_eos": true, "temperature": true, "stream": true, "stream_options": true}
		if extraKey != "" {
			// Extra wins, whatever the key.
			got, _ := json.Marshal(body[canonical(t, extraKey)])
			want, _ := json.Marshal(roundTrip(t, extraVal))
			if string(got) != string(want) {
				t.Fatalf("extra %q: got %s, want %s", extraKey, got, want)
			}
		}
		check := func(key string, want any) {
			t.Helper()
			if extraKey != "" && canonical(t, extraKey) == key {
				return
			}
			got, _ := json.Marshal(body[key])
			w, _ := json.Marshal(want)
			if string(got) != string(w) {
				t.Fatalf("%s: got %s, want %s (body %s)", key, got, w, p.Body)
			}
		}
		wantModel := any(canonical(t, model))
		if model == "" {
			wantModel = "run-model"
		}
		check("model", wantModel)
		check("stream", true)
		check("stream_options", map[string]any{"include_usage": true})
		if maxTokens > 0 {
			check("max_tokens", maxTokens)
		} else {
			check("max_tokens", nil)
		}
		if minTokens > 0 {
			check("min_tokens", minTokens)
		} else {
			check("min_tokens", nil)
		}
		if ignoreEOS {
			check("ignore_eos", true)
		} else {
			check("ignore_eos", nil)
		}
		if s.Temperature != nil {
			check("temperature", temp)
		}
		overridden := func(k string) bool { return extraKey != "" && canonical(t, extraKey) == k }
		switch {
		case s.PromptTokens > 0 && completions && b.cfg.TokenIDs:
			if ids, ok := body["prompt"].([]any); !overridden("prompt") && (!ok || len(ids) != s.PromptTokens) {
				t.Fatalf("prompt %v, want %d token ids", body["prompt"], s.PromptTokens)
			}
		case s.PromptTokens > 0 && completions:
			if text, ok := body["prompt"].(string); !overridden("prompt") && (!ok || len(strings.Fields(text)) != s.PromptTokens) {
				t.Fatalf("prompt %q, want %d words", body["prompt"], s.PromptTokens)
			}
		case s.PromptTokens > 0:
			if !overridden("messages") {
				msgs := body["messages"].([]any)
				c := msgs[0].(map[string]any)["content"].(string)
				if want := max(1, s.PromptTokens-8); len(msgs) != 1 || len(strings.Fields(c)) != want {
					t.Fatalf("%d messages, %d words, want 1 message of %d", len(msgs), len(strings.Fields(c)), want)
				}
			}
		case completions:
			check("prompt", canonical(t, promptText))
		case len(s.Messages) > 0:
			check("messages", []any{map[string]any{"role": canonical(t, role), "content": canonical(t, content)}})
		default:
			check("messages", []any{map[string]any{"role": "user", "content": canonical(t, promptText)}})
		}
		for k := range body {
			if !generated[k] && k != canonical(t, extraKey) {
				t.Fatalf("unexpected field %q in %s", k, p.Body)
			}
		}
		if !completions && p.URL != b.urls.Chat || completions && p.URL != b.urls.Completions {
			t.Fatalf("URL %q for completions=%v", p.URL, completions)
		}
	})
}

// roundTrip normalises v the way a JSON encode/decode cycle does.
func roundTrip(t *testing.T, v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
