package sim

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var headRe = regexp.MustCompile(`^\{"id":"((?:chatcmpl|cmpl)-[0-9a-f]{32})","object":"[a-z._]+","created":(\d+),`)

// expectedStream renders, independently of request.go, the exact stream
// vLLM would send for a request the simulator answers with out.
func expectedStream(chat bool, id string, created int64, model string, prompt int, out output, includeUsage, continuous bool) string {
	var b strings.Builder
	obj := "text_completion"
	if chat {
		obj = "chat.completion.chunk"
	}
	head := fmt.Sprintf(`data: {"id":"%s","object":"%s","created":%d,"model":%q,"choices":[`, id, obj, created, model)
	usage := func(c int, details bool) string {
		u := fmt.Sprintf(`{"prompt_tokens":%d,"total_tokens":%d,"completion_tokens":%d`, prompt, prompt+c, c)
		if details {
			u += `,"prompt_tokens_details":null`
		}
		return u + "}"
	}
	if chat {
		b.WriteString(head + `{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`)
		if continuous {
			b.WriteString(`,"usage":` + usage(0, false))
		}
		b.WriteString("}\n\n")
	}
	for k := 0; k < out.n; k++ {
		fin := "null"
		if k == out.n-1 {
			fin = `"` + out.finishReason() + `"`
		}
		if chat {
			b.WriteString(head + `{"index":0,"delta":{"content":"` + out.text(k) + `"},"logprobs":null,"finish_reason":` + fin)
			if k == out.n-1 {
				b.WriteString(`,"stop_reason":null`)
			}
			b.WriteString("}]")
			if continuous {
				b.WriteString(`,"usage":` + usage(k+1, false))
			}
		} else {
			b.WriteString(head + `{"index":0,"text":"` + out.text(k) + `","logprobs":null,"finish_reason":` + fin + `,"stop_reason":null}],"usage":`)
			if continuous {
				b.WriteString(usage(k+1, true))
			} else {
				b.WriteString("null")
			}
		}
		b.WriteString("}\n\n")
	}
	if includeUsage {
		b.WriteString(head + `],"usage":` + usage(out.n, false) + "}\n\n")
	}
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

func TestStreamFramingByteExact(t *testing.T) {
	cfg := testConfig()
	ts := startServer(t, cfg)
	cases := []struct {
		name, path, body string
		chat             bool
		prompt           int
		usage, cont      bool
	}{
		{"chat usage", "/v1/chat/completions",
			`{"model":"test-model","messages":[{"role":"user","content":"hello there"}],"max_tokens":6,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`,
			true, 1 + 4 + 2 + 3, true, false},
		{"chat no usage", "/v1/chat/completions",
			`{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"a b c"},{"type":"image_url","image_url":{"url":"x"}}]}],"max_tokens":4,"ignore_eos":true,"stream":true}`,
			true, 1 + 4 + 2 + 4 + 3 + 3, false, false},
		{"chat continuous", "/v1/chat/completions",
			`{"messages":[{"role":"user","content":"x"}],"max_completion_tokens":3,"ignore_eos":true,"stream":true,"stream_options":{"continuous_usage_stats":true}}`,
			true, 1 + 4 + 1 + 3, true, true},
		{"chat natural stop", "/v1/chat/completions",
			`{"messages":[{"role":"user","content":"tell me"}],"max_tokens":4000,"stream":true,"stream_options":{"include_usage":true}}`,
			true, 1 + 4 + 2 + 3, true, false},
		{"completion text", "/v1/completions",
			`{"model":"test-model","prompt":"one two three","max_tokens":5,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`,
			false, 4, true, false},
		{"completion ids continuous", "/v1/completions",
			`{"prompt":[5,6,7,8,9,10,11],"max_tokens":3,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true}}`,
			false, 7, true, true},
		{"completion usage off", "/v1/completions",
			`{"prompt":["alpha beta"],"max_tokens":2,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":false}}`,
			false, 3, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := post(t, ts.url+c.path, c.body)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
			m := headRe.FindStringSubmatch(strings.TrimPrefix(string(r.body), "data: "))
			if m == nil {
				t.Fatalf("first event has no vLLM head: %.200s", r.body)
			}
			created, _ := strconv.ParseInt(m[2], 10, 64)
			if d := time.Now().Unix() - created; d < 0 || d > 5 {
				t.Fatalf("created %d is not now", created)
			}
			g, aerr := parseGenerate([]byte(c.body), c.chat, false, &cfg)
			if aerr != nil {
				t.Fatal(aerr)
			}
			if g.promptTokens != c.prompt {
				t.Fatalf("prompt tokens %d, want %d", g.promptTokens, c.prompt)
			}
			out := newOutput(requestSeed(cfg.Seed, []byte(c.body)), g.maxTokens, g.minTokens, g.ignoreEOS)
			want := expectedStream(c.chat, m[1], created, cfg.Model, c.prompt, out, c.usage, c.cont)
			if string(r.body) != want {
				t.Fatalf("stream differs from vLLM's framing\n got: %s\nwant: %s", r.body, want)
			}
		})
	}
}

