package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// apiError is an error answered with vLLM's error object:
// {"error":{"message":...,"type":...,"param":null,"code":status}}.
type apiError struct {
	status int
	typ    string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// vLLM names request-level errors BadRequestError and body validation
// failures by the HTTP phrase.
func badRequest(format string, args ...any) *apiError {
	return &apiError{400, "BadRequestError", fmt.Sprintf(format, args...)}
}

func invalidBody(format string, args ...any) *apiError {
	return &apiError{400, "Bad Request", fmt.Sprintf(format, args...)}
}

func modelNotFound(model string) *apiError {
	return &apiError{404, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", model)}
}

func appendError(dst []byte, e *apiError) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = appendJSONString(dst, e.msg)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, e.typ)
	dst = append(dst, `,"param":null,"code":`...)
	dst = strconv.AppendInt(dst, int64(e.status), 10)
	return append(dst, "}}"...)
}

func appendJSONString(dst []byte, s string) []byte {
	b, err := json.Marshal(s)
	if err != nil { // cannot happen for a string
		return append(dst, `""`...)
	}
	return append(dst, b...)
}

// rawMessage is a chat message as sent; content is a string, null or an
// array of content parts. An assistant message may carry tool_calls; a tool
// message's tool_call_id is not part of the template and is not read.
type rawMessage struct {
	Role      *string         `json:"role"`
	Content   json.RawMessage `json:"content"`
	ToolCalls json.RawMessage `json:"tool_calls"`
}

type rawStreamOptions struct {
	IncludeUsage         json.RawMessage `json:"include_usage"`
	ContinuousUsageStats *bool           `json:"continuous_usage_stats"`
}

// rawRequest is the union of the fields the simulator reads from chat,
// completion and tokenize requests; everything else is ignored, as vLLM
// ignores (and logs) unknown fields.
type rawRequest struct {
	Model               *string           `json:"model"`
	Messages            json.RawMessage   `json:"messages"`
	Prompt              json.RawMessage   `json:"prompt"`
	MaxTokens           *int              `json:"max_tokens"`
	MaxCompletionTokens *int              `json:"max_completion_tokens"`
	MinTokens           *int              `json:"min_tokens"`
	IgnoreEOS           *bool             `json:"ignore_eos"`
	Stream              *bool             `json:"stream"`
	StreamOptions       *rawStreamOptions `json:"stream_options"`
	N                   *int              `json:"n"`
	AddGenerationPrompt *bool             `json:"add_generation_prompt"`
	AddSpecialTokens    *bool             `json:"add_special_tokens"`
	Tools               json.RawMessage   `json:"tools"`
	ToolChoice          json.RawMessage   `json:"tool_choice"`
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func decodeBody(body []byte) (*rawRequest, *apiError) {
	var r rawRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalidBody("request body is empty: send a JSON object")
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, invalidBody("invalid JSON body: %v", err)
	}
	return &r, nil
}

func parseMessages(raw json.RawMessage) ([]message, *apiError) {
	var ms []rawMessage
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, invalidBody("messages: must be an array of message objects: %v", err)
	}
	out := make([]message, len(ms))
	for i, m := range ms {
		if m.Role == nil {
			return nil, invalidBody("messages[%d].role: field required", i)
		}
		out[i].role = *m.Role
		var aerr *apiError
		if out[i].toolCalls, aerr = parseSentToolCalls(m.ToolCalls, i); aerr != nil {
			return nil, aerr
		}
		c := bytes.TrimSpace(m.Content)
		switch {
		case isNull(c):
		case c[0] == '"':
			var s string
			if err := json.Unmarshal(c, &s); err != nil {
				return nil, invalidBody("messages[%d].content: %v", i, err)
			}
			out[i].parts = []string{s}
		case c[0] == '[':
			var parts []struct {
				Type string  `json:"type"`
				Text *string `json:"text"`
			}
			if err := json.Unmarshal(c, &parts); err != nil {
				return nil, invalidBody("messages[%d].content: must be a string or an array of content parts: %v", i, err)
			}
			for _, p := range parts {
				if p.Type == "text" && p.Text != nil {
					out[i].parts = append(out[i].parts, *p.Text)
				}
			}
		default:
			return nil, invalidBody("messages[%d].content: must be a string, null or an array of content parts", i)
		}
	}
	return out, nil
}

