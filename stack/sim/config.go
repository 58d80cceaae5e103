package sim

import (
	"flag"
	"fmt"
	"time"
)

// Profiles the simulator can run.
const (
	ProfileH100  = "h100-llama3-8b" // continuous batching, calibrated step times
	ProfileFixed = "fixed"          // constant TTFT and ITL per request
)

// Config configures a simulated server. The zero value is not valid; start
// from DefaultConfig (or RegisterFlags) and override fields.
type Config struct {
	Model               string        // served model name
	Profile             string        // ProfileH100 or ProfileFixed
	TTFT, ITL           time.Duration // ProfileFixed: first token at receipt+TTFT, then one every ITL
	MaxNumSeqs          int           // running requests at most
	MaxNumBatchedTokens int           // tokens per engine step (chunked prefill budget)
	BlockSize           int           // tokens per KV block
	NumGPUBlocks        int           // KV capacity in blocks
	MaxModelLen         int           // prompt + max_tokens at most; longer requests get a 400
	PrefixCaching       bool          // automatic prefix caching (vLLM V1 default: on)
	Seed                int64         // seeds generated text, tool calls and stop lengths
	ToolCallRate        float64       // chance that a chat request with tools is answered with tool calls
	ToolCallsMax        int           // parallel tool calls in one answer at most
	ToolArgsTokens      int           // tokens of each tool call's arguments
	Faults              []Fault       // misbehaviours on some requests (--fault); none by default
}

// DefaultNumGPUBlocks is the KV capacity vLLM finds for Llama-3.1-8B (BF16)
// on an 80 GB H100 at --gpu-memory-utilization 0.9: 0.9 x 79.2 GiB minus
// 15.0 GiB of weights and ~4 GiB of activations and CUDA graphs leaves
// ~52 GiB, at 128 KiB of K+V per token = 425,984 tokens in 16-token blocks.
const DefaultNumGPUBlocks = 26624

// DefaultConfig returns the configuration of `llmload sim` without flags.
func DefaultConfig() Config {
	return Config{
		Model:               "meta-llama/Llama-3.1-8B-Instruct",
		Profile:             ProfileH100,
		TTFT:                50 * time.Millisecond,
		ITL:                 10 * time.Millisecond,
		MaxNumSeqs:          256,
		MaxNumBatchedTokens: 8192,
		BlockSize:           16,
		NumGPUBlocks:        DefaultNumGPUBlocks,
		MaxModelLen:         131072,
		PrefixCaching:       true,
		Seed:                0,
		ToolCallRate:        0.5,
		ToolCallsMax:        1,
		ToolArgsTokens:      24,
	}
}

// RegisterFlags defines the simulator's flags on fs, with DefaultConfig's
// values as defaults, and returns the Config they fill in when fs is parsed.
func RegisterFlags(fs *flag.FlagSet) *Config {
	c := DefaultConfig()
	fs.StringVar(&c.Model, "model", c.Model, "served model name (the `model` clients must send)")
	fs.StringVar(&c.Profile, "profile", c.Profile, "timing profile: "+ProfileH100+" (continuous batching calibrated to Llama-3.1-8B on one H100) or "+ProfileFixed+" (constant --ttft and --itl)")
	fs.DurationVar(&c.TTFT, "ttft", c.TTFT, "profile fixed: time from request receipt to the first token")
	fs.DurationVar(&c.ITL, "itl", c.ITL, "profile fixed: time between tokens")
	fs.IntVar(&c.MaxNumSeqs, "max-num-seqs", c.MaxNumSeqs, "profile "+ProfileH100+": running requests at most")
	fs.IntVar(&c.MaxNumBatchedTokens, "max-num-batched-tokens", c.MaxNumBatchedTokens, "profile "+ProfileH100+": tokens per engine step (chunked prefill budget)")
	fs.IntVar(&c.BlockSize, "block-size", c.BlockSize, "profile "+ProfileH100+": tokens per KV cache block")
	fs.IntVar(&c.NumGPUBlocks, "num-gpu-blocks", c.NumGPUBlocks, "profile "+ProfileH100+": KV cache capacity in blocks")
	fs.IntVar(&c.MaxModelLen, "max-model-len", c.MaxModelLen, "longest prompt + max_tokens accepted; longer requests get HTTP 400")
	fs.BoolVar(&c.PrefixCaching, "enable-prefix-caching", c.PrefixCaching, "profile "+ProfileH100+": automatic prefix caching")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "seed for generated text, tool calls and natural stop lengths (same seed and request body: same answer)")
	fs.Float64Var(&c.ToolCallRate, "tool-call-rate", c.ToolCallRate, "chance (0..1) that a chat request with tools and tool_choice auto is answered with tool calls instead of text")
	fs.IntVar(&c.ToolCallsMax, "tool-calls-max", c.ToolCallsMax, "parallel tool calls in one answer at most (each answer makes 1 to this many, from the seed)")
	fs.IntVar(&c.ToolArgsTokens, "tool-args-tokens", c.ToolArgsTokens, "tokens of each tool call's arguments (a JSON object string); at least 2")
	fs.Var(faultFlag{&c.Faults}, "fault", "misbehave on some requests: `MODE[:PARAM][@FRACTION]`, repeatable (modes: "+faultModeList()+"; see docs/faults.md)")
	return &c
}

