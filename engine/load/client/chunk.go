package client

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/llmload/llmload/engine/shared/jsonx"
)

// chunk is what one streamed JSON object says, reduced to what the client
// measures. Keys follow JSON object semantics as encoding/json applies them
// to a map: names match exactly (after unescaping) and the last duplicate
// wins.
type chunk struct {
	tokens bool   // some choice carries generated text, reasoning or a tool call
	finish string // finish_reason of the last choice that has a non-empty one

	hasPrompt, hasCompletion bool // usage.prompt_tokens / completion_tokens are integers
	prompt, completion       int64

	isError bool // a non-null top-level "error", or "object": "error"
}

// maxDepth matches encoding/json's nesting limit, so both accept the same
// documents.
const maxDepth = jsonx.MaxDepth

// maxIntDigits keeps token counts well inside int64 (and int32 deltas
// meaningful); longer numbers are treated as absent.
const maxIntDigits = 18

var errNotObject = errors.New("chunk is not a JSON object")

// decodeChunk scans one SSE data payload. It validates the whole document
// as JSON (the same grammar encoding/json accepts) but looks only at the
// few fields it needs, and allocates only on rare paths (escaped keys or
// finish reasons, unusual finish reasons, errors).
func decodeChunk(b []byte, c *chunk) error { return decodeAnswerChunk(b, c, nil) }

