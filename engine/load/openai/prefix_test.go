package openai

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/llmload/llmload/engine/load/prompt"
	"github.com/llmload/llmload/engine/load/request"
)

// promptWords builds s (scenario "sc") and returns the words of its
// synthetic chat or text-completion prompt.
func promptWords(t *testing.T, b *Builder, seq int64, s Spec) []string {
	t.Helper()
	_, body := build(t, b, seq, s)
	var text string
	if s.Endpoint == request.Chat {
		text = body["messages"].([]any)[0].(map[string]any)["content"].(string)
	} else {
		text = body["prompt"].(string)
	}
	if strings.Contains(text, "  ") || strings.HasPrefix(text, " ") || strings.HasSuffix(text, " ") {
		t.Fatalf("prompt words not joined by single spaces: %q", text)
	}
	return strings.Fields(text)
}

// sharedWords is the length of the common leading run of a and b.
func sharedWords(a, b []string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func TestHashIDsSharePrefix(t *testing.T) {
	const bs = 16
	b := newBuilder(t, BuilderConfig{Seed: 3, BlockSize: bs})
	for _, ep := range []request.Endpoint{request.Chat, request.Completions} {
		t.Run(ep.String(), func(t *testing.T) {
			a := promptWords(t, b, 0, Spec{Endpoint: ep, PromptTokens: 3 * bs, HashIDs: []int{1, 2, 3}})
			c := promptWords(t, b, 1, Spec{Endpoint: ep, PromptTokens: 3 * bs, HashIDs: []int{1, 2, 4}})
			if len(a) != 3*bs || len(c) != 3*bs {
				t.Fatalf("%d and %d words, want %d", len(a), len(c), 3*bs)
			}
			// Exactly the two shared blocks match, byte for byte.
			if n := sharedWords(a, c); n != 2*bs {
				t.Fatalf("prompts share %d words, want the %d of blocks 1 and 2", n, 2*bs)
			}
			prefix := strings.Join(a[:2*bs], " ") + " "
			if !strings.HasPrefix(strings.Join(c, " "), prefix) {
				t.Fatal("the shared blocks are not a byte prefix of both prompts")
			}
			// A different first id shares nothing.
			d := promptWords(t, b, 2, Spec{Endpoint: ep, PromptTokens: 3 * bs, HashIDs: []int{5, 2, 3}})
			if n := sharedWords(a, d); n != 0 {
				t.Fatalf("prompts with different first ids share %d words", n)
			}
			// Ids name blocks, not positions: block 3 is the same text as
			// the third block of a and as the first block of e.
			e := promptWords(t, b, 3, Spec{Endpoint: ep, PromptTokens: bs, HashIDs: []int{3}})
			if !slices.Equal(e, a[2*bs:]) {
				t.Fatal("block 3 differs between positions")
			}
			// The same ids without blocks are unrelated text.
			f := promptWords(t, b, 0, Spec{Endpoint: ep, PromptTokens: 3 * bs})
			if n := sharedWords(a, f); n != 0 {
				t.Fatalf("a prompt without hash ids shares %d words with one with them", n)
			}
		})
	}
}

func TestHashIDsPartialBlocksAndTail(t *testing.T) {
	const bs = 16
	b := newBuilder(t, BuilderConfig{Seed: 3}) // block size from the spec
	full := promptWords(t, b, 0, Spec{Endpoint: request.Chat, PromptTokens: 2 * bs, HashIDs: []int{7, 8}, BlockSize: bs})
	// The last block partial (Mooncake: input_length not a multiple of the
	// block size): a prefix of the full block's text.
	part := promptWords(t, b, 1, Spec{Endpoint: request.Chat, PromptTokens: bs + 5, HashIDs: []int{7, 8}, BlockSize: bs})
	if len(part) != bs+5 || !slices.Equal(part, full[:bs+5]) {
		t.Fatalf("partial block: %d words, sharing %d with the full one", len(part), sharedWords(part, full))
	}
	// More tokens than the blocks cover: the rest is unique per request.
	long1 := promptWords(t, b, 2, Spec{Endpoint: request.Chat, PromptTokens: 2*bs + 10, HashIDs: []int{7, 8}, BlockSize: bs})
	long2 := promptWords(t, b, 3, Spec{Endpoint: request.Chat, PromptTokens: 2*bs + 10, HashIDs: []int{7, 8}, BlockSize: bs})
	if len(long1) != 2*bs+10 || sharedWords(long1, long2) != 2*bs || !slices.Equal(long1[:2*bs], full) {
		t.Fatalf("tail: %d words, %d shared", len(long1), sharedWords(long1, long2))
	}
	// Fewer tokens than one block: only that block's first words.
	short := promptWords(t, b, 4, Spec{Endpoint: request.Chat, PromptTokens: 3, HashIDs: []int{7, 8}, BlockSize: bs})
	if !slices.Equal(short, full[:3]) {
		t.Fatalf("short prompt %v, want %v", short, full[:3])
	}
	// Scenarios and run seeds have their own blocks.
	p := &request.Plan{Scenario: "other"}
	if err := b.Build(0, &Spec{Endpoint: request.Chat, PromptTokens: bs, HashIDs: []int{7}, BlockSize: bs}, p); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(p.Body), strings.Join(full[:4], " ")) {
		t.Fatal("another scenario got the same block text")
	}
	other := newBuilder(t, BuilderConfig{Seed: 4})
	if n := sharedWords(full, promptWords(t, other, 0, Spec{Endpoint: request.Chat, PromptTokens: 2 * bs, HashIDs: []int{7, 8}, BlockSize: bs})); n != 0 {
		t.Fatalf("another seed shares %d words", n)
	}
}

