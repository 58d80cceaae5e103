package openai

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/llmload/llmload/engine/load/prompt"
	"github.com/llmload/llmload/engine/load/request"
)

func newBuilder(t testing.TB, cfg BuilderConfig, cals ...*prompt.Calibration) *Builder {
	t.Helper()
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://127.0.0.1:8000"
	}
	b, err := NewBuilder(cfg, cals...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func build(t testing.TB, b *Builder, seq int64, s Spec) (*request.Plan, map[string]any) {
	t.Helper()
	p := &request.Plan{Seq: seq, Scenario: "sc"}
	if err := b.Build(seq, &s, p); err != nil {
		t.Fatalf("Build: %v", err)
	}
	if !json.Valid(p.Body) {
		t.Fatalf("invalid JSON body: %s", p.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(p.Body, &body); err != nil {
		t.Fatal(err)
	}
	return p, body
}

func ptr[T any](v T) *T { return &v }

func TestBuildExactBytes(t *testing.T) {
	b := newBuilder(t, BuilderConfig{Model: "m"})
	p, _ := build(t, b, 0, Spec{
		Endpoint:  request.Chat,
		Messages:  []Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi \"there\""}},
		MaxTokens: 10, MinTokens: 10, IgnoreEOS: true, Temperature: ptr(0.0),
	})
	want := `{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi \"there\""}],` +
		`"max_tokens":10,"min_tokens":10,"ignore_eos":true,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}`
	if string(p.Body) != want {
		t.Errorf("body\n got %s\nwant %s", p.Body, want)
	}
	if p.URL != "http://127.0.0.1:8000/v1/chat/completions" || p.Endpoint != request.Chat {
		t.Errorf("URL %q endpoint %v", p.URL, p.Endpoint)
	}
	if p.PromptTokens != 0 || p.MaxTokens != 10 || p.MinTokens != 10 || !p.IgnoreEOS {
		t.Errorf("plan lengths %+v", p)
	}
}

func TestBuildOmitsUnsetFields(t *testing.T) {
	b := newBuilder(t, BuilderConfig{})
	p, body := build(t, b, 0, Spec{Endpoint: request.Completions, Prompt: "once upon"})
	if string(p.Body) != `{"prompt":"once upon","stream":true,"stream_options":{"include_usage":true}}` {
		t.Errorf("body %s", p.Body)
	}
	for _, k := range []string{"model", "max_tokens", "min_tokens", "ignore_eos", "temperature"} {
		if _, ok := body[k]; ok {
			t.Errorf("%s present although unset", k)
		}
	}
	if p.URL != "http://127.0.0.1:8000/v1/completions" {
		t.Errorf("URL %q", p.URL)
	}
}

func TestBuildSyntheticChat(t *testing.T) {
	cal := prompt.NewFixed(request.Chat, prompt.Model{A: 1, B: 8})
	b := newBuilder(t, BuilderConfig{Model: "llama", Seed: 42, ContinuousUsage: true}, cal)
	p, body := build(t, b, 7, Spec{Endpoint: request.Chat, PromptTokens: 100, MaxTokens: 20, Tags: map[string]string{"k": "v"}})
	msgs := body["messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0].(map[string]any)
	if m["role"] != "user" {
		t.Errorf("role %v", m["role"])
	}
	if n := len(strings.Fields(m["content"].(string))); n != 92 {
		t.Errorf("%d words for 100 tokens with b=8, want 92", n)
	}
	so := body["stream_options"].(map[string]any)
	if so["include_usage"] != true || so["continuous_usage_stats"] != true || body["stream"] != true {
		t.Errorf("stream fields: %v %v", body["stream"], so)
	}
	if body["model"] != "llama" || body["max_tokens"] != 20.0 {
		t.Errorf("model %v max_tokens %v", body["model"], body["max_tokens"])
	}
	if p.PromptTokens != 100 || p.MaxTokens != 20 || p.Tags["k"] != "v" {
		t.Errorf("plan %+v", p)
	}
}

func TestBuildPromptsAreUniqueAndReproducible(t *testing.T) {
	b := newBuilder(t, BuilderConfig{Seed: 1})
	content := func(b *Builder, scenario string, seq int64) string {
		p := &request.Plan{Scenario: scenario}
		if err := b.Build(seq, &Spec{Endpoint: request.Chat, PromptTokens: 64}, p); err != nil {
			t.Fatal(err)
		}
		return string(p.Body)
	}
	first := content(b, "a", 0)
	if content(b, "a", 1) == first {
		t.Error("two requests got the same prompt")
	}
	if content(b, "b", 0) == first {
		t.Error("two scenarios got the same prompt for the same seq")
	}
	if content(newBuilder(t, BuilderConfig{Seed: 2}), "a", 0) == first {
		t.Error("two seeds gave the same prompt")
	}
	if content(newBuilder(t, BuilderConfig{Seed: 1}), "a", 0) != first {
		t.Error("the same seed, scenario and seq gave a different prompt")
	}
}

func TestBuildTokenIDs(t *testing.T) {
	b := newBuilder(t, BuilderConfig{TokenIDs: true, Model: "m"})
	p, body := build(t, b, 3, Spec{Endpoint: request.Completions, PromptTokens: 1234, MaxTokens: 5, IgnoreEOS: true})
	ids, ok := body["prompt"].([]any)
	if !ok || len(ids) != 1234 {
		t.Fatalf("prompt is %T of %d, want 1234 ids", body["prompt"], len(ids))
	}
	for _, v := range ids {
		f := v.(float64)
		if f != math.Trunc(f) || f < prompt.MinTokenID || f > prompt.MaxTokenID {
			t.Fatalf("token id %v out of range", f)
		}
	}
	if p.PromptTokens != 1234 || p.URL != "http://127.0.0.1:8000/v1/completions" {
		t.Errorf("plan %+v", p)
	}
	// Chat cannot take ids: TokenIDs falls back to words there.
	_, body = build(t, b, 3, Spec{Endpoint: request.Chat, PromptTokens: 50})
	if _, ok := body["messages"].([]any); !ok {
		t.Errorf("chat with TokenIDs: %v", body)
	}
	// Completions text prompt without TokenIDs.
	b = newBuilder(t, BuilderConfig{}, prompt.NewFixed(request.Completions, prompt.Model{A: 1, B: 1}))
	_, body = build(t, b, 3, Spec{Endpoint: request.Completions, PromptTokens: 50})
	if n := len(strings.Fields(body["prompt"].(string))); n != 49 {
		t.Errorf("%d words for 50 tokens with b=1, want 49", n)
	}
}

func TestBuildBodyIsNotShared(t *testing.T) {
	b := newBuilder(t, BuilderConfig{})
	p1, _ := build(t, b, 0, Spec{Endpoint: request.Chat, PromptTokens: 200})
	keep := string(p1.Body)
	p2, _ := build(t, b, 1, Spec{Endpoint: request.Chat, PromptTokens: 300})
	if string(p1.Body) != keep {
		t.Fatal("building a second plan changed the first plan's body")
	}
	if cap(p2.Body) != len(p2.Body) {
		t.Errorf("body has cap %d for len %d: not right-sized", cap(p2.Body), len(p2.Body))
	}
}

func TestBuildUserTextRoundTrips(t *testing.T) {
	tricky := []string{
		`quotes " and 'single' and backslash \ and \n literal`,
		"control \x00\x01\x1f\x7f newline\n tab\t cr\r",
		"unicode 日本語 🦙 \u2028\u2029 é",
		"invalid \xff\xfe utf8",
		"</script><!-- & -->",
	}
	b := newBuilder(t, BuilderConfig{Model: "m\"odel"})
	for _, s := range tricky {
		_, body := build(t, b, 0, Spec{Endpoint: request.Chat, Messages: []Message{{Role: "us\ter", Content: s}, {Role: "assistant", Content: s + s}}})
		msgs := body["messages"].([]any)
		m0, m1 := msgs[0].(map[string]any), msgs[1].(map[string]any)
		if m0["content"] != canonical(t, s) || m1["content"] != canonical(t, s+s) || m0["role"] != "us\ter" {
			t.Errorf("%q came back as %q / %q", s, m0["content"], m1["content"])
		}
		if body["model"] != "m\"odel" {
			t.Errorf("model came back as %q", body["model"])
		}
		_, body = build(t, b, 0, Spec{Endpoint: request.Completions, Prompt: s})
		if body["prompt"] != canonical(t, s) {
			t.Errorf("completions prompt %q came back as %q", s, body["prompt"])
		}
		// A bare prompt on the chat endpoint is one user message.
		_, body = build(t, b, 0, Spec{Endpoint: request.Chat, Prompt: s})
		m := body["messages"].([]any)[0].(map[string]any)
		if len(body["messages"].([]any)) != 1 || m["role"] != "user" || m["content"] != canonical(t, s) {
			t.Errorf("chat with a bare prompt: %v", body["messages"])
		}
	}
}

func TestBuildExtra(t *testing.T) {
	b := newBuilder(t, BuilderConfig{Model: "m"})
	spec := Spec{
		Endpoint: request.Chat, PromptTokens: 10, MaxTokens: 100, Temperature: ptr(0.5),
		Extra: map[string]any{
			"top_p":          0.9,
			"max_tokens":     50.0,
			"ignore_eos":     true,
			"temperature":    1.0,
			"stop":           []any{"\n\n", "END"},
			"stream_options": map[string]any{"include_usage": true},
			"logit_bias":     map[string]any{"50256": -100.0, "11": 5.0},
			"model":          "other",
		},
	}
	p, body := build(t, b, 0, spec)
	if body["top_p"] != 0.9 || body["max_tokens"] != 50.0 || body["temperature"] != 1.0 || body["model"] != "other" || body["ignore_eos"] != true {
		t.Errorf("extra did not win: %v", body)
	}
	if so := body["stream_options"].(map[string]any); len(so) != 1 {
		t.Errorf("stream_options not replaced: %v", so)
	}
	for _, k := range []string{`"max_tokens"`, `"temperature"`, `"model"`, `"stream_options"`} {
		if n := strings.Count(string(p.Body), k+":"); n != 1 {
			t.Errorf("%s appears %d times in %s", k, n, p.Body)
		}
	}
	if p.MaxTokens != 50 || !p.IgnoreEOS || p.PromptTokens != 10 {
		t.Errorf("plan does not reflect extra: %+v", p)
	}
	// Extra keys come sorted after the generated fields.
	s := string(p.Body)
	last := strings.Index(s, `"stream":true`)
	for _, k := range []string{"ignore_eos", "logit_bias", "max_tokens", "model", "stop", "stream_options", "temperature", "top_p"} {
		i := strings.Index(s, `"`+k+`":`)
		if i < last {
			t.Errorf("extra %q at %d, before the previous field at %d: %s", k, i, last, s)
		}
		last = i
	}
	// Deterministic despite map order.
	for range 20 {
		again, _ := build(t, b, 0, spec)
		if string(again.Body) != s {
			t.Fatal("the same spec gave different bytes")
		}
	}
	// A prompt supplied through Extra is not synthetic.
	p, body = build(t, b, 0, Spec{Endpoint: request.Completions, PromptTokens: 10, Extra: map[string]any{"prompt": []any{1.0, 2.0}}})
	if p.PromptTokens != 0 || len(body["prompt"].([]any)) != 2 {
		t.Errorf("extra prompt: plan %d, body %v", p.PromptTokens, body["prompt"])
	}
	// ...but a field the endpoint does not read leaves the synthetic prompt in place.
	p, body = build(t, b, 0, Spec{Endpoint: request.Chat, PromptTokens: 10, Extra: map[string]any{"prompt": "ignored by chat"}})
	if p.PromptTokens != 10 || body["messages"] == nil {
		t.Errorf("chat with an extra prompt: plan %d, body %v", p.PromptTokens, body)
	}
	_, body = build(t, b, 0, Spec{Endpoint: request.Chat, Extra: map[string]any{"messages": []any{map[string]any{"role": "user", "content": "x"}}}})
	if len(body["messages"].([]any)) != 1 {
		t.Errorf("extra messages: %v", body["messages"])
	}
}

func TestBuildErrors(t *testing.T) {
	b := newBuilder(t, BuilderConfig{})
	cases := []struct {
		spec Spec
		want string
	}{
		{Spec{Endpoint: request.Chat, PromptTokens: 10, MaxTokens: -3}, "max_tokens must be >= 0, got -3"},
		{Spec{Endpoint: request.Chat, PromptTokens: -1}, "prompt_tokens must be >= 0, got -1"},
		{Spec{Endpoint: request.Chat, PromptTokens: 10, MinTokens: -2}, "min_tokens must be >= 0, got -2"},
		{Spec{Endpoint: request.Chat, PromptTokens: 10, MaxTokens: 5, MinTokens: 6}, "min_tokens (6) must not exceed max_tokens (5)"},
		{Spec{Endpoint: request.Chat, PromptTokens: 10, IgnoreEOS: true}, "ignore_eos needs max_tokens > 0"},
		{Spec{Endpoint: request.Chat, PromptTokens: 10, Temperature: ptr(-1.0)}, "temperature must be a finite number >= 0, got -1"},
		{Spec{Endpoint: request.Chat, PromptTokens: 10, Temperature: ptr(math.NaN())}, "temperature must be a finite number >= 0, got NaN"},
		{Spec{Endpoint: request.Chat, PromptTokens: 10, Temperature: ptr(math.Inf(1))}, "temperature"},
		{Spec{Endpoint: request.Chat}, "no prompt: set prompt_tokens, messages or prompt"},
		{Spec{Endpoint: request.Completions, Messages: []Message{{Role: "user", Content: "x"}}}, "messages need the chat endpoint"},
		{Spec{Endpoint: request.Chat, Messages: []Message{{Role: "user", Content: "x"}, {Role: "", Content: "y"}}}, "messages[1].role is empty"},
		{Spec{Endpoint: request.Endpoint(7), PromptTokens: 10}, "endpoint must be chat or completions, got 7"},
		{Spec{Endpoint: request.Chat, PromptTokens: 10, Extra: map[string]any{"stream": false}}, `extra field "stream" must be true`},
		{Spec{Endpoint: request.Chat, PromptTokens: 10, Extra: map[string]any{"max_tokens": "ten"}}, `extra field "max_tokens" must be a number, got string`},
		{Spec{Endpoint: request.Chat, PromptTokens: 10, Extra: map[string]any{"min_tokens": 1.5}}, `extra field "min_tokens" must be a whole number >= 0, got 1.5`},
		{Spec{Endpoint: request.Chat, PromptTokens: 10, Extra: map[string]any{"ignore_eos": "yes"}}, `extra field "ignore_eos" must be true or false`},
		{Spec{Endpoint: request.Chat, PromptTokens: 10, Extra: map[string]any{"top_p": math.NaN()}}, `extra field "top_p": NaN`},
	}
	for _, c := range cases {
		err := b.Build(0, &c.spec, &request.Plan{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.spec, err, c.want)
		}
	}
	if _, err := NewBuilder(BuilderConfig{BaseURL: "localhost:8000"}); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Errorf("bad URL: %v", err)
	}
	c1, c2 := prompt.NewFixed(request.Chat, prompt.Identity), prompt.NewFixed(request.Chat, prompt.Identity)
	if _, err := NewBuilder(BuilderConfig{BaseURL: "http://h"}, c1, c2); err == nil || !strings.Contains(err.Error(), "two calibrations") {
		t.Errorf("duplicate calibrations: %v", err)
	}
}

func TestBuildHeaders(t *testing.T) {
	run := map[string]string{"Authorization": "Bearer k", "X-Run": "1"}
	b := newBuilder(t, BuilderConfig{Headers: run})
	p, _ := build(t, b, 0, Spec{Endpoint: request.Chat, PromptTokens: 5})
	if p.Headers["Authorization"] != "Bearer k" {
		t.Errorf("run headers missing: %v", p.Headers)
	}
	p, _ = build(t, b, 0, Spec{Endpoint: request.Chat, PromptTokens: 5, Headers: map[string]string{"X-Run": "2", "X-Req": "r"}})
	if p.Headers["Authorization"] != "Bearer k" || p.Headers["X-Run"] != "2" || p.Headers["X-Req"] != "r" {
		t.Errorf("merged headers: %v", p.Headers)
	}
	if run["X-Run"] != "1" || len(run) != 2 {
		t.Errorf("the run's header map was modified: %v", run)
	}
}

// With a calibration that learns from usage, results fed back through
// Observe correct the prompt length of later plans.
func TestBuildLearnsFromUsage(t *testing.T) {
	cal := prompt.NewOnline(request.Chat, prompt.Identity)
	b := newBuilder(t, BuilderConfig{}, cal)
	// The server: one token per word, 8 tokens of chat template.
	for seq, tokens := range []int{500, 100, 2000} {
		p, body := build(t, b, int64(seq), Spec{Endpoint: request.Chat, PromptTokens: tokens})
		words := len(strings.Fields(body["messages"].([]any)[0].(map[string]any)["content"].(string)))
		b.Observe(&request.Result{Seq: p.Seq, Scenario: p.Scenario, PromptTokens: words + 8, UsageFromServer: true})
	}
	// Not from usage, or failed without usage: ignored.
	b.Observe(&request.Result{Seq: 0, Scenario: "sc", PromptTokens: 5000})
	b.Observe(&request.Result{Seq: 1, Scenario: "sc", UsageFromServer: true})
	if m := cal.Model(); math.Abs(m.A-1) > 1e-9 || math.Abs(m.B-8) > 1e-6 {
		t.Fatalf("learned %+v, want a=1 b=8", m)
	}
	_, body := build(t, b, 3, Spec{Endpoint: request.Chat, PromptTokens: 1000})
	if n := len(strings.Fields(body["messages"].([]any)[0].(map[string]any)["content"].(string))); n != 992 {
		t.Errorf("after learning: %d words for 1000 tokens, want 992", n)
	}
	if b.Calibration(request.Chat) != cal || b.Calibration(request.Completions) != nil {
		t.Error("Calibration returned the wrong value")
	}
}

// An assistant turn that called tools, and the tool's answer, are sent in
// the OpenAI shape a server's chat template expects.
func TestBuildToolMessages(t *testing.T) {
	b := newBuilder(t, BuilderConfig{BaseURL: "http://h"})
	_, body := build(t, b, 0, Spec{Endpoint: request.Chat, Messages: []Message{
		{Role: "user", Content: "weather?"},
		{Role: "assistant", ToolCalls: []request.ToolCall{{ID: "c1", Name: "get", Arguments: `{"city":"Paris"}`}}},
		{Role: "tool", ToolCallID: "c1", Content: "sunny"},
	}})
	want := []any{
		map[string]any{"role": "user", "content": "weather?"},
		map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{
			"id": "c1", "type": "function", "function": map[string]any{"name": "get", "arguments": `{"city":"Paris"}`}}}},
		map[string]any{"role": "tool", "content": "sunny", "tool_call_id": "c1"},
	}
	if got := body["messages"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("messages\n got %#v\nwant %#v", got, want)
	}
}
