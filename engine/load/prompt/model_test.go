package prompt

import (
	"math"
	"sync"
	"testing"

	"github.com/llmload/llmload/engine/load/request"
)

func TestWordsFor(t *testing.T) {
	cases := []struct {
		m      Model
		tokens int
		want   int
	}{
		{Identity, 100, 100},
		{Model{A: 1, B: 8}, 100, 92},
		{Model{A: 1, B: 8}, 8, 1}, // nothing left for text: still one word
		{Model{A: 1, B: 8}, 3, 1}, // below the overhead
		{Model{A: 1.3, B: 2}, 132, 100},
		{Model{A: 1.3, B: 2}, 133, 101}, // 100.77 rounds up
		{Model{A: 0.5, B: 0}, 10, 20},
		{Model{A: 0, B: 0}, 10, 10},          // degenerate slope: treated as 1
		{Model{A: math.NaN(), B: 0}, 10, 10}, // ditto
		{Model{A: 1, B: math.NaN()}, 10, 1},
	}
	for _, c := range cases {
		if got := c.m.WordsFor(c.tokens); got != c.want {
			t.Errorf("%+v.WordsFor(%d) = %d, want %d", c.m, c.tokens, got, c.want)
		}
	}
}

func TestFit(t *testing.T) {
	pts := []Point{{64, 64*13/10 + 7}, {512, 512*13/10 + 7}, {2048, 2048*13/10 + 7}}
	m := Fit(pts, Identity)
	if math.Abs(m.A-1.3) > 0.002 || math.Abs(m.B-7) > 0.6 {
		t.Errorf("fit %+v, want about a=1.3 b=7", m)
	}
	// One distinct size: the slope comes from the prior.
	m = Fit([]Point{{100, 110}, {100, 112}}, Identity)
	if m.A != 1 || m.B != 11 {
		t.Errorf("single-size fit %+v, want a=1 b=11", m)
	}
	// A negative slope is not a tokenizer: fall back to the prior's slope.
	m = Fit([]Point{{10, 100}, {100, 10}}, Identity)
	if m.A != 1 {
		t.Errorf("decreasing data fitted slope %v, want the prior's 1", m.A)
	}
	if m := Fit(nil, Model{A: 2, B: 3}); m != (Model{A: 2, B: 3}) {
		t.Errorf("empty fit %+v, want the prior", m)
	}
}

func TestFixedCalibrationIgnoresObservations(t *testing.T) {
	c := NewFixed(request.Chat, Model{A: 1, B: 5})
	c.NoteSent("s", 1, 10)
	c.Observe(&request.Result{Scenario: "s", Seq: 1, PromptTokens: 1000, UsageFromServer: true})
	c.ObserveWords(10, 1000)
	if c.Learning() || c.Model() != (Model{A: 1, B: 5}) {
		t.Fatalf("fixed calibration changed: %+v", c.Model())
	}
	r := c.Report()
	if r.Method != MethodFixed || r.Endpoint != "chat" || r.Samples != 0 {
		t.Errorf("report %+v", r)
	}
}

func TestOnlineLearnsFromPairedObservations(t *testing.T) {
	c := NewOnline(request.Completions, Identity)
	if !c.Learning() {
		t.Fatal("online calibration does not learn")
	}
	// The server counts 1.25 tokens per word plus a BOS token.
	serve := func(words int) int { return words*5/4 + 1 }
	for seq, words := range []int{40, 800, 120, 4000, 16} {
		c.NoteSent("chat-a", int64(seq), words)
	}
	// A result from another scenario with the same seq must not pair.
	c.Observe(&request.Result{Scenario: "chat-b", Seq: 1, PromptTokens: 99999, UsageFromServer: true})
	if got := c.Report().Samples; got != 0 {
		t.Fatalf("observation of another scenario was used: %d samples", got)
	}
	for seq, words := range []int{40, 800, 120, 4000, 16} {
		c.Observe(&request.Result{Scenario: "chat-a", Seq: int64(seq), PromptTokens: serve(words), UsageFromServer: true})
	}
	m := c.Model()
	if math.Abs(m.A-1.25) > 0.001 || math.Abs(m.B-1) > 0.5 {
		t.Fatalf("learned %+v, want a=1.25 b=1", m)
	}
	if w := c.WordsFor(1001); w != 800 {
		t.Errorf("WordsFor(1001) = %d, want 800", w)
	}
	if s := c.String(); s != "usage (completions): tokens = 1.250*words +1.0, 5 samples, max residual 0.0" {
		t.Errorf("String() = %q", s)
	}
	r := c.Report()
	if r.Method != MethodUsage || r.Samples != 5 || len(r.Points) != 5 || r.MaxResidual > 0.5 {
		t.Errorf("report %+v", r)
	}
}

func TestOnlineForgetsOverwrittenRequests(t *testing.T) {
	c := NewOnline(request.Chat, Identity)
	c.NoteSent("s", 3, 100)
	c.NoteSent("s", 3+ringSize, 200)                                                            // same slot, later request
	c.Observe(&request.Result{Scenario: "s", Seq: 3, PromptTokens: 108, UsageFromServer: true}) // too old: its slot was reused
	if n := c.Report().Samples; n != 0 {
		t.Fatalf("a forgotten request was paired (%d samples)", n)
	}
	c.Observe(&request.Result{Scenario: "s", Seq: 3 + ringSize, PromptTokens: 208, UsageFromServer: true})
	if n := c.Report().Samples; n != 1 {
		t.Fatalf("the live request was not paired (%d samples)", n)
	}
	if m := c.Model(); m.A != 1 || m.B != 8 {
		t.Errorf("one observation gave %+v, want the prior slope and b=8", m)
	}
	// Not synthetic (never noted), no usage, or counts not from the server: ignored.
	c.Observe(&request.Result{Scenario: "s", Seq: 5, PromptTokens: 50, UsageFromServer: true})
	c.Observe(&request.Result{Scenario: "s", Seq: 3 + ringSize, PromptTokens: 0, UsageFromServer: true})
	c.Observe(&request.Result{Scenario: "s", Seq: 3 + ringSize, PromptTokens: 300})
	if n := c.Report().Samples; n != 1 {
		t.Errorf("unpaired observations were used (%d samples)", n)
	}
}

// Results arrive on many goroutines while the planner reads the model:
// run with -race.
func TestOnlineConcurrentUse(t *testing.T) {
	c := NewOnline(request.Chat, Identity)
	const perWorker = 200
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range perWorker {
				seq := int64(g*perWorker + i)
				words := 10 + int(seq)%500
				c.NoteSent("s", seq, words)
				c.Observe(&request.Result{Scenario: "s", Seq: seq, PromptTokens: words + 8, UsageFromServer: true})
			}
		})
	}
	wg.Go(func() {
		for range 2000 {
			if w := c.WordsFor(1000); w < 1 {
				t.Errorf("WordsFor returned %d", w)
				return
			}
		}
	})
	wg.Wait()
	if m := c.Model(); math.Abs(m.A-1) > 1e-9 || math.Abs(m.B-8) > 1e-6 {
		t.Errorf("learned %+v, want a=1 b=8", m)
	}
	if r := c.Report(); r.Samples != 4*perWorker || len(r.Points) != min(4*perWorker, maxKeptPoints) {
		t.Errorf("report has %d samples and %d points", r.Samples, len(r.Points))
	}
}
