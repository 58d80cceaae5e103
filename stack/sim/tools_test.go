package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
)

const testTools = `[{"type":"function","function":{"name":"get_weather","description":"Current weather in a city","parameters":{"type":"object","properties":{"city":{"type":"string","description":"the city name"}},"required":["city"]}}},` +
	`{"type":"function","function":{"name":"search_docs","description":"Full text search","parameters":{"type":"object","properties":{"query":{"type":"string"}}}}},` +
	`{"type":"function","function":{"name":"no_params"}}]`

var toolNames = map[string]string{"get_weather": "city", "search_docs": "query", "no_params": "query"}

// sentCall is a tool call as a client assembles it from the stream.
type sentCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// answer is a chat answer as a client assembles it.
type answer struct {
	content      string
	calls        []sentCall
	finish       string
	completion   int // usage.completion_tokens
	choiceChunks int // chunks carrying a choice
	raw          []string
}

// assistantMessage is the answer sent back as the next turn's assistant
// message, exactly as streamed.
func (a answer) assistantMessage() map[string]any {
	if len(a.calls) == 0 {
		return map[string]any{"role": "assistant", "content": a.content}
	}
	return map[string]any{"role": "assistant", "content": nil, "tool_calls": a.calls}
}

type streamChunk struct {
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role      *string `json:"role"`
			Content   *string `json:"content"`
			ToolCalls []struct {
				ID       *string `json:"id"`
				Type     *string `json:"type"`
				Index    *int    `json:"index"`
				Function *struct {
					Name      *string `json:"name"`
					Arguments *string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		Completion int `json:"completion_tokens"`
	} `json:"usage"`
}

var toolIDRe = regexp.MustCompile(`^chatcmpl-tool-[0-9a-f]{32}$`)

// streamChat posts a streamed chat request and assembles the answer as a
// client does, failing on any chunk that breaks the documented shape.
func streamChat(t testing.TB, url string, body map[string]any) answer {
	t.Helper()
	body["stream"] = true
	body["stream_options"] = map[string]any{"include_usage": true}
	b, _ := json.Marshal(body)
	r := post(t, url+"/v1/chat/completions", string(b))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var a answer
	ev := sseEvents(t, r.body)
	if ev[len(ev)-1] != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %q", ev[len(ev)-1])
	}
	a.raw = ev
	for i, e := range ev[:len(ev)-1] {
		var c streamChunk
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatalf("chunk %d is not JSON: %v: %s", i, err, e)
		}
		if c.Usage != nil {
			a.completion = c.Usage.Completion
			continue
		}
		if len(c.Choices) != 1 {
			t.Fatalf("chunk %d: %d choices", i, len(c.Choices))
		}
		ch := c.Choices[0]
		if ch.Delta.Content != nil && *ch.Delta.Content == "" && ch.Delta.Role != nil && len(ch.Delta.ToolCalls) == 0 {
			continue // the text answer's role chunk carries no token
		}
		a.choiceChunks++
		if a.finish != "" {
			t.Fatalf("chunk %d after the finish chunk: %s", i, e)
		}
		if ch.FinishReason != nil {
			a.finish = *ch.FinishReason
		}
		if ch.Delta.Content != nil {
			a.content += *ch.Delta.Content
		}
		for _, tc := range ch.Delta.ToolCalls {
			if tc.Index == nil || tc.Function == nil || tc.Function.Arguments == nil {
				t.Fatalf("chunk %d: tool call delta without index or function.arguments: %s", i, e)
			}
			k := *tc.Index
			if tc.ID != nil { // a call's header
				if k != len(a.calls) || tc.Type == nil || *tc.Type != "function" || tc.Function.Name == nil ||
					!toolIDRe.MatchString(*tc.ID) || *tc.Function.Arguments != "" {
					t.Fatalf("chunk %d: bad tool call header: %s", i, e)
				}
				if (k == 0) != (ch.Delta.Role != nil && *ch.Delta.Role == "assistant") {
					t.Fatalf("chunk %d: the role belongs to the first call's header only: %s", i, e)
				}
				var sc sentCall
				sc.ID, sc.Type, sc.Function.Name = *tc.ID, "function", *tc.Function.Name
				a.calls = append(a.calls, sc)
				continue
			}
			if k != len(a.calls)-1 || tc.Type != nil || tc.Function.Name != nil {
				t.Fatalf("chunk %d: arguments delta for call %d while call %d streams: %s", i, k, len(a.calls)-1, e)
			}
			a.calls[k].Function.Arguments += *tc.Function.Arguments
		}
	}
	return a
}