func TestUsageAndDone(t *testing.T) {
	ts := startServer(t, testConfig())
	r := post(t, ts.url+"/v1/chat/completions", `{"messages":[{"role":"user","content":"a b"}],"max_tokens":7,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`)
	ev := sseEvents(t, r.body)
	if ev[len(ev)-1] != "[DONE]" {
		t.Fatalf("last event %q, want [DONE]", ev[len(ev)-1])
	}
	u := mustJSON(t, ev[len(ev)-2])
	if ch, _ := u["choices"].([]any); ch == nil || len(ch) != 0 {
		t.Fatalf("usage chunk choices %v, want []", u["choices"])
	}
	usage := u["usage"].(map[string]any)
	if usage["prompt_tokens"] != 10.0 || usage["completion_tokens"] != 7.0 || usage["total_tokens"] != 17.0 {
		t.Fatalf("usage %v", usage)
	}
	// Count content-bearing chunks the way a client does.
	content := 0
	for _, e := range ev[:len(ev)-2] {
		d := mustJSON(t, e)["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)
		if s, _ := d["content"].(string); s != "" {
			content++
		}
	}
	if content != 7 {
		t.Fatalf("%d content chunks, want 7", content)
	}
	// Without stream_options there is no usage chunk.
	r = post(t, ts.url+"/v1/chat/completions", `{"messages":[{"role":"user","content":"a b"}],"max_tokens":2,"ignore_eos":true,"stream":true}`)
	for _, e := range sseEvents(t, r.body) {
		if strings.Contains(e, `"usage"`) {
			t.Fatalf("usage sent without stream_options: %s", e)
		}
	}
}

func TestNonStreamJSON(t *testing.T) {
	cfg := testConfig()
	ts := startServer(t, cfg)
	body := `{"model":"test-model","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"ignore_eos":true}`
	r := post(t, ts.url+"/v1/chat/completions", body)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var resp struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Model   string `json:"model"`
		Created int64  `json:"created"`
		Choices []struct {
			Index   int `json:"index"`
			Message struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			Prompt, Completion, Total int
		} `json:"usage"`
	}
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	var u map[string]map[string]int
	json.Unmarshal(r.body, &struct{ Usage *map[string]int }{&map[string]int{}})
	_ = u
	var raw map[string]any
	json.Unmarshal(r.body, &raw)
	usage := raw["usage"].(map[string]any)
	if !strings.HasPrefix(resp.ID, "chatcmpl-") || resp.Object != "chat.completion" || resp.Model != "test-model" ||
		len(resp.Choices) != 1 || resp.Choices[0].Message.Role != "assistant" || resp.Choices[0].FinishReason != "length" {
		t.Fatalf("response %+v", resp)
	}
	if n := len(strings.Fields(resp.Choices[0].Message.Content)); n != 5 {
		t.Fatalf("content %q has %d words, want 5", resp.Choices[0].Message.Content, n)
	}
	if usage["prompt_tokens"] != 9.0 || usage["completion_tokens"] != 5.0 || usage["total_tokens"] != 14.0 {
		t.Fatalf("usage %v", usage)
	}
	// Exact bytes, including vLLM's null fields.
	g, _ := parseGenerate([]byte(body), true, false, &cfg)
	out := newOutput(requestSeed(cfg.Seed, []byte(body)), g.maxTokens, 0, true)
	var text string
	for k := range out.n {
		text += out.text(k)
	}
	want := fmt.Sprintf(`{"id":"%s","object":"chat.completion","created":%d,"model":"test-model","choices":[{"index":0,"message":{"role":"assistant","content":"%s","refusal":null,"annotations":null,"audio":null,"function_call":null,"tool_calls":[],"reasoning_content":null},"logprobs":null,"finish_reason":"length","stop_reason":null}],"service_tier":null,"system_fingerprint":null,"usage":{"prompt_tokens":9,"total_tokens":14,"completion_tokens":5,"prompt_tokens_details":null},"prompt_logprobs":null,"kv_transfer_params":null}`,
		resp.ID, resp.Created, text)
	if string(r.body) != want {
		t.Fatalf("body\n got %s\nwant %s", r.body, want)
	}

	r = post(t, ts.url+"/v1/completions", `{"prompt":[1,2,3],"max_tokens":4,"ignore_eos":true,"stream":false}`)
	raw = nil
	json.Unmarshal(r.body, &raw)
	ch := raw["choices"].([]any)[0].(map[string]any)
	if r.status != 200 || raw["object"] != "text_completion" || !strings.HasPrefix(raw["id"].(string), "cmpl-") ||
		len(strings.Fields(ch["text"].(string))) != 4 || ch["finish_reason"] != "length" {
		t.Fatalf("completion: %s", r.body)
	}
	if u := raw["usage"].(map[string]any); u["prompt_tokens"] != 3.0 || u["completion_tokens"] != 4.0 {
		t.Fatalf("completion usage %v", u)
	}
}

