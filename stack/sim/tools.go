package sim

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Tool calling. A chat request with a non-empty `tools` array is answered
// with tool calls instead of text with probability --tool-call-rate (always
// for tool_choice "required" or a named function, never for "none"), decided
// from the request seed like everything else the simulator generates.
//
// A tool-call answer is a token sequence, like a text answer: per call a
// name token (streamed as the call's header delta: id, type, name and empty
// arguments) and --tool-args-tokens argument tokens (streamed one piece
// each), then EOS (finish_reason "tool_calls"). The arguments are
// {"key": "w1 w2 ... wn"}, whose whitespace-separated words are exactly the
// argument tokens, so a client that sends the call back in an assistant
// message re-tokenizes it (name token + arguments words, see chatTokens) to
// the ids the engine generated: the conversation's prefix stays cached.

// toolDef is one entry of a request's tools array.
type toolDef struct {
	name string
	key  string   // the argument the simulator fills: the first parameter, or "query"
	text []string // description and the strings in parameters, tokenized as words
}

const defaultArgKey = "query"

// Tool-choice modes.
const (
	choiceAuto     = iota // call tools at --tool-call-rate
	choiceNone            // never call
	choiceRequired        // always call
	choiceNamed           // always call the named function, once
)

type toolChoice struct {
	mode int
	tool int // choiceNamed: index into the tools
}

type rawFunction struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Arguments   json.RawMessage `json:"arguments"`
}

type rawTool struct {
	Type     *string      `json:"type"`
	Function *rawFunction `json:"function"`
}

// parseTools validates a request's tools array (absent or null: none).
func parseTools(raw json.RawMessage) ([]toolDef, *apiError) {
	if isNull(raw) {
		return nil, nil
	}
	var ts []rawTool
	if err := json.Unmarshal(raw, &ts); err != nil {
		return nil, invalidBody(`tools: must be an array of {"type":"function","function":{"name":...,"parameters":{...}}}: %v`, err)
	}
	out := make([]toolDef, len(ts))
	for i, t := range ts {
		if t.Type != nil && *t.Type != "function" {
			return nil, invalidBody(`tools[%d].type: must be "function", got %q`, i, *t.Type)
		}
		f := t.Function
		if f == nil || f.Name == nil || *f.Name == "" {
			return nil, invalidBody("tools[%d].function.name: field required", i)
		}
		d := toolDef{name: *f.Name, key: defaultArgKey}
		if f.Description != nil {
			d.text = append(d.text, *f.Description)
		}
		if p := bytes.TrimSpace(f.Parameters); !isNull(p) {
			if p[0] != '{' {
				return nil, invalidBody("tools[%d].function.parameters: must be a JSON Schema object", i)
			}
			d.text = appendJSONStrings(d.text, p)
			if k := firstProperty(p); k != "" {
				d.key = k
			}
		}
		out[i] = d
	}
	return out, nil
}

// appendJSONStrings appends every string (keys and values) of the valid
// JSON value raw, in document order.
func appendJSONStrings(dst []string, raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			return dst
		}
		if s, ok := tok.(string); ok {
			dst = append(dst, s)
		}
	}
}

// firstProperty is the first key of a JSON Schema's "properties" when it is
// a plain identifier (it is written into the arguments unescaped), else "".
func firstProperty(schema []byte) string {
	var s struct {
		Properties json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(schema, &s) != nil || isNull(s.Properties) {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(s.Properties))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	t, err := dec.Token()
	k, ok := t.(string)
	if err != nil || !ok || len(k) == 0 || len(k) > 64 {
		return ""
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return ""
		}
	}
	return k
}

// parseToolChoice validates tool_choice against the request's tools.
func parseToolChoice(raw json.RawMessage, tools []toolDef) (toolChoice, *apiError) {
	const want = `tool_choice: must be "none", "auto", "required" or {"type":"function","function":{"name":...}}`
	t := bytes.TrimSpace(raw)
	var c toolChoice
	switch {
	case isNull(t):
		return c, nil
	case t[0] == '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return c, invalidBody("%s: %v", want, err)
		}
		switch s {
		case "auto":
		case "none":
			c.mode = choiceNone
		case "required":
			c.mode = choiceRequired
		default:
			return c, invalidBody("%s, got %q", want, s)
		}
	case t[0] == '{':
		var named rawTool
		if err := json.Unmarshal(t, &named); err != nil || named.Function == nil || named.Function.Name == nil {
			return c, invalidBody("%s", want)
		}
		c.mode, c.tool = choiceNamed, -1
		for i, d := range tools {
			if d.name == *named.Function.Name {
				c.tool = i
				break
			}
		}
		if c.tool < 0 {
			return c, badRequest("tool_choice names function %q, which is not among the request's tools: add it to tools or name one of them", *named.Function.Name)
		}
	default:
		return c, invalidBody("%s", want)
	}
	if (c.mode == choiceRequired) && len(tools) == 0 {
		return c, badRequest(`tool_choice "required" needs a non-empty tools array`)
	}
	return c, nil
}