// TestHashIDsCalibrated: with a tokenizer that splits words (2 tokens per
// word), a block of 512 tokens is 256 words, and the template overhead is
// left out of the blocks.
func TestHashIDsCalibrated(t *testing.T) {
	cal := prompt.NewFixed(request.Chat, prompt.Model{A: 2, B: 8})
	b := newBuilder(t, BuilderConfig{Seed: 1}, cal)
	a := promptWords(t, b, 0, Spec{Endpoint: request.Chat, PromptTokens: 1400, HashIDs: []int{0, 1, 2}})
	c := promptWords(t, b, 1, Spec{Endpoint: request.Chat, PromptTokens: 1400, HashIDs: []int{0, 1, 9}})
	if want := cal.WordsFor(1400); len(a) != want {
		t.Fatalf("%d words, want %d", len(a), want)
	}
	if n := sharedWords(a, c); n != 2*256 {
		t.Fatalf("share %d words, want 512 (two blocks of 256 words)", n)
	}
}

func TestHashIDsTokenIDs(t *testing.T) {
	const bs = 32
	b := newBuilder(t, BuilderConfig{Seed: 5, TokenIDs: true, BlockSize: bs})
	ids := func(seq int64, s Spec) []string {
		_, body := build(t, b, seq, s)
		list := body["prompt"].([]any)
		out := make([]string, len(list))
		for i, v := range list {
			id := int(v.(float64))
			if id < prompt.MinTokenID || id > prompt.MaxTokenID {
				t.Fatalf("token id %d out of range", id)
			}
			out[i] = strconv.Itoa(id)
		}
		return out
	}
	a := ids(0, Spec{Endpoint: request.Completions, PromptTokens: 2*bs + 7, HashIDs: []int{1, 2, 3}})
	c := ids(1, Spec{Endpoint: request.Completions, PromptTokens: 3*bs + 1, HashIDs: []int{1, 2, 4}})
	if len(a) != 2*bs+7 || len(c) != 3*bs+1 {
		t.Fatalf("%d and %d ids, want exact lengths", len(a), len(c))
	}
	if n := sharedWords(a, c); n != 2*bs {
		t.Fatalf("share %d ids, want %d", n, 2*bs)
	}
}

func TestHashIDsErrors(t *testing.T) {
	b := newBuilder(t, BuilderConfig{})
	for _, tc := range []struct {
		s    Spec
		want string
	}{
		{Spec{Endpoint: request.Chat, Messages: []Message{{Role: "user", Content: "x"}}, HashIDs: []int{1}}, "hash_ids need prompt_tokens"},
		{Spec{Endpoint: request.Chat, PromptTokens: 5, BlockSize: -1}, "block_size must be >= 0"},
	} {
		if err := b.Build(0, &tc.s, &request.Plan{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.s, err, tc.want)
		}
	}
}

// BenchmarkBuildHashIDs is BenchmarkBuild for a Mooncake row: 6758
// prompt tokens from 14 hash-id blocks, as text and as token ids.
func BenchmarkBuildHashIDs(b *testing.B) {
	ids := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
	for _, tokenIDs := range []bool{false, true} {
		name, ep := "chat", request.Chat
		if tokenIDs {
			name, ep = "completions-ids", request.Completions
		}
		b.Run(name, func(b *testing.B) {
			bl, err := NewBuilder(BuilderConfig{BaseURL: "http://127.0.0.1:8000", Model: "m", Seed: 1, TokenIDs: tokenIDs},
				prompt.NewOnline(request.Chat, prompt.Model{A: 1, B: 8}))
			if err != nil {
				b.Fatal(err)
			}
			s := Spec{Endpoint: ep, PromptTokens: 6758, MaxTokens: 500, IgnoreEOS: true, HashIDs: ids}
			var p request.Plan
			if err := bl.Build(0, &s, &p); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(p.Body)))
			b.ReportAllocs()
			seq := int64(0)
			for b.Loop() {
				seq++
				if err := bl.Build(seq, &s, &p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.PromptTokens), "ns/token")
		})
	}
}