func tokenizeCount(t *testing.T, url, body string) (int, []any) {
	t.Helper()
	r := post(t, url+"/tokenize", body)
	if r.status != 200 {
		t.Fatalf("tokenize %s: %d %s", body, r.status, r.body)
	}
	m := mustJSON(t, string(r.body))
	if m["max_model_len"] != 131072.0 {
		t.Fatalf("max_model_len %v", m["max_model_len"])
	}
	toks := m["tokens"].([]any)
	if int(m["count"].(float64)) != len(toks) {
		t.Fatalf("count %v != %d tokens", m["count"], len(toks))
	}
	return len(toks), toks
}

func TestTokenize(t *testing.T) {
	ts := startServer(t, testConfig())
	n, toks := tokenizeCount(t, ts.url, `{"model":"test-model","prompt":"  hello world\tfoo\n"}`)
	if n != 4 || toks[0] != 1.0 || toks[1] != float64(wordID("hello")) || toks[3] != float64(wordID("foo")) {
		t.Fatalf("text: %v", toks)
	}
	if n, _ := tokenizeCount(t, ts.url, `{"prompt":"hello world","add_special_tokens":false}`); n != 2 {
		t.Fatalf("without BOS: %d tokens, want 2", n)
	}
	msgs := `[{"role":"system","content":"a b"},{"role":"user","content":"c"}]`
	if n, toks := tokenizeCount(t, ts.url, `{"messages":`+msgs+`}`); n != 1+(4+2)+(4+1)+3 || toks[0] != 1.0 || toks[n-2] != float64(tokRoleAssistant) {
		t.Fatalf("messages: %d tokens %v, want 15", n, toks)
	}
	if n, _ := tokenizeCount(t, ts.url, `{"messages":`+msgs+`,"add_generation_prompt":false}`); n != 12 {
		t.Fatalf("messages without generation prompt: %d, want 12", n)
	}
	// /tokenize agrees with the usage the server reports for the same input.
	for _, c := range []struct{ tok, gen string }{
		{`{"prompt":"the quick brown fox"}`, `{"prompt":"the quick brown fox","max_tokens":1}`},
		{`{"messages":` + msgs + `}`, `{"messages":` + msgs + `,"max_tokens":1}`},
	} {
		n, _ := tokenizeCount(t, ts.url, c.tok)
		path := "/v1/completions"
		if strings.Contains(c.tok, "messages") {
			path = "/v1/chat/completions"
		}
		r := post(t, ts.url+path, c.gen)
		u := mustJSON(t, string(r.body))["usage"].(map[string]any)
		if u["prompt_tokens"] != float64(n) {
			t.Fatalf("%s: usage.prompt_tokens %v, /tokenize %d", c.gen, u["prompt_tokens"], n)
		}
	}
	// Token-id prompts count exactly their length.
	r := post(t, ts.url+"/v1/completions", `{"prompt":[[100,200,300,400,500]],"max_tokens":1}`)
	if u := mustJSON(t, string(r.body))["usage"].(map[string]any); u["prompt_tokens"] != 5.0 {
		t.Fatalf("ids prompt usage %v", u)
	}
	// Generated text re-tokenizes to the ids the engine hashed.
	o := newOutput(99, 50, 0, true)
	var text string
	for k := range o.n {
		text += o.text(k)
	}
	ids := appendText(nil, text)
	for k := range o.n {
		if ids[k] != o.tokenID(k) {
			t.Fatalf("token %d: text re-tokenizes to %d, generated id %d", k, ids[k], o.tokenID(k))
		}
	}
}

