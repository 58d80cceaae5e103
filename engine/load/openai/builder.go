package openai

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/llmload/llmload/engine/load/prompt"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/shared/jsonx"
)

// BuilderConfig is the run-wide part of every request.
type BuilderConfig struct {
	// BaseURL is the user's --url in any form ParseURL accepts: the server
	// root (http://127.0.0.1:8000), the API base (.../v1) or a full
	// endpoint URL (.../v1/chat/completions).
	BaseURL string
	Model   string // the "model" field unless a Spec overrides it; "" = omitted
	// Seed is the run seed of the synthetic prompts. The same seed sends
	// the same prompts: a second run with it against a server that still
	// caches the first run's prefixes measures the cache. Pick a fresh
	// seed per run unless reproducing one.
	Seed uint64
	// TokenIDs makes synthetic /v1/completions prompts lists of token ids
	// (exact length, no calibration needed; vLLM and SGLang accept them).
	TokenIDs bool
	// ContinuousUsage asks vLLM for usage in every stream event
	// (stream_options.continuous_usage_stats), so the client learns how
	// many tokens each event carried.
	ContinuousUsage bool
	// Headers are added to every plan (a Spec's own headers win).
	Headers map[string]string
	// BlockSize is the prompt tokens per hash id of specs that do not say
	// (Spec.BlockSize); 0 means DefaultBlockSize.
	BlockSize int
}

// DefaultBlockSize is the prompt tokens per hash id when neither the spec
// nor the builder says: the block size of the Mooncake traces.
const DefaultBlockSize = 512

// Builder turns Specs into Plans: endpoint URL, JSON body and the
// requested lengths the results are checked against.
//
// Concurrency: Build reuses internal buffers and must be called from one
// goroutine at a time (the planner). Observe is safe for concurrent use,
// also with Build.
type Builder struct {
	cfg  BuilderConfig
	urls URLs
	cals [2]*prompt.Calibration // by request.Endpoint

	src  prompt.Source
	buf  []byte
	keys []string
}

// NewBuilder checks cfg and returns a Builder. cals gives at most one
// calibration per endpoint; an endpoint without one sizes synthetic prompts
// with prompt.Identity (one token per word, no template overhead).
func NewBuilder(cfg BuilderConfig, cals ...*prompt.Calibration) (*Builder, error) {
	urls, err := ParseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	b := &Builder{cfg: cfg, urls: urls}
	for _, c := range cals {
		if c == nil {
			continue
		}
		ep := c.Endpoint()
		if int(ep) >= len(b.cals) {
			return nil, fmt.Errorf("calibration for unknown endpoint %d", ep)
		}
		if b.cals[ep] != nil {
			return nil, fmt.Errorf("two calibrations for the %s endpoint", ep)
		}
		b.cals[ep] = c
	}
	return b, nil
}

// URLs are the addresses the builder derived from BaseURL.
func (b *Builder) URLs() URLs { return b.urls }

// Calibration returns the calibration used for ep, or nil.
func (b *Builder) Calibration(ep request.Endpoint) *prompt.Calibration {
	if int(ep) < len(b.cals) {
		return b.cals[ep]
	}
	return nil
}

// Observe feeds a result to the calibrations that sized its prompt (see
// prompt.Calibration.Observe), so calibrations that learn from usage
// improve as the run goes. Wire it to the results of this builder's plans.
// Safe for concurrent use.
func (b *Builder) Observe(r *request.Result) {
	for _, c := range b.cals {
		if c != nil {
			c.Observe(r)
		}
	}
}

// fields the builder generates; an Extra key among them replaces it.
const (
	fModel         = "model"
	fMessages      = "messages"
	fPrompt        = "prompt"
	fMaxTokens     = "max_tokens"
	fMinTokens     = "min_tokens"
	fIgnoreEOS     = "ignore_eos"
	fTemperature   = "temperature"
	fStream        = "stream"
	fStreamOptions = "stream_options"
)