// parseChat reads a chat request's messages, tools and tool_choice.
func parseChat(r *rawRequest) ([]message, []toolDef, toolChoice, *apiError) {
	msgs, aerr := parseMessages(r.Messages)
	if aerr != nil {
		return nil, nil, toolChoice{}, aerr
	}
	tools, aerr := parseTools(r.Tools)
	if aerr != nil {
		return nil, nil, toolChoice{}, aerr
	}
	choice, aerr := parseToolChoice(r.ToolChoice, tools)
	return msgs, tools, choice, aerr
}

// prompt is a completion prompt: text or token ids.
type prompt struct {
	text   string
	ids    []int32
	isText bool
}

func parsePrompt(raw json.RawMessage) (prompt, *apiError) {
	t := bytes.TrimSpace(raw)
	if isNull(t) {
		return prompt{}, invalidBody("At least one of `prompt` or `prompt_embeds` must be set.")
	}
	switch t[0] {
	case '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return prompt{}, invalidBody("prompt: %v", err)
		}
		return prompt{text: s, isText: true}, nil
	case '[':
		var ids []int64
		if err := json.Unmarshal(t, &ids); err == nil {
			return idsPrompt(ids)
		}
		var texts []string
		if err := json.Unmarshal(t, &texts); err == nil {
			if len(texts) != 1 {
				return prompt{}, batchPrompt(len(texts))
			}
			return prompt{text: texts[0], isText: true}, nil
		}
		var lists [][]int64
		if err := json.Unmarshal(t, &lists); err == nil {
			if len(lists) != 1 {
				return prompt{}, batchPrompt(len(lists))
			}
			return idsPrompt(lists[0])
		}
	}
	return prompt{}, invalidBody("prompt: must be a string, a list of token ids, or a list holding one of those")
}

func batchPrompt(n int) *apiError {
	return badRequest("the simulator serves one prompt per request, got %d prompts: send them as separate requests", n)
}

func idsPrompt(ids []int64) (prompt, *apiError) {
	if len(ids) == 0 {
		return prompt{}, badRequest("The prompt cannot be empty.")
	}
	out := make([]int32, len(ids))
	for i, id := range ids {
		if id < 0 || id >= vocabSize {
			return prompt{}, badRequest("Token id %d is out of vocabulary (ids are 0 to %d).", id, vocabSize-1)
		}
		out[i] = int32(id)
	}
	return prompt{ids: out}, nil
}

// genRequest is a validated chat or completion request.
type genRequest struct {
	chat            bool
	stream          bool
	includeUsage    bool
	continuousUsage bool
	maxTokens       int
	minTokens       int
	ignoreEOS       bool
	promptTokens    int
	promptIDs       []int32 // nil unless asked for (the batching engine hashes them)
	tools           []toolDef
	toolChoice      toolChoice
}

