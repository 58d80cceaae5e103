// Package openai builds OpenAI-compatible request bodies (chat completions
// and completions) from a Spec, with synthetic prompts of a requested token
// length. Response decoding lives with the client, which streams it.
package openai

import "github.com/llmload/llmload/engine/load/request"

// Message is one chat message. An assistant message that called tools
// carries ToolCalls (its Content may be empty: it is then sent as null);
// the answer to a call is a "tool" message naming the call in ToolCallID.
type Message struct {
	Role       string             `json:"role"`
	Content    string             `json:"content"`
	ToolCalls  []request.ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string             `json:"tool_call_id,omitempty"`
}

// Spec is what a scenario asks for, before it is turned into bytes. The
// scripting layer produces Specs (from llm.chat{...} / llm.completion{...});
// a Builder turns them into request.Plans. A Spec is a plain value: it is
// not shared between goroutines once handed over.
type Spec struct {
	Endpoint request.Endpoint
	Model    string // per-request model override; "" = the run's --model

	// Prompt: exactly one of PromptTokens (synthesise a unique prompt of
	// that many tokens), Messages (chat) or Prompt (completions) is used;
	// PromptTokens wins when > 0.
	PromptTokens int
	Messages     []Message
	Prompt       string

	// HashIDs build a synthetic prompt (PromptTokens > 0) from shared
	// blocks, as Mooncake traces record prefix reuse: the k-th BlockSize
	// tokens of the prompt are the text of block HashIDs[k], the same text
	// in every request of the scenario that names the id, so prompts with
	// the same leading ids share a prefix the server can cache. The last
	// block may be partial; tokens past the blocks are unique to the
	// request, and blocks past PromptTokens are not sent.
	HashIDs []int
	// BlockSize is the prompt tokens per hash id; 0 means the builder's
	// (BuilderConfig.BlockSize, default DefaultBlockSize).
	BlockSize int

	MaxTokens   int      // 0 = server default
	MinTokens   int      // 0 = unset
	IgnoreEOS   bool     // vLLM extension: generate exactly MaxTokens
	Temperature *float64 // nil = server default

	// Extra fields merged into the top level of the JSON body (they win
	// over generated ones), e.g. {"top_p": 0.9}. Values must be
	// JSON-encodable (string, float64, bool, nil, []any, map[string]any).
	Extra map[string]any

	Headers map[string]string // extra HTTP headers
	Tags    map[string]string // free-form tags copied to the Result
}
