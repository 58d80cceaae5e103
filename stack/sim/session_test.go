package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"testing"
)

// tokenizeChat is /tokenize of a chat request's messages and tools.
func tokenizeChat(t *testing.T, url string, body map[string]any) []int32 {
	t.Helper()
	tb := map[string]any{"model": body["model"], "messages": body["messages"]}
	if tools, ok := body["tools"]; ok {
		tb["tools"] = tools
	}
	b, _ := json.Marshal(tb)
	r := post(t, url+"/tokenize", string(b))
	if r.status != 200 {
		t.Fatalf("tokenize: %d %s", r.status, r.body)
	}
	var resp struct{ Tokens []int32 }
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	return resp.Tokens
}

func prefixCounters(t *testing.T, url string) (queries, hits float64) {
	t.Helper()
	text := string(do(t, http.MethodGet, url+"/metrics", "").body)
	lbl := `{engine="0",model_name="test-model"}`
	return metricValue(t, text, "vllm:prefix_cache_queries_total"+lbl), metricValue(t, text, "vllm:prefix_cache_hits_total"+lbl)
}

// A conversation whose every turn sends back the previous answer exactly as
// streamed (text, or tool calls with their concatenated arguments) and adds
// a user message or tool results re-tokenizes to the previous prompt plus
// that answer, so the prefix cache serves all of it but the last token
// (whose KV is never computed, as in vLLM) to the block.
func TestConversationReusesPrefixCache(t *testing.T) {
	type turn struct {
		toolChoice any // nil: no tools in the request
		maxTokens  int // 30 cuts a tool call answer short
	}
	scenarios := map[string][]turn{
		"text":  {{nil, 45}, {nil, 300}, {nil, 45}, {nil, 45}},
		"agent": {{"required", 80}, {"none", 45}, {"required", 30}, {"auto", 80}},
	}
	for name, turns := range scenarios {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Profile = ProfileH100
			cfg.MaxModelLen = 4096
			cfg.ToolCallsMax, cfg.ToolArgsTokens = 3, 21
			ts := startServer(t, cfg)
			msgs := []any{
				map[string]any{"role": "system", "content": "You are a terse assistant that answers in plain words."},
				map[string]any{"role": "user", "content": "What is the weather in Paris and what do the docs say about it?"},
			}
			var prevPrompt []int32
			prevAnswer := 0
			sawCalls, sawText := false, false
			for i, tr := range turns {
				body := chatBody(slices.Clone(msgs), map[string]any{"max_tokens": tr.maxTokens})
				if tr.toolChoice != nil {
					body["tools"], body["tool_choice"] = toolsJSON(), tr.toolChoice
				}
				prompt := tokenizeChat(t, ts.url, body)
				q0, h0 := prefixCounters(t, ts.url)
				a := streamChat(t, ts.url, body)
				q1, h1 := prefixCounters(t, ts.url)
				if q1-q0 != float64(len(prompt)) {
					t.Fatalf("turn %d: %v prompt tokens queried, /tokenize says %d", i, q1-q0, len(prompt))
				}
				want := 0
				if i > 0 {
					if len(prompt) <= len(prevPrompt)+prevAnswer || !slices.Equal(prompt[:len(prevPrompt)], prevPrompt) {
						t.Fatalf("turn %d: prompt (%d tokens) does not start with the previous prompt (%d tokens)", i, len(prompt), len(prevPrompt))
					}
					want = (len(prevPrompt) + prevAnswer - 1) / cfg.BlockSize * cfg.BlockSize
				}
				if h1-h0 != float64(want) {
					t.Fatalf("turn %d: %v prefix cache hits, want %d (whole blocks of the previous %d-token prompt + %d-token answer, less its last token)",
						i, h1-h0, want, len(prevPrompt), prevAnswer)
				}
				t.Logf("turn %d: %d prompt tokens, %d hits, answer %d tokens, %d tool calls, finish %s", i, len(prompt), want, a.completion, len(a.calls), a.finish)
				prevPrompt, prevAnswer = prompt, a.completion
				msgs = append(msgs, a.assistantMessage())
				if len(a.calls) > 0 {
					sawCalls = true
					for j, c := range a.calls {
						msgs = append(msgs, map[string]any{"role": "tool", "tool_call_id": c.ID, "content": fmt.Sprintf("result %d of %s: 21 C and sunny", j, c.Function.Name)})
					}
				} else {
					sawText = true
					msgs = append(msgs, map[string]any{"role": "user", "content": fmt.Sprintf("And then? (turn %d)", i+1)})
				}
			}
			if name == "agent" && (!sawCalls || !sawText) {
				t.Fatalf("the agent conversation had tool calls %v and text %v: want both", sawCalls, sawText)
			}
		})
	}
}