// parseSentToolCalls reads an assistant message's tool_calls.
func parseSentToolCalls(raw json.RawMessage, msg int) ([]sentToolCall, *apiError) {
	if isNull(raw) {
		return nil, nil
	}
	var cs []rawTool
	if err := json.Unmarshal(raw, &cs); err != nil {
		return nil, invalidBody(`messages[%d].tool_calls: must be an array of {"id":...,"type":"function","function":{"name":...,"arguments":"..."}}: %v`, msg, err)
	}
	out := make([]sentToolCall, len(cs))
	for i, c := range cs {
		f := c.Function
		if f == nil || f.Name == nil {
			return nil, invalidBody("messages[%d].tool_calls[%d].function.name: field required", msg, i)
		}
		out[i].name = *f.Name
		a := bytes.TrimSpace(f.Arguments)
		if isNull(a) {
			continue
		}
		if a[0] != '"' || json.Unmarshal(a, &out[i].arguments) != nil {
			return nil, invalidBody("messages[%d].tool_calls[%d].function.arguments: must be a string holding the arguments' JSON text, as the answer streamed it", msg, i)
		}
	}
	return out, nil
}

// toolCall is one generated call.
type toolCall struct {
	id       string // "chatcmpl-tool-" + 32 hex digits, from the seed
	name     string
	nameID   int32
	keyPiece string // the first argument piece, `{"key":`, JSON-escaped
	keyID    int32
}

// toolAnswer is the tool calls of a request answered with them.
type toolAnswer struct {
	calls     []toolCall
	argTokens int // tokens of each call's arguments (--tool-args-tokens)
}

// Salts separating the seed's uses; arbitrary odd constants.
const (
	saltToolDecide = 0x2545f4914f6cdd1d
	saltToolCount  = 0x9fb21c651e98df25
	saltToolPick   = 0xd6e8feb86659fd93
	saltToolID     = 0xa0761d6478bd642f
)