// parseGenerate validates a chat (chat == true) or completion request body
// for a server with cfg; ids asks for the prompt's token ids.
func parseGenerate(body []byte, chat, ids bool, cfg *Config) (*genRequest, *apiError) {
	r, aerr := decodeBody(body)
	if aerr != nil {
		return nil, aerr
	}
	g := &genRequest{chat: chat}
	if r.Stream != nil {
		g.stream = *r.Stream
	}
	if r.N != nil && *r.N != 1 {
		return nil, badRequest("n must be 1: the simulator generates one choice per request, got %d", *r.N)
	}
	if r.StreamOptions != nil {
		if !g.stream {
			return nil, invalidBody("Stream options can only be defined when `stream=True`.")
		}
		// vLLM's StreamOptions defaults include_usage to true.
		g.includeUsage = true
		if len(r.StreamOptions.IncludeUsage) > 0 {
			if isNull(r.StreamOptions.IncludeUsage) {
				g.includeUsage = false
			} else if err := json.Unmarshal(r.StreamOptions.IncludeUsage, &g.includeUsage); err != nil {
				return nil, invalidBody("stream_options.include_usage: %v", err)
			}
		}
		g.continuousUsage = g.includeUsage && r.StreamOptions.ContinuousUsageStats != nil && *r.StreamOptions.ContinuousUsageStats
	}
	if r.IgnoreEOS != nil {
		g.ignoreEOS = *r.IgnoreEOS
	}
	if r.MinTokens != nil {
		if *r.MinTokens < 0 {
			return nil, badRequest("min_tokens must be greater than or equal to 0, got %d.", *r.MinTokens)
		}
		g.minTokens = *r.MinTokens
	}
	maxTok := r.MaxTokens
	if r.MaxCompletionTokens != nil {
		maxTok = r.MaxCompletionTokens
	}
	if maxTok != nil && *maxTok < 1 {
		return nil, badRequest("max_tokens must be at least 1, got %d.", *maxTok)
	}

	var p prompt
	var msgs []message
	if chat {
		if isNull(r.Messages) {
			return nil, invalidBody("messages: field required")
		}
		var aerr *apiError
		if msgs, g.tools, g.toolChoice, aerr = parseChat(r); aerr != nil {
			return nil, aerr
		}
	} else {
		var aerr *apiError
		if p, aerr = parsePrompt(r.Prompt); aerr != nil {
			return nil, aerr
		}
	}
	if r.Model != nil && *r.Model != "" && *r.Model != cfg.Model {
		return nil, modelNotFound(*r.Model)
	}

	switch {
	case chat:
		gen := r.AddGenerationPrompt == nil || *r.AddGenerationPrompt
		g.promptIDs, g.promptTokens = chatTokens(g.tools, msgs, gen, ids)
	case p.isText:
		bos := r.AddSpecialTokens == nil || *r.AddSpecialTokens
		if ids {
			if bos {
				g.promptIDs = append(g.promptIDs, tokBOS)
			}
			g.promptIDs = appendText(g.promptIDs, p.text)
			g.promptTokens = len(g.promptIDs)
		} else {
			g.promptTokens = countText(p.text)
			if bos {
				g.promptTokens++
			}
		}
	default:
		g.promptIDs, g.promptTokens = p.ids, len(p.ids)
	}

	where := "in the messages"
	if !chat {
		where = "in the prompt"
	}
	if g.promptTokens == 0 {
		return nil, badRequest("The prompt cannot be empty.")
	}
	if g.promptTokens >= cfg.MaxModelLen {
		return nil, badRequest("This model's maximum context length is %d tokens. However, your request has %d input tokens (%s). Please reduce the length of the input.",
			cfg.MaxModelLen, g.promptTokens, where)
	}
	if maxTok == nil {
		g.maxTokens = cfg.MaxModelLen - g.promptTokens
	} else {
		g.maxTokens = *maxTok
	}
	if g.promptTokens+g.maxTokens > cfg.MaxModelLen {
		return nil, badRequest("This model's maximum context length is %d tokens. However, you requested %d tokens (%d %s, %d in the completion). Please reduce the length of the messages or completion.",
			cfg.MaxModelLen, g.promptTokens+g.maxTokens, g.promptTokens, where, g.maxTokens)
	}
	if g.minTokens > g.maxTokens {
		return nil, badRequest("min_tokens must be less than or equal to max_tokens=%d, got %d.", g.maxTokens, g.minTokens)
	}
	return g, nil
}

// parseTokenize validates a /tokenize body: {"prompt": text} or
// {"messages": [...]}, with vLLM's add_special_tokens and
// add_generation_prompt defaults.
func parseTokenize(body []byte, cfg *Config) ([]int32, *apiError) {
	r, aerr := decodeBody(body)
	if aerr != nil {
		return nil, aerr
	}
	var msgs []message
	var tools []toolDef
	chat := !isNull(r.Messages)
	if chat {
		if msgs, tools, _, aerr = parseChat(r); aerr != nil {
			return nil, aerr
		}
	} else if isNull(r.Prompt) {
		return nil, invalidBody("either prompt or messages is required")
	}
	var text string
	if !chat {
		if err := json.Unmarshal(r.Prompt, &text); err != nil {
			return nil, invalidBody("prompt: must be a string: %v", err)
		}
	}
	if r.Model != nil && *r.Model != "" && *r.Model != cfg.Model {
		return nil, modelNotFound(*r.Model)
	}
	if chat {
		gen := r.AddGenerationPrompt == nil || *r.AddGenerationPrompt
		ids, _ := chatTokens(tools, msgs, gen, true)
		// The template already starts with BOS; add_special_tokens (default
		// false for chat) would add another one.
		if r.AddSpecialTokens != nil && *r.AddSpecialTokens {
			ids = append([]int32{tokBOS}, ids...)
		}
		return ids, nil
	}
	var ids []int32
	if r.AddSpecialTokens == nil || *r.AddSpecialTokens {
		ids = append(ids, tokBOS)
	}
	return appendText(ids, text), nil
}
