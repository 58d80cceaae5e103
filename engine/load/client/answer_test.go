package client

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/llmload/llmload/engine/load/request"
)

// The answer of a stream is the concatenation of its pieces, decoded as
// encoding/json decodes strings; tool calls are assembled by index.
func TestAnswerCaptureAssemblesStream(t *testing.T) {
	events := []string{
		`{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`,
		`{"choices":[{"index":0,"delta":{"reasoning_content":"think \"hard\""}}]}`,
		`{"choices":[{"index":0,"delta":{"content":"Hello, "}}]}`,
		`{"choices":[{"index":0,"delta":{"content":"w\u00f6rld\n"}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"search","arguments":""}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"q\": "}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","function":{"name":"fetch","arguments":"{}"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"x\"}"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":9}}`,
	}
	var a answerCapture
	var c chunk
	for i, ev := range events {
		if err := decodeAnswerChunk([]byte(ev), &c, &a); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	got := a.answer()
	want := &request.Answer{
		Text: "Hello, wörld\n", Reasoning: `think "hard"`,
		ToolCalls: []request.ToolCall{
			{ID: "call_1", Name: "search", Arguments: `{"q": "x"}`},
			{ID: "call_2", Name: "fetch", Arguments: `{}`},
		},
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Fatalf("answer\n got %s\nwant %s", gj, wj)
	}
	if c.finish != "tool_calls" {
		t.Fatalf("finish %q", c.finish)
	}
}

// Completions stream "text"; a server that never stops is kept to
// MaxAnswerBytes, and a hostile tool-call index allocates nothing.
func TestAnswerCaptureBounds(t *testing.T) {
	var a answerCapture
	var c chunk
	piece := strings.Repeat("x", 64<<10)
	ev := []byte(`{"choices":[{"text":"` + piece + `"}]}`)
	for range request.MaxAnswerBytes/len(piece) + 3 {
		if err := decodeAnswerChunk(ev, &c, &a); err != nil {
			t.Fatal(err)
		}
	}
	ans := a.answer()
	if len(ans.Text) != request.MaxAnswerBytes || !ans.Cut {
		t.Fatalf("kept %d bytes, cut %v; want %d, true", len(ans.Text), ans.Cut, request.MaxAnswerBytes)
	}
	a.reset()
	hostile := `{"choices":[{"delta":{"tool_calls":[{"index":999999999,"function":{"name":"f","arguments":"{}"}}]}}]}`
	if err := decodeAnswerChunk([]byte(hostile), &c, &a); err != nil {
		t.Fatal(err)
	}
	if len(a.calls) != 1 || a.calls[0].name != "f" {
		t.Fatalf("calls %+v", a.calls)
	}
}

// Capturing never changes what a chunk decodes to, and keeps to its bound.
func FuzzAnswerCapture(f *testing.F) {
	f.Add(`{"choices":[{"delta":{"content":"a","tool_calls":[{"index":0,"id":"x","function":{"name":"n","arguments":"{"}}]}}]}`)
	f.Add(`{"choices":[{"text":"\ud800"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		var a answerCapture
		var c1, c2 chunk
		err1 := decodeAnswerChunk([]byte(in), &c1, &a)
		err2 := decodeChunk([]byte(in), &c2)
		if (err1 == nil) != (err2 == nil) || c1 != c2 {
			t.Fatalf("capture changed the decoding: %v %+v vs %v %+v", err1, c1, err2, c2)
		}
		if a.kept > request.MaxAnswerBytes {
			t.Fatalf("kept %d", a.kept)
		}
	})
}