// unitFloat maps a hash to [0, 1).
func unitFloat(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// chooseToolCalls decides whether a request with seed calls tools, which
// and how many; nil means a text answer.
func chooseToolCalls(seed uint64, g *genRequest, cfg *Config) []toolCall {
	if len(g.tools) == 0 {
		return nil
	}
	n := 1
	switch g.toolChoice.mode {
	case choiceNone:
		return nil
	case choiceAuto:
		if unitFloat(splitmix64(seed^saltToolDecide)) >= cfg.ToolCallRate {
			return nil
		}
		fallthrough
	case choiceRequired:
		n += int(splitmix64(seed^saltToolCount) % uint64(cfg.ToolCallsMax))
	}
	calls := make([]toolCall, n)
	for i := range calls {
		var t *toolDef
		if g.toolChoice.mode == choiceNamed {
			t = &g.tools[g.toolChoice.tool]
		} else {
			t = &g.tools[splitmix64(seed^saltToolPick+uint64(i))%uint64(len(g.tools))]
		}
		calls[i] = toolCall{
			id:       "chatcmpl-tool-" + hex32(seed^saltToolID+uint64(i)),
			name:     t.name,
			nameID:   nameID(t.name),
			keyPiece: `{\"` + t.key + `\":`,
			keyID:    wordID(`{"` + t.key + `":`),
		}
	}
	return calls
}

// newAnswer decides a request's output: tool calls or text.
func newAnswer(seed uint64, g *genRequest, cfg *Config) output {
	if calls := chooseToolCalls(seed, g, cfg); calls != nil {
		return newToolOutput(seed, calls, cfg.ToolArgsTokens, g.maxTokens)
	}
	return newOutput(seed, g.maxTokens, g.minTokens, g.ignoreEOS)
}

// newToolOutput is the output of a request answered with calls: every call
// in full and EOS, cut at maxTokens (finish_reason "length") if longer.
func newToolOutput(seed uint64, calls []toolCall, argTokens, maxTokens int) output {
	o := output{seed: seed, tools: &toolAnswer{calls: calls, argTokens: argTokens}}
	o.n = len(calls)*(1+argTokens) + 1
	o.stop = o.n <= maxTokens
	if !o.stop {
		o.n = maxTokens
	}
	return o
}

// Argument word pieces: a word inside the quoted value, opening it, closing
// it, or both. Streamed JSON-escaped, with the space that separates words.
const (
	pieceMid = iota
	pieceOpen
	pieceClose
	pieceOnly
)

var (
	argPiece [4][len(words)]string // JSON-escaped, as inside "arguments":"..."
	argID    [4][len(words)]int32
)

func init() {
	for i, w := range words {
		for v, raw := range [4]string{w, `"` + w, w + `"}`, `"` + w + `"}`} {
			argID[v][i] = wordID(raw)
			b := appendJSONString(nil, " "+raw)
			argPiece[v][i] = string(b[1 : len(b)-1])
		}
	}
}

// toolToken locates token i of a tool answer: call c, position p in it
// (0: the name, 1: the key piece, 2..: argument words), or eos.
func (o *output) toolToken(i int) (c, p int, eos bool) {
	l := 1 + o.tools.argTokens
	if i >= len(o.tools.calls)*l {
		return 0, 0, true
	}
	return i / l, i % l, false
}

func (o *output) argVariant(p int) int {
	v := pieceMid
	if p == 2 {
		v |= pieceOpen
	}
	if p == o.tools.argTokens {
		v |= pieceClose
	}
	return v
}

// toolTokenID is the id of token i of a tool answer.
func (o *output) toolTokenID(i int) int32 {
	c, p, eos := o.toolToken(i)
	switch {
	case eos:
		return tokEOT
	case p == 0:
		return o.tools.calls[c].nameID
	case p == 1:
		return o.tools.calls[c].keyID
	}
	return argID[o.argVariant(p)][o.wordIndex(i)]
}

// argPieceText is the JSON-escaped arguments piece of token i, which must
// be an argument token (p >= 1).
func (o *output) argPieceText(i int) string {
	c, p, _ := o.toolToken(i)
	if p == 1 {
		return o.tools.calls[c].keyPiece
	}
	return argPiece[o.argVariant(p)][o.wordIndex(i)]
}

// appendToolDelta appends the delta of token i of a tool answer: the call's
// header (with the role when it is the first call), one arguments piece, or
// the empty delta of EOS.
func (r *request) appendToolDelta(b []byte, i int) []byte {
	o := &r.out
	c, p, eos := o.toolToken(i)
	switch {
	case eos:
		return append(b, `{}`...)
	case p == 0:
		call := &o.tools.calls[c]
		b = append(b, '{')
		if c == 0 {
			b = append(b, `"role":"assistant",`...)
		}
		b = append(b, `"tool_calls":[{"id":"`...)
		b = append(b, call.id...)
		b = append(b, `","type":"function","index":`...)
		b = strconv.AppendInt(b, int64(c), 10)
		b = append(b, `,"function":{"name":`...)
		b = appendJSONString(b, call.name)
		return append(b, `,"arguments":""}}]}`...)
	}
	b = append(b, `{"tool_calls":[{"index":`...)
	b = strconv.AppendInt(b, int64(c), 10)
	b = append(b, `,"function":{"arguments":"`...)
	b = append(b, o.argPieceText(i)...)
	return append(b, `"}}]}`...)
}

// appendToolCalls appends the message.tool_calls array of a non-streamed
// answer of n tokens: every call begun, its arguments as far as generated.
func (r *request) appendToolCalls(b []byte, n int) []byte {
	o := &r.out
	l := 1 + o.tools.argTokens
	b = append(b, '[')
	for c := range o.tools.calls {
		first := c * l
		if first >= n {
			break
		}
		call := &o.tools.calls[c]
		if c > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":"`...)
		b = append(b, call.id...)
		b = append(b, `","type":"function","function":{"name":`...)
		b = appendJSONString(b, call.name)
		b = append(b, `,"arguments":"`...)
		for i := first + 1; i < first+l && i < n; i++ {
			b = append(b, o.argPieceText(i)...)
		}
		b = append(b, `"}}`...)
	}
	return append(b, ']')
}