func validate(s *Spec) error {
	switch {
	case s.Endpoint != request.Chat && s.Endpoint != request.Completions:
		return fmt.Errorf("endpoint must be chat or completions, got %d", s.Endpoint)
	case s.PromptTokens < 0:
		return fmt.Errorf("prompt_tokens must be >= 0, got %d", s.PromptTokens)
	case s.MaxTokens < 0:
		return fmt.Errorf("max_tokens must be >= 0, got %d", s.MaxTokens)
	case s.MinTokens < 0:
		return fmt.Errorf("min_tokens must be >= 0, got %d", s.MinTokens)
	case s.MaxTokens > 0 && s.MinTokens > s.MaxTokens:
		return fmt.Errorf("min_tokens (%d) must not exceed max_tokens (%d)", s.MinTokens, s.MaxTokens)
	case s.IgnoreEOS && s.MaxTokens == 0:
		return errors.New("ignore_eos needs max_tokens > 0: without it the server generates until the context is full")
	case s.Temperature != nil && !(*s.Temperature >= 0 && !math.IsInf(*s.Temperature, 0)):
		return fmt.Errorf("temperature must be a finite number >= 0, got %v", *s.Temperature)
	case s.BlockSize < 0:
		return fmt.Errorf("block_size must be >= 0, got %d", s.BlockSize)
	case len(s.HashIDs) > 0 && s.PromptTokens == 0:
		return errors.New("hash_ids need prompt_tokens: they build a synthetic prompt of that length from shared blocks")
	}
	if s.PromptTokens == 0 {
		_, xm := s.Extra[fMessages]
		_, xp := s.Extra[fPrompt]
		switch {
		case s.Endpoint == request.Completions && len(s.Messages) > 0 && s.Prompt == "":
			return errors.New("messages need the chat endpoint; use prompt (or prompt_tokens) for completions")
		case len(s.Messages) == 0 && s.Prompt == "" && !xm && !xp:
			return errors.New("no prompt: set prompt_tokens, messages or prompt")
		}
		for i, m := range s.Messages {
			if m.Role == "" {
				return fmt.Errorf("messages[%d].role is empty", i)
			}
		}
	}
	if v, ok := s.Extra[fStream]; ok && v != true {
		return fmt.Errorf("extra field %q must be true (the client reads a stream), got %v", fStream, v)
	}
	return nil
}

// intField reads an integer-valued extra field.
func intField(v any, name string) (int, error) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	default:
		return 0, fmt.Errorf("extra field %q must be a number, got %T", name, v)
	}
	if f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
		return 0, fmt.Errorf("extra field %q must be a whole number >= 0, got %v", name, v)
	}
	return int(f), nil
}

func (b *Builder) key(first bool, k string) {
	if !first {
		b.buf = append(b.buf, ',')
	}
	b.buf = jsonx.AppendString(b.buf, k)
	b.buf = append(b.buf, ':')
}

// Build fills dst from s: Endpoint, URL, Body, Headers, PromptTokens,
// MaxTokens, MinTokens, IgnoreEOS and Tags; dst.Seq, Due, Scenario and
// SourceLine are the caller's (Scenario, when already set, separates the
// prompt streams of scenarios that share a seed). The body is
//
//	{"model", "messages" | "prompt", "max_tokens", "min_tokens" (> 0),
//	 "ignore_eos" (true), "temperature" (set), "stream": true,
//	 "stream_options": {"include_usage": true[, "continuous_usage_stats": true]},
//	 Extra...}
//
// with Extra's keys sorted and replacing generated fields of the same
// name. dst.Body is freshly allocated (the plan outlives the call);
// dst.Headers and dst.Tags share s's maps, which must not change after.
// Errors name the offending field.
func (b *Builder) Build(seq int64, s *Spec, dst *request.Plan) error {
	if err := validate(s); err != nil {
		return err
	}
	bb := body{b: b, s: s, first: true}
	b.buf = append(b.buf[:0], '{')
	bb.model()
	promptTokens := bb.prompt(dst.Scenario, seq)
	lim := limits{maxTokens: s.MaxTokens, minTokens: s.MinTokens, ignoreEOS: s.IgnoreEOS, promptTokens: promptTokens}
	bb.generation(lim)
	if err := bb.extra(&lim); err != nil {
		return err
	}
	b.buf = append(b.buf, '}')

	ep := s.Endpoint
	dst.Endpoint = ep
	dst.URL = b.urls.Chat
	if ep == request.Completions {
		dst.URL = b.urls.Completions
	}
	dst.Body = append(make([]byte, 0, len(b.buf)), b.buf...)
	dst.Headers = mergeHeaders(b.cfg.Headers, s.Headers)
	dst.PromptTokens = lim.promptTokens
	dst.MaxTokens = lim.maxTokens
	dst.MinTokens = lim.minTokens
	dst.IgnoreEOS = lim.ignoreEOS
	dst.Tags = s.Tags
	return nil
}

