package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
)

const (
	chatToken = `{"id":"chatcmpl-6d1f0c5e2b7a4f0e9a3c8b1d2e4f6a7b","object":"chat.completion.chunk","created":1732848000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":" fox"},"logprobs":null,"finish_reason":null}]}`
	chatRole  = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1732848000,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`
	chatUsage = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1732848000,"model":"m","choices":[],"usage":{"prompt_tokens":37,"total_tokens":57,"completion_tokens":20}}`
	chatCont  = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"ab"},"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":12,"total_tokens":15,"completion_tokens":3}}`
	complTok  = `{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" the","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}`
)

var chunkCases = []struct {
	name string
	in   string
	want chunk
	err  bool
}{
	{name: "chat token", in: chatToken, want: chunk{tokens: true}},
	{name: "role only is not a token", in: chatRole},
	{name: "role without content", in: `{"choices":[{"delta":{"role":"assistant"}}]}`},
	{name: "final usage", in: chatUsage, want: chunk{hasPrompt: true, prompt: 37, hasCompletion: true, completion: 20}},
	{name: "continuous usage", in: chatCont, want: chunk{tokens: true, hasPrompt: true, prompt: 12, hasCompletion: true, completion: 3}},
	{name: "completions text", in: complTok, want: chunk{tokens: true}},
	{name: "completions empty text", in: `{"choices":[{"text":"","finish_reason":"length"}]}`, want: chunk{finish: "length"}},
	{name: "finish with last token", in: `{"choices":[{"delta":{"content":"."},"finish_reason":"stop"}]}`, want: chunk{tokens: true, finish: "stop"}},
	{name: "unusual finish reason", in: `{"choices":[{"delta":{},"finish_reason":"something_else"}]}`, want: chunk{finish: "something_else"}},
	{name: "escaped finish reason", in: `{"choices":[{"delta":{},"finish_reason":"st\u006fp"}]}`, want: chunk{finish: "stop"}},
	{name: "reasoning_content", in: `{"choices":[{"delta":{"reasoning_content":"Let me think"}}]}`, want: chunk{tokens: true}},
	{name: "reasoning", in: `{"choices":[{"delta":{"reasoning":"hmm","content":null}}]}`, want: chunk{tokens: true}},
	{name: "empty reasoning", in: `{"choices":[{"delta":{"reasoning_content":"","content":null}}]}`},
	{name: "tool call", in: `{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\""}}]}}]}`, want: chunk{tokens: true}},
	{name: "empty tool calls", in: `{"choices":[{"delta":{"tool_calls":[ ]}}]}`},
	{name: "escaped content", in: `{"choices":[{"delta":{"content":"\n"}}]}`, want: chunk{tokens: true}},
	{name: "unicode content", in: `{"choices":[{"delta":{"content":"été 日本"}}]}`, want: chunk{tokens: true}},
	{name: "second choice carries the token", in: `{"choices":[{"delta":{}},{"delta":{"content":"x"}}]}`, want: chunk{tokens: true}},
	{name: "non-object choice ignored", in: `{"choices":[null,1,"x",{"text":"y"}]}`, want: chunk{tokens: true}},
	{name: "choices null", in: `{"choices":null,"usage":null}`},
	{name: "duplicate key last wins", in: `{"choices":[{"delta":{"content":"a","content":""}}]}`},
	{name: "duplicate choices last wins", in: `{"choices":[{"text":"a"}],"choices":[]}`},
	{name: "escaped key", in: `{"ch\u006fices":[{"text":"a"}]}`, want: chunk{tokens: true}},
	{name: "key case matters", in: `{"Choices":[{"text":"a"}]}`},
	{name: "usage as float is absent", in: `{"usage":{"prompt_tokens":1.0,"completion_tokens":2}}`, want: chunk{hasCompletion: true, completion: 2}},
	{name: "usage negative is absent", in: `{"usage":{"completion_tokens":-2}}`},
	{name: "usage huge is absent", in: `{"usage":{"completion_tokens":12345678901234567890}}`},
	{name: "error object", in: `{"error":{"object":"error","message":"boom","type":"InternalServerError","param":null,"code":500}}`, want: chunk{isError: true}},
	{name: "error string", in: `{"error":"boom"}`, want: chunk{isError: true}},
	{name: "error null is not an error", in: `{"error":null,"choices":[{"text":"a"}]}`, want: chunk{tokens: true}},
	{name: "old vLLM error shape", in: `{"object":"error","message":"bad","type":"BadRequestError","code":400}`, want: chunk{isError: true}},
	{name: "white space everywhere", in: " \t\r\n{ \"choices\" : [ { \"delta\" : { \"content\" : \"x\" } } ] } \n", want: chunk{tokens: true}},
	{name: "deep nesting elsewhere", in: `{"x":[[[[{"a":[{}]}]]]],"choices":[{"text":"x"}]}`, want: chunk{tokens: true}},

	{name: "empty", in: ``, err: true},
	{name: "not an object", in: `[1,2]`, err: true},
	{name: "null", in: `null`, err: true},
	{name: "truncated", in: chatToken[:len(chatToken)-3], err: true},
	{name: "trailing data", in: `{"a":1} x`, err: true},
	{name: "two objects", in: `{}{}`, err: true},
	{name: "trailing comma", in: `{"a":1,}`, err: true},
	{name: "trailing comma in array", in: `{"a":[1,]}`, err: true},
	{name: "missing colon", in: `{"a" 1}`, err: true},
	{name: "bad literal", in: `{"a":nul}`, err: true},
	{name: "bad number", in: `{"a":01}`, err: true},
	{name: "bad number 2", in: `{"a":1.}`, err: true},
	{name: "bad escape", in: `{"a":"\x"}`, err: true},
	{name: "raw control char", in: "{\"a\":\"\x01\"}", err: true},
	{name: "single quotes", in: `{'a':1}`, err: true},
	{name: "DONE is not JSON", in: `[DONE]`, err: true},
}

