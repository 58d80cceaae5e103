package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
const maxDepth = 10000

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
	s := scanner{b: b, capture: capture}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		if err := s.value(); err != nil {
			return err
		}
		return errNotObject
	}
	s.enter()
	var objectErr, errField bool
	for first := true; ; first = false {
		key, ok, err := s.member(first)
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
			errField = !s.isNull()
			err = s.value()
		case "object":
			objectErr = false
			if s.peek() == '"' {
				var v []byte
				v, err = s.str()
				objectErr = string(v) == "error"
			} else {
				err = s.value()
			}
		default:
			err = s.value()
		}
		if err != nil {
			return err
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return s.errorf("data after the JSON object")
	}
	c.isError = errField || objectErr
	return nil
}

func (s *scanner) choices(c *chunk) error {
	c.tokens, c.finish = false, ""
	if s.peek() != '[' {
		return s.value()
	}
	s.enter()
	for first := true; ; first = false {
		ok, err := s.element(first)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if s.peek() != '{' {
			if err := s.value(); err != nil {
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
	s.enter()
	var deltaTok, textTok bool
	finish := ""
	for first := true; ; first = false {
		key, ok, err := s.member(first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(key) {
		case "delta":
			deltaTok = false
			if s.peek() == '{' {
				deltaTok, err = s.delta()
			} else {
				err = s.value()
			}
		case "text":
			textTok, err = s.captureString((*answerCapture).addText)
		case "finish_reason":
			finish = ""
			if s.peek() == '"' {
				var v []byte
				v, err = s.str()
				finish = intern(v)
			} else {
				err = s.value()
			}
		default:
			err = s.value()
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
	s.enter()
	var content, reasoningContent, reasoning, tools bool
	for first := true; ; first = false {
		key, ok, err := s.member(first)
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
			err = s.value()
		}
		if err != nil {
			return false, err
		}
	}
	return content || reasoningContent || reasoning || tools, nil
}

func (s *scanner) usage(c *chunk) error {
	c.hasPrompt, c.hasCompletion, c.prompt, c.completion = false, false, 0, 0
	if s.peek() != '{' {
		return s.value()
	}
	s.enter()
	for first := true; ; first = false {
		key, ok, err := s.member(first)
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
			err = s.value()
		}
		if err != nil {
			return err
		}
	}
}

// count reads a value that should be a token count: a non-negative integer
// without fraction or exponent. Anything else is skipped and reported absent.
func (s *scanner) count() (int64, bool, error) {
	c := s.peek()
	if c < '0' || c > '9' {
		return 0, false, s.value()
	}
	start := s.i
	if err := s.number(); err != nil {
		return 0, false, err
	}
	raw := s.b[start:s.i]
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
	if s.capture == nil || s.peek() != '"' {
		return s.nonEmptyString()
	}
	v, err := s.str()
	if err == nil {
		add(s.capture, v)
	}
	return len(v) > 0, err
}

func (s *scanner) nonEmptyString() (bool, error) {
	if s.peek() != '"' {
		return false, s.value()
	}
	v, _, err := s.rawStr()
	return len(v) > 0, err
}

func (s *scanner) nonEmptyArray() (bool, error) {
	if s.peek() != '[' {
		return false, s.value()
	}
	start := s.i
	s.i++
	s.ws()
	empty := s.i < len(s.b) && s.b[s.i] == ']'
	s.i = start
	return !empty, s.value()
}

func (s *scanner) isNull() bool {
	return len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null"
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

// scanner is a validating JSON scanner over one document. Its positions
// are byte offsets into b; s.i always points at the next unread byte.
type scanner struct {
	b     []byte
	i     int
	depth int
	tmp   []byte // unescaped string, for the rare escaped key or value

	capture *answerCapture // nil unless the plan asked for its answer
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", s.i, fmt.Sprintf(format, args...))
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// enter consumes the '{' or '[' at s.i.
func (s *scanner) enter() {
	s.i++
	s.depth++
}

// member moves to the next member of an object whose '{' was consumed
// (first is true for the first call). It returns the member's name, with
// s.i at the start of its value, or ok == false after the closing '}'.
func (s *scanner) member(first bool) (key []byte, ok bool, err error) {
	if s.depth > maxDepth {
		return nil, false, s.errorf("exceeded max depth")
	}
	c := s.peek()
	if c == '}' {
		s.i++
		s.depth--
		return nil, false, nil
	}
	if !first {
		if c != ',' {
			return nil, false, s.errorf("expected ',' or '}' after object member")
		}
		s.i++
		c = s.peek()
	}
	if c != '"' {
		return nil, false, s.errorf("expected a member name")
	}
	key, err = s.str()
	if err != nil {
		return nil, false, err
	}
	if s.peek() != ':' {
		return nil, false, s.errorf("expected ':' after member name")
	}
	s.i++
	s.ws()
	return key, true, nil
}

// element moves to the next element of an array whose '[' was consumed. It
// returns ok == false after the closing ']'.
func (s *scanner) element(first bool) (ok bool, err error) {
	if s.depth > maxDepth {
		return false, s.errorf("exceeded max depth")
	}
	c := s.peek()
	if c == ']' {
		s.i++
		s.depth--
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, s.errorf("expected ',' or ']' after array element")
		}
		s.i++
		s.ws()
	}
	return true, nil
}

// value skips one value of any kind, validating it.
func (s *scanner) value() error {
	switch c := s.peek(); {
	case c == '{':
		s.enter()
		for first := true; ; first = false {
			_, ok, err := s.member(first)
			if err != nil || !ok {
				return err
			}
			if err := s.value(); err != nil {
				return err
			}
		}
	case c == '[':
		s.enter()
		for first := true; ; first = false {
			ok, err := s.element(first)
			if err != nil || !ok {
				return err
			}
			if err := s.value(); err != nil {
				return err
			}
		}
	case c == '"':
		_, _, err := s.rawStr()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case s.i >= len(s.b):
		return s.errorf("unexpected end of input")
	default:
		return s.errorf("unexpected byte %q", c)
	}
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.errorf("invalid literal")
	}
	s.i += len(lit)
	return nil
}

func (s *scanner) number() error {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		s.i = i
		return s.errorf("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return s.errorf("invalid number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return s.errorf("invalid number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	s.i = i
	return nil
}

// strSafe marks the bytes a string can contain without a closer look:
// printable ASCII other than '"' and '\\'.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str scans the string at s.i and returns its decoded contents. Contents
// without escapes or non-ASCII bytes alias the input; others are decoded
// exactly as encoding/json decodes them (invalid UTF-8 becomes U+FFFD) into
// a scratch buffer valid until the next decoding call.
func (s *scanner) str() ([]byte, error) {
	start := s.i
	raw, slow, err := s.rawStr()
	if err != nil || !slow {
		return raw, err
	}
	return s.unescape(start, s.i)
}

// rawStr scans the string at s.i and returns its undecoded contents and
// whether decoding would change them. A string is empty exactly when its
// raw contents are: every escape and every invalid byte decodes to
// something.
func (s *scanner) rawStr() (raw []byte, slow bool, err error) {
	s.i++ // the opening quote
	start := s.i
	b := s.b
	for {
		for s.i < len(b) && strSafe[b[s.i]] {
			s.i++
		}
		if s.i >= len(b) {
			return nil, false, s.errorf("unterminated string")
		}
		switch c := b[s.i]; {
		case c == '"':
			raw = b[start:s.i]
			s.i++
			return raw, slow, nil
		case c == '\\':
			slow = true
			s.i++
			if s.i >= len(b) {
				return nil, false, s.errorf("unterminated string")
			}
			switch b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(b)-s.i < 5 || !isHex(b[s.i+1]) || !isHex(b[s.i+2]) || !isHex(b[s.i+3]) || !isHex(b[s.i+4]) {
					return nil, false, s.errorf("invalid \\u escape")
				}
				s.i += 5
			default:
				return nil, false, s.errorf("invalid escape")
			}
		case c < 0x20:
			return nil, false, s.errorf("control character in string")
		default: // c >= 0x80
			slow = true
			s.i++
		}
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// unescape decodes the quoted string b[from:to] with encoding/json, so that
// escapes and invalid UTF-8 are handled exactly as the standard library does.
func (s *scanner) unescape(from, to int) ([]byte, error) {
	var v string
	if err := json.Unmarshal(s.b[from:to], &v); err != nil {
		return nil, s.errorf("%v", err)
	}
	s.tmp = append(s.tmp[:0], v...)
	return s.tmp, nil
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