// body writes one request body into the builder's buffer: the fields in
// their fixed order, each unless an Extra key of the same name replaces it.
type body struct {
	b     *Builder
	s     *Spec
	first bool // no field written yet
}

// limits are what the plan records of the request's lengths; Extra may
// override what the generated fields said.
type limits struct {
	maxTokens, minTokens, promptTokens int
	ignoreEOS                          bool
}

func (bb *body) has(k string) bool { _, ok := bb.s.Extra[k]; return ok }

// key writes the next field's key.
func (bb *body) key(k string) {
	bb.b.key(bb.first, k)
	bb.first = false
}

// model writes "model": the spec's, else the run's.
func (bb *body) model() {
	model := bb.s.Model
	if model == "" {
		model = bb.b.cfg.Model
	}
	if model != "" && !bb.has(fModel) {
		bb.key(fModel)
		bb.b.buf = jsonx.AppendString(bb.b.buf, model)
	}
}

// prompt writes "messages" or "prompt": synthetic text of PromptTokens,
// or the spec's own; it returns the prompt length the plan asked for (0
// when the scenario wrote the prompt itself).
func (bb *body) prompt(scenario string, seq int64) int {
	b, s := bb.b, bb.s
	ep := s.Endpoint
	synthetic := s.PromptTokens > 0
	switch {
	case synthetic && ep == request.Chat && !bb.has(fMessages):
		bb.key(fMessages)
		words := b.wordsFor(ep, s.PromptTokens, scenario, seq)
		b.buf = append(b.buf, `[{"role":"user","content":"`...)
		b.appendText(ep, s, scenario, seq, words) // plain ASCII words: no escaping needed
		b.buf = append(b.buf, `"}]`...)
		return s.PromptTokens
	case synthetic && ep == request.Completions && !bb.has(fPrompt):
		bb.key(fPrompt)
		if b.cfg.TokenIDs {
			b.buf = append(b.buf, '[')
			b.appendTokenIDs(s, scenario, seq)
			b.buf = append(b.buf, ']')
		} else {
			words := b.wordsFor(ep, s.PromptTokens, scenario, seq)
			b.buf = append(b.buf, '"')
			b.appendText(ep, s, scenario, seq, words)
			b.buf = append(b.buf, '"')
		}
		return s.PromptTokens
	case !synthetic && ep == request.Chat && !bb.has(fMessages) && (len(s.Messages) > 0 || s.Prompt != ""):
		bb.key(fMessages)
		b.buf = append(b.buf, '[')
		if len(s.Messages) == 0 { // a bare prompt on the chat endpoint is one user message
			b.buf = append(b.buf, `{"role":"user","content":`...)
			b.buf = jsonx.AppendString(b.buf, s.Prompt)
			b.buf = append(b.buf, '}')
		}
		for i := range s.Messages {
			if i > 0 {
				b.buf = append(b.buf, ',')
			}
			b.buf = appendMessage(b.buf, &s.Messages[i])
		}
		b.buf = append(b.buf, ']')
	case !synthetic && ep == request.Completions && !bb.has(fPrompt) && s.Prompt != "":
		bb.key(fPrompt)
		b.buf = jsonx.AppendString(b.buf, s.Prompt)
	}
	return 0
}