func chatBody(msgs []any, extra map[string]any) map[string]any {
	b := map[string]any{"model": "test-model", "messages": msgs}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func toolsJSON() any {
	var v any
	json.Unmarshal([]byte(testTools), &v)
	return v
}

// checkArguments checks that a complete call's arguments are a JSON object
// with the tool's first parameter holding argTokens-1 words.
func checkArguments(t *testing.T, c sentCall, argTokens int) {
	t.Helper()
	key, ok := toolNames[c.Function.Name]
	if !ok {
		t.Fatalf("call names %q, not one of the request's tools", c.Function.Name)
	}
	var args map[string]string
	if err := json.Unmarshal([]byte(c.Function.Arguments), &args); err != nil {
		t.Fatalf("arguments %q are not a JSON object of strings: %v", c.Function.Arguments, err)
	}
	if len(args) != 1 || len(strings.Fields(args[key])) != argTokens-1 {
		t.Fatalf("arguments %q: want {%q: %d words}", c.Function.Arguments, key, argTokens-1)
	}
	if n := countText(c.Function.Arguments); n != argTokens {
		t.Fatalf("arguments %q tokenize to %d tokens, want %d", c.Function.Arguments, n, argTokens)
	}
}

func TestToolCallStream(t *testing.T) {
	cfg := testConfig()
	cfg.TTFT, cfg.ITL = 0, 0
	cfg.ToolCallsMax, cfg.ToolArgsTokens = 3, 7
	ts := startServer(t, cfg)
	counts := map[int]int{}
	for i := range 30 {
		a := streamChat(t, ts.url, chatBody([]any{map[string]any{"role": "user", "content": fmt.Sprintf("question %d", i)}},
			map[string]any{"tools": toolsJSON(), "tool_choice": "required"}))
		if a.finish != "tool_calls" || a.content != "" || len(a.calls) < 1 || len(a.calls) > 3 {
			t.Fatalf("answer %d: finish %q, content %q, %d calls", i, a.finish, a.content, len(a.calls))
		}
		counts[len(a.calls)]++
		for _, c := range a.calls {
			checkArguments(t, c, cfg.ToolArgsTokens)
		}
		// Every choice chunk is one token: per call the name and the
		// argument pieces, then EOS.
		if want := len(a.calls)*(1+cfg.ToolArgsTokens) + 1; a.completion != want || a.choiceChunks != want {
			t.Fatalf("answer %d: usage %d tokens, %d chunks, want %d", i, a.completion, a.choiceChunks, want)
		}
		if !strings.Contains(a.raw[len(a.raw)-3], `"delta":{},"logprobs":null,"finish_reason":"tool_calls","stop_reason":null}]}`) {
			t.Fatalf("finish chunk %s", a.raw[len(a.raw)-3])
		}
	}
	if len(counts) != 3 {
		t.Fatalf("parallel call counts %v: want 1, 2 and 3 calls all seen over 30 answers", counts)
	}
}

// The exact wire shape of each kind of chunk, as the client parses it.
func TestToolCallChunkBytes(t *testing.T) {
	cfg := testConfig()
	cfg.ToolArgsTokens = 3
	ts := startServer(t, cfg)
	a := streamChat(t, ts.url, chatBody([]any{map[string]any{"role": "user", "content": "weather?"}},
		map[string]any{"tools": toolsJSON(), "tool_choice": map[string]any{"type": "function", "function": map[string]any{"name": "get_weather"}}}))
	if len(a.calls) != 1 || len(a.raw) != 1+3+1+1+1 {
		t.Fatalf("%d calls, %d events: %q", len(a.calls), len(a.raw), a.raw)
	}
	strip := func(e string) string { return e[strings.Index(e, `"choices":`):] }
	args := a.calls[0].Function.Arguments
	words := strings.Fields(args)
	esc := func(s string) string { b, _ := json.Marshal(s); return string(b[1 : len(b)-1]) }
	want := []string{
		`"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"id":"` + a.calls[0].ID + `","type":"function","index":0,"function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}]}`,
		`"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"logprobs":null,"finish_reason":null}]}`,
		`"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"` + esc(" "+words[1]) + `"}}]},"logprobs":null,"finish_reason":null}]}`,
		`"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"` + esc(" "+words[2]) + `"}}]},"logprobs":null,"finish_reason":null}]}`,
		`"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls","stop_reason":null}]}`,
	}
	for i, w := range want {
		if got := strip(a.raw[i]); got != w {
			t.Fatalf("chunk %d\n got %s\nwant %s", i, got, w)
		}
	}
	if !strings.HasPrefix(args, `{"city": "`) || !strings.HasSuffix(args, `"}`) {
		t.Fatalf("arguments %q", args)
	}
}

type fullResponse struct {
	Choices []struct {
		Message struct {
			Role      string     `json:"role"`
			Content   *string    `json:"content"`
			ToolCalls []sentCall `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		Prompt     int `json:"prompt_tokens"`
		Completion int `json:"completion_tokens"`
	} `json:"usage"`
}

func postFull(t testing.TB, url string, body map[string]any) fullResponse {
	t.Helper()
	b, _ := json.Marshal(body)
	r := post(t, url+"/v1/chat/completions", string(b))
	var f fullResponse
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &f); err != nil || len(f.Choices) != 1 {
		t.Fatalf("response %s: %v", r.body, err)
	}
	return f
}

func TestToolCallNonStreamed(t *testing.T) {
	cfg := testConfig()
	cfg.TTFT, cfg.ITL = 0, 0
	cfg.ToolCallsMax = 2
	ts := startServer(t, cfg)
	msgs := []any{map[string]any{"role": "user", "content": "look it up"}}
	for i := range 10 {
		f := postFull(t, ts.url, chatBody(msgs, map[string]any{"tools": toolsJSON(), "tool_choice": "required", "seed": i}))
		m := f.Choices[0].Message
		if m.Content != nil || m.Role != "assistant" || len(m.ToolCalls) == 0 || f.Choices[0].FinishReason != "tool_calls" {
			t.Fatalf("message %+v, finish %q", m, f.Choices[0].FinishReason)
		}
		for _, c := range m.ToolCalls {
			if !toolIDRe.MatchString(c.ID) || c.Type != "function" {
				t.Fatalf("call %+v", c)
			}
			checkArguments(t, c, cfg.ToolArgsTokens)
		}
		if want := len(m.ToolCalls)*(1+cfg.ToolArgsTokens) + 1; f.Usage.Completion != want {
			t.Fatalf("usage %d, want %d", f.Usage.Completion, want)
		}
	}
	// max_tokens cuts the arguments, as vLLM does: finish_reason "length".
	f := postFull(t, ts.url, chatBody(msgs, map[string]any{"tools": toolsJSON(), "tool_choice": "required", "max_tokens": 5}))
	c := f.Choices[0]
	if c.FinishReason != "length" || f.Usage.Completion != 5 || len(c.Message.ToolCalls) != 1 ||
		countText(c.Message.ToolCalls[0].Function.Arguments) != 4 {
		t.Fatalf("cut answer: %+v usage %+v", c, f.Usage)
	}
	// Streamed, the cut answer has the same pieces.
	a := streamChat(t, ts.url, chatBody(msgs, map[string]any{"tools": toolsJSON(), "tool_choice": "required", "max_tokens": 5}))
	if a.finish != "length" || a.completion != 5 || a.choiceChunks != 5 || countText(a.calls[0].Function.Arguments) != 4 {
		t.Fatalf("cut stream: %+v", a)
	}
}

func TestToolChoice(t *testing.T) {
	cfg := testConfig()
	cfg.TTFT, cfg.ITL = 0, 0
	cfg.ToolCallRate = 1
	ts := startServer(t, cfg)
	for i := range 20 {
		msgs := []any{map[string]any{"role": "user", "content": fmt.Sprintf("q %d", i)}}
		f := postFull(t, ts.url, chatBody(msgs, map[string]any{"tools": toolsJSON(), "tool_choice": "none", "max_tokens": 8}))
		if len(f.Choices[0].Message.ToolCalls) != 0 || f.Choices[0].Message.Content == nil {
			t.Fatalf("tool_choice none called a tool: %+v", f.Choices[0])
		}
		f = postFull(t, ts.url, chatBody(msgs, map[string]any{"tools": toolsJSON(), "max_tokens": 100}))
		if len(f.Choices[0].Message.ToolCalls) != 1 {
			t.Fatalf("--tool-call-rate 1 answered with text: %+v", f.Choices[0])
		}
		// Without tools there is nothing to call.
		f = postFull(t, ts.url, chatBody(msgs, map[string]any{"max_tokens": 8}))
		if len(f.Choices[0].Message.ToolCalls) != 0 {
			t.Fatalf("called a tool without tools: %+v", f.Choices[0])
		}
		f = postFull(t, ts.url, chatBody(msgs, map[string]any{"tools": toolsJSON(), "max_tokens": 100,
			"tool_choice": map[string]any{"type": "function", "function": map[string]any{"name": "no_params"}}}))
		if tc := f.Choices[0].Message.ToolCalls; len(tc) != 1 || tc[0].Function.Name != "no_params" {
			t.Fatalf("named tool_choice: %+v", tc)
		}
	}
	zero := testConfig()
	zero.TTFT, zero.ITL, zero.ToolCallRate = 0, 0, 0
	tz := startServer(t, zero)
	for i := range 20 {
		msgs := []any{map[string]any{"role": "user", "content": fmt.Sprintf("q %d", i)}}
		if f := postFull(t, tz.url, chatBody(msgs, map[string]any{"tools": toolsJSON(), "max_tokens": 8})); len(f.Choices[0].Message.ToolCalls) != 0 {
			t.Fatalf("--tool-call-rate 0 called a tool")
		}
		if f := postFull(t, tz.url, chatBody(msgs, map[string]any{"tools": toolsJSON(), "tool_choice": "required", "max_tokens": 100})); len(f.Choices[0].Message.ToolCalls) != 1 {
			t.Fatalf("tool_choice required answered with text")
		}
	}
}

// Over a fixed set of 400 request bodies the share of tool-call answers is
// within 5 binomial standard deviations of --tool-call-rate. The seeds are
// fixed, so the count is deterministic: the bound checks the decision is an
// unbiased coin, and cannot flake.
func TestToolCallRate(t *testing.T) {
	const n, p = 400, 0.3
	cfg := testConfig()
	cfg.TTFT, cfg.ITL, cfg.ToolCallRate = 0, 0, p
	ts := startServer(t, cfg)
	calls := 0
	for i := range n {
		msgs := []any{map[string]any{"role": "user", "content": fmt.Sprintf("request %d", i)}}
		f := postFull(t, ts.url, chatBody(msgs, map[string]any{"tools": toolsJSON(), "max_tokens": 2}))
		if len(f.Choices[0].Message.ToolCalls) > 0 {
			calls++
		}
	}
	sd := math.Sqrt(n * p * (1 - p))
	if math.Abs(float64(calls)-n*p) > 5*sd {
		t.Fatalf("%d of %d answers called a tool at --tool-call-rate %v: want %v ± %.0f", calls, n, p, n*p, 5*sd)
	}
}

func TestToolErrors(t *testing.T) {
	ts := startServer(t, testConfig())
	u := ts.url + "/v1/chat/completions"
	user := `"messages":[{"role":"user","content":"x"}]`
	checkError(t, post(t, u, `{`+user+`,"tools":[{"type":"function","function":{"description":"no name"}}]}`), 400, "Bad Request", "tools[0].function.name: field required")
	checkError(t, post(t, u, `{`+user+`,"tools":{"a":1}}`), 400, "Bad Request", "tools: must be an array")
	checkError(t, post(t, u, `{`+user+`,"tools":[{"type":"retrieval","function":{"name":"f"}}]}`), 400, "Bad Request", `tools[0].type: must be "function"`)
	checkError(t, post(t, u, `{`+user+`,"tools":[{"function":{"name":"f","parameters":[1]}}]}`), 400, "Bad Request", "tools[0].function.parameters")
	checkError(t, post(t, u, `{`+user+`,"tool_choice":"required"}`), 400, "BadRequestError", "non-empty tools")
	checkError(t, post(t, u, `{`+user+`,"tool_choice":"sometimes"}`), 400, "Bad Request", `got "sometimes"`)
	checkError(t, post(t, u, `{`+user+`,"tools":`+testTools+`,"tool_choice":{"type":"function","function":{"name":"nope"}}}`), 400, "BadRequestError", `function "nope", which is not among`)
	checkError(t, post(t, u, `{"messages":[{"role":"assistant","tool_calls":[{"id":"x","type":"function","function":{"name":"f","arguments":{"a":1}}}]}]}`), 400, "Bad Request", "messages[0].tool_calls[0].function.arguments: must be a string")
	checkError(t, post(t, u, `{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"function":{}}]}]}`), 400, "Bad Request", "messages[1].tool_calls[0].function.name")
}

// chatTokens counts what it emits, with tool definitions and tool calls.
func TestChatTemplateWithTools(t *testing.T) {
	tools, aerr := parseTools(json.RawMessage(testTools))
	if aerr != nil {
		t.Fatal(aerr)
	}
	if tools[0].key != "city" || tools[1].key != "query" || tools[2].key != "query" {
		t.Fatalf("argument keys %q %q %q", tools[0].key, tools[1].key, tools[2].key)
	}
	msgs, aerr := parseMessages(json.RawMessage(`[{"role":"user","content":"hi there"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]},` +
		`{"role":"tool","tool_call_id":"a","content":"sunny, 21 C"}]`))
	if aerr != nil {
		t.Fatal(aerr)
	}
	ids, n := chatTokens(tools, msgs, true, true)
	_, count := chatTokens(tools, msgs, true, false)
	if len(ids) != n || count != n {
		t.Fatalf("%d ids, counted %d and %d", len(ids), n, count)
	}
	// BOS, tools block, user (4+2), assistant (4 + name + 2 argument words), tool (4+3), generation prompt.
	toolWords := 0
	for _, d := range tools {
		toolWords++
		for _, s := range d.text {
			toolWords += countText(s)
		}
	}
	if want := 1 + 4 + toolWords + 6 + 7 + 7 + 3; n != want {
		t.Fatalf("%d tokens, want %d", n, want)
	}
	i := 1 + 4 + toolWords + 6 + 3
	if ids[i] != nameID("get_weather") || ids[i+1] != wordID(`{"city":`) || ids[i+2] != wordID(`"Paris"}`) || ids[i+3] != tokEOT {
		t.Fatalf("assistant tool call tokens %v", ids[i-3:i+4])
	}
}

// A tool-call answer's token ids are what its streamed pieces re-tokenize to
// when sent back: name token, then the words of the arguments.
func TestToolOutputRetokenizes(t *testing.T) {
	g := &genRequest{maxTokens: 1000}
	g.tools, _ = parseTools(json.RawMessage(testTools))
	g.toolChoice.mode = choiceRequired
	cfg := testConfig()
	cfg.ToolCallsMax = 4
	for _, argTokens := range []int{2, 3, 24} {
		cfg.ToolArgsTokens = argTokens
		for seed := range uint64(50) {
			o := newAnswer(seed, g, &cfg)
			if o.tools == nil || !o.stop {
				t.Fatalf("seed %d: %+v", seed, o)
			}
			r := &request{out: o}
			var resp struct{ Calls []sentCall }
			if err := json.Unmarshal(append(append([]byte(`{"Calls":`), r.appendToolCalls(nil, o.n)...), '}'), &resp); err != nil {
				t.Fatalf("seed %d: tool_calls not JSON: %v", seed, err)
			}
			var want []int32
			for _, c := range resp.Calls {
				checkArguments(t, c, argTokens)
				want = append(want, nameID(c.Function.Name))
				want = appendText(want, c.Function.Arguments)
			}
			want = append(want, tokEOT)
			if len(want) != o.n {
				t.Fatalf("seed %d: %d tokens re-tokenized, %d generated", seed, len(want), o.n)
			}
			for k := range o.n {
				if o.tokenID(k) != want[k] {
					t.Fatalf("seed %d token %d: generated id %d, re-tokenized %d", seed, k, o.tokenID(k), want[k])
				}
			}
		}
	}
}
