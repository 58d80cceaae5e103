package sim

import (
	"encoding/binary"
	"math"
	"unicode"
	"unicode/utf8"
)

// The simulator's tokenizer, documented in docs/sim.md because clients
// calibrate prompt lengths against it through /tokenize:
//
//   - text: one token per whitespace-separated word (strings.Fields), id =
//     FNV-1a-32(word) % 128000 + 1000;
//   - ids below 1000 are special tokens: BOS, the chat header markers, EOT;
//   - chat template (Llama-3 shaped): BOS, then the request's tool
//     definitions if any (<start_header> <tools> <end_header>, per tool its
//     name token and the words of its description and of the strings in its
//     parameters, <eot>), then per message
//     <start_header> role <end_header> content... [per tool call: name
//     token, arguments words] <eot>, then
//     <start_header> assistant <end_header> as the generation prompt;
//   - a function name is always one token (the id of the whole name), so a
//     tool call costs the same whether the name is generated or replayed.
//
// Because generated text is one word per token, generated tool calls are a
// name token then argument words (tools.go), and the generation prompt has
// the same three tokens as an assistant message header, a follow-up turn
// that replays the previous answer re-tokenizes to exactly the earlier
// prompt and output: multi-turn traffic hits the prefix cache as it would
// on vLLM.
const (
	tokBOS         int32 = 1
	tokStartHeader int32 = 2
	tokEndHeader   int32 = 3
	tokEOT         int32 = 4 // also the end-of-sequence token generation stops on

	tokRoleSystem    int32 = 10
	tokRoleUser      int32 = 11
	tokRoleAssistant int32 = 12
	tokRoleTool      int32 = 13
	tokRoleDeveloper int32 = 14
	tokRoleOther     int32 = 15
	tokToolDefs      int32 = 16 // header of the tool definitions block

	firstWordID = 1000
	numWordIDs  = 128000
	// vocabSize bounds token ids accepted in prompts given as id lists.
	vocabSize = firstWordID + numWordIDs

	// chatPerMessage and chatGenPrompt are the template's fixed token costs.
	chatPerMessage = 4
	chatGenPrompt  = 3
)

func roleToken(role string) int32 {
	switch role {
	case "system":
		return tokRoleSystem
	case "user":
		return tokRoleUser
	case "assistant":
		return tokRoleAssistant
	case "tool":
		return tokRoleTool
	case "developer":
		return tokRoleDeveloper
	}
	return tokRoleOther
}

// wordID is the token id of one word.
func wordID(w string) int32 {
	h := uint32(2166136261)
	for i := 0; i < len(w); i++ {
		h ^= uint32(w[i])
		h *= 16777619
	}
	return int32(h%numWordIDs) + firstWordID
}