func TestModels(t *testing.T) {
	ts := startServer(t, testConfig())
	r := do(t, http.MethodGet, ts.url+"/v1/models", "")
	m := mustJSON(t, string(r.body))
	data := m["data"].([]any)
	card := data[0].(map[string]any)
	if r.status != 200 || m["object"] != "list" || len(data) != 1 || card["id"] != "test-model" || card["object"] != "model" ||
		card["owned_by"] != "vllm" || card["max_model_len"] != 131072.0 || card["root"] != "test-model" {
		t.Fatalf("/v1/models: %s", r.body)
	}
	if r := do(t, http.MethodGet, ts.url+"/health", ""); r.status != 200 || len(r.body) != 0 {
		t.Fatalf("/health: %d %q", r.status, r.body)
	}
}

func checkError(t *testing.T, r response, status int, typ, msgPart string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var e struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    int     `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == nil {
		t.Fatalf("not a vLLM error object: %s", r.body)
	}
	if !strings.Contains(string(r.body), `"param":null`) || e.Error.Code != status || e.Error.Type != typ || !strings.Contains(e.Error.Message, msgPart) {
		t.Fatalf("error %+v, want code %d type %q message containing %q", *e.Error, status, typ, msgPart)
	}
}

func TestErrors(t *testing.T) {
	ts := startServer(t, testConfig())
	u := ts.url
	checkError(t, post(t, u+"/v1/chat/completions", `{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}`), 404, "NotFoundError", "The model `gpt-4` does not exist.")
	checkError(t, post(t, u+"/v1/completions", `{"model":"nope","prompt":"x"}`), 404, "NotFoundError", "`nope`")
	checkError(t, post(t, u+"/tokenize", `{"model":"nope","prompt":"x"}`), 404, "NotFoundError", "`nope`")
	checkError(t, post(t, u+"/v1/chat/completions", `{"messages":[`), 400, "Bad Request", "invalid JSON")
	checkError(t, post(t, u+"/v1/completions", ``), 400, "Bad Request", "empty")
	checkError(t, post(t, u+"/v1/completions", `{"prompt":"x","max_tokens":"ten"}`), 400, "Bad Request", "max_tokens")
	checkError(t, post(t, u+"/v1/chat/completions", `{"model":"test-model"}`), 400, "Bad Request", "messages")
	checkError(t, post(t, u+"/v1/completions", `{"max_tokens":3}`), 400, "Bad Request", "prompt")
	checkError(t, post(t, u+"/v1/completions", `{"prompt":"x","max_tokens":0}`), 400, "BadRequestError", "max_tokens must be at least 1")
	checkError(t, post(t, u+"/v1/completions", `{"prompt":"x","max_tokens":5,"min_tokens":6}`), 400, "BadRequestError", "min_tokens")
	checkError(t, post(t, u+"/v1/completions", `{"prompt":"x","n":2}`), 400, "BadRequestError", "n must be 1")
	checkError(t, post(t, u+"/v1/completions", `{"prompt":"x","stream_options":{"include_usage":true}}`), 400, "Bad Request", "stream=True")
	checkError(t, post(t, u+"/v1/completions", `{"prompt":[1,-2]}`), 400, "BadRequestError", "out of vocabulary")
	checkError(t, post(t, u+"/v1/completions", `{"prompt":["a","b"]}`), 400, "BadRequestError", "one prompt per request")
	checkError(t, post(t, u+"/v1/completions", `{"prompt":"x","max_tokens":131072}`), 400, "BadRequestError", "maximum context length is 131072 tokens")
	long := `{"prompt":[` + strings.Repeat("5,", 131071) + `5]}`
	checkError(t, post(t, u+"/v1/completions", long), 400, "BadRequestError", "131072 input tokens")

	if r := post(t, u+"/v1/models", ``); r.status != 405 {
		t.Fatalf("POST /v1/models: %d", r.status)
	}
	if r := do(t, http.MethodGet, u+"/v1/chat/completions", ""); r.status != 405 {
		t.Fatalf("GET /v1/chat/completions: %d", r.status)
	}
	if r := do(t, http.MethodGet, u+"/nope", ""); r.status != 404 || string(r.body) != `{"detail":"Not Found"}` {
		t.Fatalf("GET /nope: %d %s", r.status, r.body)
	}
}

func TestIgnoreEOSGivesExactlyMaxTokens(t *testing.T) {
	ts := startServer(t, testConfig())
	for i, max := range []int{1, 2, 17, 300} {
		r := post(t, ts.url+"/v1/completions", fmt.Sprintf(`{"prompt":"req %d","max_tokens":%d,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`, i, max))
		ev := sseEvents(t, r.body)
		if len(ev) != max+2 {
			t.Fatalf("max_tokens %d: %d events, want %d", max, len(ev), max+2)
		}
		last := mustJSON(t, ev[max-1])["choices"].([]any)[0].(map[string]any)
		if last["finish_reason"] != "length" {
			t.Fatalf("max_tokens %d: finish_reason %v", max, last["finish_reason"])
		}
		if u := mustJSON(t, ev[max])["usage"].(map[string]any); u["completion_tokens"] != float64(max) {
			t.Fatalf("max_tokens %d: usage %v", max, u)
		}
	}
}

func TestMinTokensAndNaturalStops(t *testing.T) {
	cfg := testConfig()
	cfg.TTFT, cfg.ITL = 0, 0
	ts := startServer(t, cfg)
	stops, early := 0, 0
	for i := range 40 {
		body := fmt.Sprintf(`{"prompt":"question %d","max_tokens":600,"min_tokens":100}`, i)
		m := mustJSON(t, string(post(t, ts.url+"/v1/completions", body).body))
		c := int(m["usage"].(map[string]any)["completion_tokens"].(float64))
		reason := m["choices"].([]any)[0].(map[string]any)["finish_reason"]
		words := len(strings.Fields(m["choices"].([]any)[0].(map[string]any)["text"].(string)))
		switch reason {
		case "stop":
			stops++
			// EOS is the last token and has no text.
			if c < 101 || c > 600 || words != c-1 {
				t.Fatalf("stop after %d tokens (%d words) with min_tokens 100, max 600", c, words)
			}
		case "length":
			if c != 600 || words != 600 {
				t.Fatalf("length finish with %d tokens (%d words)", c, words)
			}
		default:
			t.Fatalf("finish_reason %v", reason)
		}
		// Without min_tokens the same distribution stops early sometimes.
		m = mustJSON(t, string(post(t, ts.url+"/v1/completions", fmt.Sprintf(`{"prompt":"question %d","max_tokens":600}`, i)).body))
		if m["usage"].(map[string]any)["completion_tokens"].(float64) < 100 {
			early++
		}
	}
	if stops == 0 || early == 0 {
		t.Fatalf("%d natural stops with min_tokens, %d early stops without: the stop distribution is degenerate", stops, early)
	}
}

func TestNaturalLengthDistribution(t *testing.T) {
	var sum, stops int
	const n = 20000
	for i := range n {
		o := newOutput(splitmix64(uint64(i)), 100000, 0, false)
		if !o.stop || o.n < 1 {
			t.Fatalf("seed %d: %+v", i, o)
		}
		sum += o.n
		stops++
	}
	mean := float64(sum) / n
	if mean < 240 || mean > 300 {
		t.Fatalf("mean natural length %.0f, want ~270", mean)
	}
	if o := newOutput(1, 5, 0, false); o.n > 5 {
		t.Fatalf("natural length %d beyond max_tokens 5", o.n)
	}
	if o := newOutput(1, 50, 50, false); o.n != 50 || o.stop {
		t.Fatalf("min_tokens == max_tokens must end by length: %+v", o)
	}
}

func TestClientDisconnectAborts(t *testing.T) {
	for _, profile := range []string{ProfileFixed, ProfileH100} {
		t.Run(profile, func(t *testing.T) {
			cfg := testConfig()
			cfg.Profile = profile
			ts := startServer(t, cfg)
			c, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			body := `{"prompt":"long one","max_tokens":100000,"ignore_eos":true,"stream":true}`
			fmt.Fprintf(c, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			buf := make([]byte, 4096)
			if _, err := c.Read(buf); err != nil {
				t.Fatal(err)
			}
			c.Close()
			deadline := time.Now().Add(10 * time.Second)
			for {
				text := string(do(t, http.MethodGet, ts.url+"/metrics", "").body)
				if strings.Contains(text, `vllm:request_success_total{engine="0",finished_reason="abort",model_name="test-model"} 1`) &&
					strings.Contains(text, `vllm:num_requests_running{engine="0",model_name="test-model"} 0`) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("abort not accounted:\n%s", grep(text, "vllm:request_success_total", "vllm:num_requests_running"))
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func grep(text string, prefixes ...string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}

func TestCloseEndsInFlightStreams(t *testing.T) {
	for _, profile := range []string{ProfileFixed, ProfileH100} {
		t.Run(profile, func(t *testing.T) {
			cfg := testConfig()
			cfg.Profile = profile
			s, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			served := make(chan error, 1)
			go func() { served <- s.Serve(ln) }()
			got := make(chan []byte, 1)
			go func() {
				resp, err := http.Post("http://"+ln.Addr().String()+"/v1/completions", "application/json",
					strings.NewReader(`{"prompt":"x","max_tokens":100000,"ignore_eos":true,"stream":true}`))
				if err != nil {
					got <- nil
					return
				}
				b := make([]byte, 0, 1<<16)
				buf := make([]byte, 4096)
				for {
					n, err := resp.Body.Read(buf)
					b = append(b, buf[:n]...)
					if err != nil {
						break
					}
				}
				got <- b
			}()
			time.Sleep(100 * time.Millisecond)
			start := time.Now()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := <-served; err != nil {
				t.Fatalf("Serve returned %v after Close", err)
			}
			b := <-got
			if time.Since(start) > 3*time.Second {
				t.Fatalf("Close took %v", time.Since(start))
			}
			if len(b) == 0 || strings.Contains(string(b), "[DONE]") {
				t.Fatalf("stream not cut by Close (%d bytes, [DONE]=%v)", len(b), strings.Contains(string(b), "[DONE]"))
			}
			if err := s.Serve(ln); err != ErrClosed {
				t.Fatalf("Serve after Close: %v", err)
			}
		})
	}
}