// generation writes the length and sampling fields, "stream" and
// "stream_options".
func (bb *body) generation(lim limits) {
	b, s := bb.b, bb.s
	if lim.maxTokens > 0 && !bb.has(fMaxTokens) {
		bb.key(fMaxTokens)
		b.buf = strconv.AppendInt(b.buf, int64(lim.maxTokens), 10)
	}
	if lim.minTokens > 0 && !bb.has(fMinTokens) {
		bb.key(fMinTokens)
		b.buf = strconv.AppendInt(b.buf, int64(lim.minTokens), 10)
	}
	if lim.ignoreEOS && !bb.has(fIgnoreEOS) {
		bb.key(fIgnoreEOS)
		b.buf = append(b.buf, "true"...)
	}
	if s.Temperature != nil && !bb.has(fTemperature) {
		bb.key(fTemperature)
		b.buf, _ = jsonx.AppendFloat(b.buf, *s.Temperature, 64) // validated finite
	}
	if !bb.has(fStream) {
		bb.key(fStream)
		b.buf = append(b.buf, "true"...)
	}
	if !bb.has(fStreamOptions) {
		bb.key(fStreamOptions)
		b.buf = append(b.buf, `{"include_usage":true`...)
		if b.cfg.ContinuousUsage {
			b.buf = append(b.buf, `,"continuous_usage_stats":true`...)
		}
		b.buf = append(b.buf, '}')
	}
}

// extra writes the spec's Extra fields in key order; those that replace a
// length field update lim, so the plan records what is sent.
func (bb *body) extra(lim *limits) error {
	b, s := bb.b, bb.s
	if len(s.Extra) == 0 {
		return nil
	}
	b.keys = b.keys[:0]
	for k := range s.Extra {
		b.keys = append(b.keys, k)
	}
	slices.Sort(b.keys)
	for _, k := range b.keys {
		v := s.Extra[k]
		var err error
		switch k {
		case fMaxTokens:
			lim.maxTokens, err = intField(v, k)
		case fMinTokens:
			lim.minTokens, err = intField(v, k)
		case fIgnoreEOS:
			bv, ok := v.(bool)
			if !ok {
				err = fmt.Errorf("extra field %q must be true or false, got %T", k, v)
			}
			lim.ignoreEOS = bv
		case fMessages, fPrompt:
			if (k == fMessages) == (s.Endpoint == request.Chat) {
				lim.promptTokens = 0 // the scenario supplied the prompt itself
			}
		}
		if err != nil {
			return err
		}
		bb.key(k)
		if b.buf, err = jsonx.AppendValue(b.buf, v); err != nil {
			return fmt.Errorf("extra field %q: %w", k, err)
		}
	}
	return nil
}