// Validate reports the first invalid setting, naming its flag.
func (c Config) Validate() error {
	switch {
	case c.Model == "":
		return fmt.Errorf("--model must not be empty")
	case c.Profile != ProfileH100 && c.Profile != ProfileFixed:
		return fmt.Errorf("--profile %q is unknown: use %s or %s", c.Profile, ProfileH100, ProfileFixed)
	case c.TTFT < 0:
		return fmt.Errorf("--ttft must not be negative, got %v", c.TTFT)
	case c.ITL < 0:
		return fmt.Errorf("--itl must not be negative, got %v", c.ITL)
	case c.MaxModelLen < 2:
		return fmt.Errorf("--max-model-len must be at least 2 (one prompt and one output token), got %d", c.MaxModelLen)
	case c.MaxNumSeqs < 1:
		return fmt.Errorf("--max-num-seqs must be at least 1, got %d", c.MaxNumSeqs)
	case c.MaxNumBatchedTokens < c.MaxNumSeqs:
		return fmt.Errorf("--max-num-batched-tokens (%d) must be at least --max-num-seqs (%d) so that every running sequence can decode in one step", c.MaxNumBatchedTokens, c.MaxNumSeqs)
	case c.BlockSize < 1:
		return fmt.Errorf("--block-size must be at least 1, got %d", c.BlockSize)
	case c.NumGPUBlocks < 1:
		return fmt.Errorf("--num-gpu-blocks must be at least 1, got %d", c.NumGPUBlocks)
	case !(c.ToolCallRate >= 0 && c.ToolCallRate <= 1):
		return fmt.Errorf("--tool-call-rate must be a probability between 0 and 1, got %v", c.ToolCallRate)
	case c.ToolCallsMax < 1:
		return fmt.Errorf("--tool-calls-max must be at least 1, got %d", c.ToolCallsMax)
	case c.ToolArgsTokens < 2:
		return fmt.Errorf(`--tool-args-tokens must be at least 2 (the {"key": piece and one word), got %d`, c.ToolArgsTokens)
	}
	for _, f := range c.Faults {
		if _, ok := faultModes[f.Mode]; !ok || !(f.Fraction > 0 && f.Fraction <= 1) || f.Dur < 0 || f.N < 0 || f.N > maxOversized {
			return fmt.Errorf("--fault %s: unknown mode or a parameter out of range (see docs/faults.md)", f)
		}
	}
	if c.Profile == ProfileH100 {
		if capTokens := int64(c.NumGPUBlocks) * int64(c.BlockSize); int64(c.MaxModelLen) > capTokens {
			return fmt.Errorf("--max-model-len (%d) exceeds the KV cache (--num-gpu-blocks %d x --block-size %d = %d tokens), so one request could never fit: lower --max-model-len or raise --num-gpu-blocks",
				c.MaxModelLen, c.NumGPUBlocks, c.BlockSize, capTokens)
		}
	}
	return nil
}