func TestDecodeChunk(t *testing.T) {
	for _, tc := range chunkCases {
		t.Run(tc.name, func(t *testing.T) {
			var got chunk
			err := decodeChunk([]byte(tc.in), &got)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			// The reference must agree, or the table is wrong.
			ref, rerr := referenceChunk([]byte(tc.in))
			if (rerr != nil) != tc.err || (rerr == nil && ref != tc.want) {
				t.Fatalf("reference: %+v, %v", ref, rerr)
			}
		})
	}
}

func TestDecodeChunkDepth(t *testing.T) {
	ok := `{"a":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}`
	if err := decodeChunk([]byte(ok), new(chunk)); err != nil {
		t.Fatalf("depth %d: %v", maxDepth, err)
	}
	deep := `{"a":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`
	if err := decodeChunk([]byte(deep), new(chunk)); err == nil {
		t.Fatal("depth beyond encoding/json's limit accepted")
	}
}

func TestDecodeChunkNoAllocs(t *testing.T) {
	var c chunk
	for _, in := range []string{chatToken, chatRole, chatUsage, chatCont, complTok,
		`{"choices":[{"delta":{"content":"\n\u00e9 日本"},"finish_reason":"stop"}]}`} {
		b := []byte(in)
		if a := testing.AllocsPerRun(100, func() { _ = decodeChunk(b, &c) }); a != 0 {
			t.Errorf("%.40s...: %v allocs, want 0", in, a)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	for in, want := range map[string]string{
		`{"error":{"message":"boom","type":"InternalServerError","code":500}}`: "InternalServerError: boom",
		`{"error":{"message":"no type"}}`:                                      "no type",
		`{"error":"plain"}`:                                                    "plain",
		`{"object":"error","message":"old shape","code":400}`:                  "old shape",
		`{"error":{"code":1}}`:                                                 `{"error":{"code":1}}`,
		`{"error":{"message":"line1\nline2"}}`:                                 "line1 line2",
	} {
		if got := errorMessage([]byte(in)); got != want {
			t.Errorf("errorMessage(%s) = %q, want %q", in, got, want)
		}
	}
	if got := errorMessage([]byte(`{"error":"` + strings.Repeat("x", 2000) + `"}`)); len(got) > 520 || !strings.HasSuffix(got, "...") {
		t.Errorf("long message not cut: %d bytes", len(got))
	}
}

// referenceChunk is the oracle: encoding/json into generic maps, then the
// same rules written the obvious way.
func referenceChunk(b []byte) (chunk, error) {
	var c chunk
	if !json.Valid(b) {
		return c, errors.New("invalid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return c, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return c, errors.New("not an object")
	}
	if e, ok := root["error"]; ok && e != nil {
		c.isError = true
	}
	if o, ok := root["object"].(string); ok && o == "error" {
		c.isError = true
	}
	if choices, ok := root["choices"].([]any); ok {
		for _, x := range choices {
			m, ok := x.(map[string]any)
			if !ok {
				continue
			}
			if d, ok := m["delta"].(map[string]any); ok {
				for _, k := range []string{"content", "reasoning_content", "reasoning"} {
					if s, ok := d[k].(string); ok && s != "" {
						c.tokens = true
					}
				}
				if tc, ok := d["tool_calls"].([]any); ok && len(tc) > 0 {
					c.tokens = true
				}
			}
			if s, ok := m["text"].(string); ok && s != "" {
				c.tokens = true
			}
			if f, ok := m["finish_reason"].(string); ok && f != "" {
				c.finish = f
			}
		}
	}
	if u, ok := root["usage"].(map[string]any); ok {
		c.prompt, c.hasPrompt = refCount(u["prompt_tokens"])
		c.completion, c.hasCompletion = refCount(u["completion_tokens"])
	}
	return c, nil
}

func refCount(v any) (int64, bool) {
	n, ok := v.(json.Number)
	s := string(n)
	if !ok || len(s) > maxIntDigits || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	i, err := strconv.ParseInt(s, 10, 64)
	return i, err == nil
}

func FuzzDecodeChunk(f *testing.F) {
	for _, tc := range chunkCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var got chunk
		err := decodeChunk(in, &got)
		want, werr := referenceChunk(in)
		if (err != nil) != (werr != nil) {
			t.Fatalf("decodeChunk err = %v, reference err = %v", err, werr)
		}
		if err == nil && got != want {
			t.Fatalf("decodeChunk = %+v, reference = %+v", got, want)
		}
	})
}

// jsonChunk is the encoding/json alternative to the hand-written scanner,
// kept here to justify the choice in BenchmarkChunkDecode.
type jsonChunk struct {
	Choices []struct {
		Delta struct {
			Content          *string           `json:"content"`
			ReasoningContent *string           `json:"reasoning_content"`
			Reasoning        *string           `json:"reasoning"`
			ToolCalls        []json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     *int64 `json:"prompt_tokens"`
		CompletionTokens *int64 `json:"completion_tokens"`
	} `json:"usage"`
	Error  json.RawMessage `json:"error"`
	Object string          `json:"object"`
}

func BenchmarkChunkDecode(b *testing.B) {
	inputs := map[string][]byte{
		"chat_token": []byte(chatToken),
		"chat_usage": []byte(chatUsage),
		"completion": []byte(complTok),
	}
	for name, in := range inputs {
		b.Run("scanner/"+name, func(b *testing.B) {
			var c chunk
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if err := decodeChunk(in, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("encoding_json/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				var c jsonChunk
				if err := json.Unmarshal(in, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