var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// nextWord returns the first word of s at or after i and the index just past
// it, splitting exactly as strings.Fields does; start == len(s) when there is
// none. It does not allocate.
func nextWord(s string, i int) (start, end int) {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if !asciiSpace[c] {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	start = i
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiSpace[c] {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return start, i
}

// appendText appends the token ids of text to dst.
func appendText(dst []int32, text string) []int32 {
	for i := 0; ; {
		s, e := nextWord(text, i)
		if s == len(text) {
			return dst
		}
		dst = append(dst, wordID(text[s:e]))
		i = e
	}
}

// countText is len(appendText(nil, text)) without the slice.
func countText(text string) int {
	n := 0
	for i := 0; ; n++ {
		s, e := nextWord(text, i)
		if s == len(text) {
			return n
		}
		i = e
	}
}

// message is one chat message reduced to what the template needs.
type message struct {
	role      string
	parts     []string       // text content parts
	toolCalls []sentToolCall // an assistant message's tool calls
}

// sentToolCall is a tool call as a client sends it back in an assistant
// message.
type sentToolCall struct {
	name      string
	arguments string // the JSON text, tokenized as words
}

// nameID is the token of a function name: the whole name is one token, so
// that a generated name (one token, see toolOutput) re-tokenizes to itself.
func nameID(name string) int32 { return wordID(name) }

// chatTokens applies the chat template to a request's tool definitions and
// messages. With ids == false it only counts and returns a nil slice.
func chatTokens(tools []toolDef, msgs []message, genPrompt, ids bool) ([]int32, int) {
	n := 1
	if len(tools) > 0 {
		n += chatPerMessage
		for _, t := range tools {
			n++
			for _, p := range t.text {
				n += countText(p)
			}
		}
	}
	for _, m := range msgs {
		n += chatPerMessage
		for _, p := range m.parts {
			n += countText(p)
		}
		for _, c := range m.toolCalls {
			n += 1 + countText(c.arguments)
		}
	}
	if genPrompt {
		n += chatGenPrompt
	}
	if !ids {
		return nil, n
	}
	out := make([]int32, 0, n)
	out = append(out, tokBOS)
	if len(tools) > 0 {
		out = append(out, tokStartHeader, tokToolDefs, tokEndHeader)
		for _, t := range tools {
			out = append(out, nameID(t.name))
			for _, p := range t.text {
				out = appendText(out, p)
			}
		}
		out = append(out, tokEOT)
	}
	for _, m := range msgs {
		out = append(out, tokStartHeader, roleToken(m.role), tokEndHeader)
		for _, p := range m.parts {
			out = appendText(out, p)
		}
		for _, c := range m.toolCalls {
			out = append(out, nameID(c.name))
			out = appendText(out, c.arguments)
		}
		out = append(out, tokEOT)
	}
	if genPrompt {
		out = append(out, tokStartHeader, tokRoleAssistant, tokEndHeader)
	}
	return out, n
}

// words is the vocabulary of generated text: one word per token, each sent
// as " word" so clients can count tokens by splitting on spaces.
var words = [64]string{
	"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit",
	"sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et",
	"dolore", "magna", "aliqua", "enim", "ad", "minim", "veniam", "quis",
	"nostrud", "exercitation", "ullamco", "laboris", "nisi", "aliquip", "ex", "ea",
	"commodo", "consequat", "duis", "aute", "irure", "in", "reprehenderit", "voluptate",
	"velit", "esse", "cillum", "eu", "fugiat", "nulla", "pariatur", "excepteur",
	"sint", "occaecat", "cupidatat", "non", "proident", "sunt", "culpa", "qui",
	"officia", "deserunt", "mollit", "anim", "id", "est", "laborum", "vitae",
}

var (
	wordText [len(words)]string // " " + word, as streamed
	wordIDs  [len(words)]int32
)

func init() {
	for i, w := range words {
		wordText[i] = " " + w
		wordIDs[i] = wordID(w)
	}
}

// splitmix64 is a fast, well-mixed hash of one 64-bit word.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// output is a request's generated sequence, a pure function of its seed:
// nothing is stored per token.
type output struct {
	seed  uint64
	n     int         // tokens to generate
	stop  bool        // the last token is EOS (finish_reason "stop"), else "length"
	tools *toolAnswer // non-nil: the answer is tool calls (tools.go), not text
}

func (o *output) wordIndex(i int) int {
	return int(splitmix64(o.seed+uint64(i)) & uint64(len(words)-1))
}

// text is the streamed text of token i: " word", or "" for the final EOS.
func (o *output) text(i int) string {
	if o.stop && i == o.n-1 {
		return ""
	}
	return wordText[o.wordIndex(i)]
}

// tokenID is the id of token i, consistent with the tokenizer.
func (o *output) tokenID(i int) int32 {
	if o.tools != nil {
		return o.toolTokenID(i)
	}
	if o.stop && i == o.n-1 {
		return tokEOT
	}
	return wordIDs[o.wordIndex(i)]
}

// finishReason is the engine's reason, vLLM's finished_reason metric label.
func (o *output) finishReason() string {
	if o.stop {
		return "stop"
	}
	return "length"
}

// apiFinishReason is the response's finish_reason: a tool-call answer that
// reached its EOS ends with "tool_calls".
func (o *output) apiFinishReason() string {
	if o.stop && o.tools != nil {
		return "tool_calls"
	}
	return o.finishReason()
}

// Natural output lengths (requests without ignore_eos) are log-normal with
// this median and shape: mean ~270 tokens, close to ShareGPT answers.
const (
	naturalMedian = 180
	naturalSigma  = 0.9
)

// newOutput decides how many tokens a request generates: exactly maxTokens
// with ignoreEOS, else a natural length drawn from the seed, never below
// minTokens+1 (EOS is suppressed until minTokens tokens exist, as in vLLM)
// and never beyond maxTokens.
func newOutput(seed uint64, maxTokens, minTokens int, ignoreEOS bool) output {
	o := output{seed: seed, n: maxTokens}
	if ignoreEOS {
		return o
	}
	u1 := (float64(splitmix64(seed^0x5851f42d4c957f2d)>>11) + 0.5) / (1 << 53)
	u2 := float64(splitmix64(seed^0x14057b7ef767814f)>>11) / (1 << 53)
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	l := int(math.Round(naturalMedian * math.Exp(naturalSigma*z)))
	if l < minTokens+1 {
		l = minTokens + 1
	}
	if l <= maxTokens {
		o.n, o.stop = l, true
	}
	return o
}

// requestSeed makes a request's generated text a function of the server seed
// and the request body, like sampling with a fixed seed: the same request
// gets the same answer.
func requestSeed(serverSeed int64, body []byte) uint64 {
	return splitmix64(uint64(serverSeed)) ^ hashBytes(body)
}

// hashBytes is a fast non-cryptographic 64-bit hash.
func hashBytes(b []byte) uint64 {
	h := uint64(len(b)) * 0x9e3779b97f4a7c15
	for len(b) >= 8 {
		h = splitmix64(h ^ binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	var tail uint64
	for i, c := range b {
		tail |= uint64(c) << (8 * i)
	}
	return splitmix64(h ^ tail)
}
