package sim

import (
	"flag"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRegisterFlags(t *testing.T) {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	c := RegisterFlags(fs)
	if !reflect.DeepEqual(*c, DefaultConfig()) {
		t.Fatalf("defaults %+v, want %+v", *c, DefaultConfig())
	}
	err := fs.Parse([]string{"--model", "m", "--profile", "fixed", "--ttft", "5ms", "--itl", "2ms", "--max-num-seqs", "8",
		"--max-num-batched-tokens", "512", "--block-size", "32", "--num-gpu-blocks", "100", "--max-model-len", "3200",
		"--seed", "9", "--enable-prefix-caching=false", "--tool-call-rate", "0.25", "--tool-calls-max", "3", "--tool-args-tokens", "40"})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Model: "m", Profile: "fixed", TTFT: 5 * time.Millisecond, ITL: 2 * time.Millisecond, MaxNumSeqs: 8,
		MaxNumBatchedTokens: 512, BlockSize: 32, NumGPUBlocks: 100, MaxModelLen: 3200, Seed: 9,
		ToolCallRate: 0.25, ToolCallsMax: 3, ToolArgsTokens: 40}
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("parsed %+v, want %+v", *c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	for _, c := range []struct {
		mod  func(*Config)
		flag string
	}{
		{func(c *Config) { c.Model = "" }, "--model"},
		{func(c *Config) { c.Profile = "a100" }, "--profile"},
		{func(c *Config) { c.TTFT = -1 }, "--ttft"},
		{func(c *Config) { c.ITL = -1 }, "--itl"},
		{func(c *Config) { c.MaxNumSeqs = 0 }, "--max-num-seqs"},
		{func(c *Config) { c.MaxNumBatchedTokens = 100 }, "--max-num-batched-tokens"},
		{func(c *Config) { c.BlockSize = 0 }, "--block-size"},
		{func(c *Config) { c.NumGPUBlocks = 0 }, "--num-gpu-blocks"},
		{func(c *Config) { c.MaxModelLen = 1 }, "--max-model-len"},
		{func(c *Config) { c.NumGPUBlocks = 10 }, "--max-model-len (131072) exceeds the KV cache"},
		{func(c *Config) { c.ToolCallRate = 1.5 }, "--tool-call-rate"},
		{func(c *Config) { c.ToolCallRate = math.NaN() }, "--tool-call-rate"},
		{func(c *Config) { c.ToolCallsMax = 0 }, "--tool-calls-max"},
		{func(c *Config) { c.ToolArgsTokens = 1 }, "--tool-args-tokens"},
	} {
		cfg := DefaultConfig()
		c.mod(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("Validate() = %v, want an error naming %s", err, c.flag)
		}
		if _, err := New(cfg, nil); err == nil {
			t.Errorf("New accepted an invalid config (%s)", c.flag)
		}
	}
	// The KV bound only matters to the batching profile.
	cfg := DefaultConfig()
	cfg.Profile, cfg.NumGPUBlocks = ProfileFixed, 10
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