// decodeAnswerChunk is decodeChunk that, with a capture (Plan.Capture),
// also appends the generated text, reasoning and tool calls to it.
func decodeAnswerChunk(b []byte, c *chunk, capture *answerCapture) error {
	*c = chunk{}
	s := scanner{capture: capture}
	s.Reset(b, maxDepth)
	if s.Peek() != '{' {
		if err := s.Skip(); err != nil {
			return err
		}
		return errNotObject
	}
	s.Enter()
	var objectErr, errField bool
	for first := true; ; first = false {
		key, ok, err := s.Member(first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(key) {
		case "choices":
			err = s.choices(c)
		case "usage":
			err = s.usage(c)
		case "error":
			errField = !s.IsNull()
			err = s.Skip()
		case "object":
			objectErr = false
			if s.Peek() == '"' {
				var v []byte
				v, err = s.String()
				objectErr = string(v) == "error"
			} else {
				err = s.Skip()
			}
		default:
			err = s.Skip()
		}
		if err != nil {
			return err
		}
	}
	if !s.AtEnd() {
		return s.Errorf("data after the JSON object")
	}
	c.isError = errField || objectErr
	return nil
}

func (s *scanner) choices(c *chunk) error {
	c.tokens, c.finish = false, ""
	if s.Peek() != '[' {
		return s.Skip()
	}
	s.Enter()
	for first := true; ; first = false {
		ok, err := s.Element(first)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if s.Peek() != '{' {
			if err := s.Skip(); err != nil {
				return err
			}
			continue
		}
		if err := s.choice(c); err != nil {
			return err
		}
	}
}

func (s *scanner) choice(c *chunk) error {
	s.Enter()
	var deltaTok, textTok bool
	finish := ""
	for first := true; ; first = false {
		key, ok, err := s.Member(first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(key) {
		case "delta":
			deltaTok = false
			if s.Peek() == '{' {
				deltaTok, err = s.delta()
			} else {
				err = s.Skip()
			}
		case "text":
			textTok, err = s.captureString((*answerCapture).addText)
		case "finish_reason":
			finish = ""
			if s.Peek() == '"' {
				var v []byte
				v, err = s.String()
				finish = intern(v)
			} else {
				err = s.Skip()
			}
		default:
			err = s.Skip()
		}
		if err != nil {
			return err
		}
	}
	if deltaTok || textTok {
		c.tokens = true
	}
	if finish != "" {
		c.finish = finish
	}
	return nil
}

// delta reports whether a chat delta carries generated content.
func (s *scanner) delta() (bool, error) {
	s.Enter()
	var content, reasoningContent, reasoning, tools bool
	for first := true; ; first = false {
		key, ok, err := s.Member(first)
		if err != nil {
			return false, err
		}
		if !ok {
			break
		}
		switch string(key) {
		case "content":
			content, err = s.captureString((*answerCapture).addText)
		case "reasoning_content":
			reasoningContent, err = s.captureString((*answerCapture).addReasoning)
		case "reasoning":
			reasoning, err = s.captureString((*answerCapture).addReasoning)
		case "tool_calls":
			if s.capture != nil {
				tools, err = s.toolCalls(s.capture)
			} else {
				tools, err = s.nonEmptyArray()
			}
		default:
			err = s.Skip()
		}
		if err != nil {
			return false, err
		}
	}
	return content || reasoningContent || reasoning || tools, nil
}

func (s *scanner) usage(c *chunk) error {
	c.hasPrompt, c.hasCompletion, c.prompt, c.completion = false, false, 0, 0
	if s.Peek() != '{' {
		return s.Skip()
	}
	s.Enter()
	for first := true; ; first = false {
		key, ok, err := s.Member(first)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		switch string(key) {
		case "prompt_tokens":
			c.prompt, c.hasPrompt, err = s.count()
		case "completion_tokens":
			c.completion, c.hasCompletion, err = s.count()
		default:
			err = s.Skip()
		}
		if err != nil {
			return err
		}
	}
}

// count reads a value that should be a token count: a non-negative integer
// without fraction or exponent. Anything else is skipped and reported absent.
func (s *scanner) count() (int64, bool, error) {
	c := s.Peek()
	if c < '0' || c > '9' {
		return 0, false, s.Skip()
	}
	raw, _, err := s.Number()
	if err != nil {
		return 0, false, err
	}
	if len(raw) > maxIntDigits {
		return 0, false, nil
	}
	var v int64
	for _, d := range raw {
		if d < '0' || d > '9' {
			return 0, false, nil
		}
		v = v*10 + int64(d-'0')
	}
	return v, true, nil
}

// captureString is nonEmptyString that, with a capture, also hands the
// decoded string to add.
func (s *scanner) captureString(add func(*answerCapture, []byte)) (bool, error) {
	if s.capture == nil || s.Peek() != '"' {
		return s.nonEmptyString()
	}
	v, err := s.String()
	if err == nil {
		add(s.capture, v)
	}
	return len(v) > 0, err
}

func (s *scanner) nonEmptyString() (bool, error) {
	if s.Peek() != '"' {
		return false, s.Skip()
	}
	v, _, err := s.RawString()
	return len(v) > 0, err
}

// nonEmptyArray skips an array (or any other value) and reports whether
// it has an element.
func (s *scanner) nonEmptyArray() (bool, error) {
	if s.Peek() != '[' {
		return false, s.Skip()
	}
	s.Enter()
	for first := true; ; first = false {
		ok, err := s.Element(first)
		if err != nil || !ok {
			return !first, err
		}
		if err := s.Skip(); err != nil {
			return false, err
		}
	}
}

// known holds the finish reasons servers send, so that recording one does
// not allocate.
var known = [...]string{"stop", "length", "tool_calls", "abort", "content_filter", "function_call", "error", "eos_token", "stop_sequence"}

func intern(b []byte) string {
	for _, k := range known {
		if string(b) == k {
			return k
		}
	}
	return string(b)
}

// scanner walks one chunk with the shared JSON scanner; capture is nil
// unless the plan asked for its answer.
type scanner struct {
	jsonx.Scanner
	capture *answerCapture
}

// errorMessage extracts a readable message from a chunk that decodeChunk
// flagged as an error: error.message, a string error, or a top-level
// message, falling back to the raw payload.
func errorMessage(data []byte) string {
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	msg := ""
	if json.Unmarshal(data, &e) == nil {
		var inner struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"`
		}
		var str string
		switch {
		case json.Unmarshal(e.Error, &inner) == nil && inner.Message != "":
			msg = inner.Message
			if inner.Type != "" {
				msg = inner.Type + ": " + msg
			}
		case json.Unmarshal(e.Error, &str) == nil && str != "":
			msg = str
		case e.Message != "":
			msg = e.Message
		}
	}
	if msg == "" {
		msg = string(data)
	}
	return snippet(msg, 512)
}

// snippet makes s fit for a one-line error message: valid UTF-8, no line
// breaks, at most n bytes.
func snippet(s string, n int) string {
	s = strings.TrimSpace(s)
	cut := false
	if len(s) > n {
		s, cut = s[:n], true
	}
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
	if cut {
		s += "..."
	}
	return s
}