// appendMessage appends one chat message in the OpenAI shape:
// {"role", "content"[, "tool_calls"][, "tool_call_id"]}, with a null
// content for an assistant message that only called tools.
func appendMessage(dst []byte, m *Message) []byte {
	dst = append(dst, `{"role":`...)
	dst = jsonx.AppendString(dst, m.Role)
	dst = append(dst, `,"content":`...)
	if m.Content == "" && len(m.ToolCalls) > 0 {
		dst = append(dst, "null"...)
	} else {
		dst = jsonx.AppendString(dst, m.Content)
	}
	if len(m.ToolCalls) > 0 {
		dst = append(dst, `,"tool_calls":[`...)
		for i, c := range m.ToolCalls {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"id":`...)
			dst = jsonx.AppendString(dst, c.ID)
			dst = append(dst, `,"type":"function","function":{"name":`...)
			dst = jsonx.AppendString(dst, c.Name)
			dst = append(dst, `,"arguments":`...)
			dst = jsonx.AppendString(dst, c.Arguments)
			dst = append(dst, "}}"...)
		}
		dst = append(dst, ']')
	}
	if m.ToolCallID != "" {
		dst = append(dst, `,"tool_call_id":`...)
		dst = jsonx.AppendString(dst, m.ToolCallID)
	}
	return append(dst, '}')
}

// Text returns a synthetic chat message of about tokens tokens, from the
// stream of (key, n): the same key and n give the same text within a run
// (the run's prompt seed), different ones unrelated text. Sessions use it
// for the user's turns, which they keep in the conversation. Its length
// follows the chat calibration's slope only: the template overhead is
// paid once per prompt, not per message. Like Build, it must be called
// from one goroutine at a time.
func (b *Builder) Text(tokens int, key string, n int64) string {
	m := prompt.Identity
	if c := b.cals[request.Chat]; c != nil {
		m = c.Model()
	}
	words := prompt.Model{A: m.A}.WordsFor(tokens)
	b.src.Seed(b.cfg.Seed, prompt.StreamID(key, n))
	b.buf = b.src.AppendText(b.buf[:0], words)
	return string(b.buf)
}

// appendText appends the words of a synthetic text prompt: the blocks
// of s.HashIDs, each from its own stream, then the request's own stream
// for the rest.
func (b *Builder) appendText(ep request.Endpoint, s *Spec, scenario string, seq int64, words int) {
	written := 0
	if len(s.HashIDs) > 0 {
		per := b.blockWords(ep, s)
		for _, id := range s.HashIDs {
			if written >= words {
				break
			}
			n := min(per, words-written)
			if written > 0 {
				b.buf = append(b.buf, ' ')
			}
			b.src.Seed(b.cfg.Seed, prompt.BlockStreamID(scenario, id))
			b.buf = b.src.AppendText(b.buf, n)
			written += n
		}
		if written > 0 && written < words {
			b.buf = append(b.buf, ' ')
		}
	}
	b.src.Seed(b.cfg.Seed, prompt.StreamID(scenario, seq))
	b.buf = b.src.AppendText(b.buf, words-written)
}

// appendTokenIDs appends the ids of a synthetic token-id prompt: exactly
// s.PromptTokens, BlockSize per hash id.
func (b *Builder) appendTokenIDs(s *Spec, scenario string, seq int64) {
	n, written := s.PromptTokens, 0
	if len(s.HashIDs) > 0 {
		per := b.blockSize(s)
		for _, id := range s.HashIDs {
			if written >= n {
				break
			}
			k := min(per, n-written)
			if written > 0 {
				b.buf = append(b.buf, ',')
			}
			b.src.Seed(b.cfg.Seed, prompt.BlockStreamID(scenario, id))
			b.buf = b.src.AppendTokenIDs(b.buf, k)
			written += k
		}
		if written > 0 && written < n {
			b.buf = append(b.buf, ',')
		}
	}
	b.src.Seed(b.cfg.Seed, prompt.StreamID(scenario, seq))
	b.buf = b.src.AppendTokenIDs(b.buf, n-written)
}

// blockSize is the tokens per hash id of s.
func (b *Builder) blockSize(s *Spec) int {
	switch {
	case s.BlockSize > 0:
		return s.BlockSize
	case b.cfg.BlockSize > 0:
		return b.cfg.BlockSize
	}
	return DefaultBlockSize
}

// blockWords is the words that make a block of blockSize tokens under the
// endpoint's calibration: its slope only, as the template overhead is paid
// once per prompt, not per block. A slope that changes while a run learns
// changes later blocks' length; their text stays a prefix of the longer
// one, so the cache still sees the shorter block's tokens reused.
func (b *Builder) blockWords(ep request.Endpoint, s *Spec) int {
	m := prompt.Identity
	if c := b.cals[ep]; c != nil {
		m = c.Model()
	}
	return prompt.Model{A: m.A}.WordsFor(b.blockSize(s))
}

func (b *Builder) wordsFor(ep request.Endpoint, tokens int, scenario string, seq int64) int {
	c := b.cals[ep]
	if c == nil {
		return prompt.Identity.WordsFor(tokens)
	}
	w := c.WordsFor(tokens)
	if c.Learning() {
		c.NoteSent(scenario, seq, w)
	}
	return w
}

// mergeHeaders shares a map when only one side has headers (the common
// case, no allocation); both maps are read-only from here on.
func mergeHeaders(run, spec map[string]string) map[string]string {
	switch {
	case len(spec) == 0:
		return run
	case len(run) == 0:
		return spec
	}
	m := make(map[string]string, len(run)+len(spec))
	for k, v := range run {
		m[k] = v
	}
	for k, v := range spec {
		m[k] = v
	}
	return m
}