var volatileRe = regexp.MustCompile(`"id":"(chatcmpl|cmpl)-[0-9a-f]{32}","object":"([a-z._]+)","created":\d+`)

// answerBytes posts body and returns the response with the request id and
// creation time (which differ per request by design) blanked.
func answerBytes(t *testing.T, url, path, body string) string {
	t.Helper()
	r := post(t, url+path, body)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	return volatileRe.ReplaceAllString(string(r.body), `"id":"$1-X","object":"$2","created":0`)
}

// The same --seed and request body give the same answer, byte for byte, on
// another server instance (a restart), streamed or not, text or tool calls;
// the golden values pin it across releases of the simulator too.
func TestAnswersAreDeterministic(t *testing.T) {
	bodies := []struct{ path, body string }{
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"tell me a story"}],"max_tokens":12}`},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"tell me a story"}],"max_tokens":30,"stream":true,"stream_options":{"include_usage":true}}`},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"weather?"}],"tools":` + testTools + `,"tool_choice":"required"}`},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"weather?"}],"tools":` + testTools + `,"stream":true}`},
		{"/v1/completions", `{"prompt":"once upon a time","max_tokens":20,"stream":true}`},
	}
	cfg := testConfig()
	cfg.TTFT, cfg.ITL, cfg.ToolCallsMax, cfg.ToolArgsTokens = 0, 0, 3, 6
	var first []string
	for run := range 2 {
		ts := startServer(t, cfg)
		for i, b := range bodies {
			got := answerBytes(t, ts.url, b.path, b.body)
			if run == 0 {
				first = append(first, got)
			} else if got != first[i] {
				t.Fatalf("body %d differs between two servers with --seed %d:\n%s\n%s", i, cfg.Seed, first[i], got)
			}
		}
		ts.Close()
	}
	other := cfg
	other.Seed++
	ts := startServer(t, other)
	if answerBytes(t, ts.url, bodies[0].path, bodies[0].body) == first[0] {
		t.Fatalf("--seed %d and %d gave the same answer", cfg.Seed, other.Seed)
	}

	// Golden: seed 7.
	var text fullResponse
	json.Unmarshal([]byte(first[0]), &text)
	if c := *text.Choices[0].Message.Content; c != goldenText {
		t.Errorf("seed 7 text answer changed:\n got %q\nwant %q", c, goldenText)
	}
	var tools fullResponse
	json.Unmarshal([]byte(first[2]), &tools)
	calls, _ := json.Marshal(tools.Choices[0].Message.ToolCalls)
	if string(calls) != goldenCalls {
		t.Errorf("seed 7 tool calls changed:\n got %s\nwant %s", calls, goldenCalls)
	}
}

const (
	goldenText  = ` anim consequat aliquip aute sunt aliqua vitae sed minim cupidatat cupidatat magna`
	goldenCalls = `[{"id":"chatcmpl-tool-58a67433fbf0dbc5df0e25bc56116e44","type":"function","function":{"name":"search_docs","arguments":"{\"query\": \"occaecat sed sit vitae deserunt\"}"}}]`
)
