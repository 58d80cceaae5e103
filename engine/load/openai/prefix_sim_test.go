package openai_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/stack/sim"
)

// startSim runs the simulated vLLM (the H100 batching profile, which has
// vLLM's automatic prefix caching) on a loopback port.
func startSim(t *testing.T) string {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.Profile = sim.ProfileH100
	srv, err := sim.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// prefixHits scrapes vllm:prefix_cache_hits_total from the server.
func prefixHits(t *testing.T, url string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, "vllm:prefix_cache_hits_total{"); ok {
			v, err := strconv.ParseFloat(rest[strings.IndexByte(rest, '}')+2:], 64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("no vllm:prefix_cache_hits_total in /metrics:\n%s", body)
	return 0
}

// send builds a spec into a plan and streams it to the end.
func send(t *testing.T, b *openai.Builder, seq int64, s openai.Spec) {
	t.Helper()
	p := &request.Plan{Seq: seq, Scenario: "mooncake"}
	if err := b.Build(seq, &s, p); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(p.URL, "application/json", bytes.NewReader(p.Body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("data: [DONE]")) {
		t.Fatalf("status %d, %v: %.300s", resp.StatusCode, err, body)
	}
}

// TestMooncakePrefixReuseOnSimulator replays Mooncake-shaped rows against
// the simulator: rows that share leading hash ids hit its prefix cache for
// exactly the shared blocks, and the same rows without hash ids do not.
func TestMooncakePrefixReuseOnSimulator(t *testing.T) {
	url := startSim(t)
	b, err := openai.NewBuilder(openai.BuilderConfig{BaseURL: url, Model: sim.DefaultConfig().Model, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		input int
		ids   []int
	}{
		{1300, []int{0, 1, 2}},
		{1400, []int{0, 1, 3}}, // shares blocks 0 and 1 (1024 tokens) with the first row
		{900, []int{0, 4}},     // shares block 0 (512 tokens)
		{700, []int{5, 6}},     // shares nothing
	}
	spec := func(i int, withIDs bool) openai.Spec {
		s := openai.Spec{Endpoint: request.Chat, PromptTokens: rows[i].input, MaxTokens: 2, IgnoreEOS: true}
		if withIDs {
			s.HashIDs = rows[i].ids
		}
		return s
	}

	before := prefixHits(t, url)
	for i := range rows {
		send(t, b, int64(i), spec(i, false))
	}
	if h := prefixHits(t, url) - before; h != 0 {
		t.Fatalf("%v prefix cache hits without hash ids; synthetic prompts must not share prefixes", h)
	}

	before = prefixHits(t, url)
	for i := range rows {
		send(t, b, int64(10+i), spec(i, true))
	}
	// The simulator, like vLLM, caches whole 16-token blocks. The shared
	// prompt prefix is the chat template's 4 leading tokens plus the
	// shared hash blocks: 1028 tokens (64 cache blocks) for the second row
	// and 516 (32 blocks) for the third.
	if h := prefixHits(t, url) - before; h != 1024+512 {
		t.Fatalf("prefix cache hits rose by %v, want %d", h, 1024+512)
	}
}
