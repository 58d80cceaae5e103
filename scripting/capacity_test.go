package scripting

import (
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/capacity"
)

func TestCapacityField(t *testing.T) {
	const head = "local llm = require('llmload')\n"
	p := script(t, head+`return llm.scenario{source = llm.synth.azure_conv(), slo = {ttft = "1s"},
  capacity = {by = "concurrency", start = 2, max = 64, precision = 0.05, warmup = "2s", min_requests = 30, saturation = false}}
`)
	s, err := Load(p, Env{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := s.Scenarios[0].Capacity
	if c == nil || c.By != capacity.ByConcurrency || c.Search.Start != 2 || c.Search.Max != 64 || c.Search.Precision != 0.05 ||
		c.Warmup != 2*time.Second || c.MinRequests != 30 || !c.Saturation.Off || c.Seed != 7 {
		t.Errorf("capacity config %+v", c)
	}

	// A session scenario's search steps its users; by may be left out.
	p = script(t, head+`return llm.scenario{session = function(s) s:chat{max_tokens = 8} end, slo = {ttft = "1s"},
  capacity = {start = 2, max = 48}}
`)
	s2, err := Load(p, Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	sc := s2.Scenarios[0]
	if c := sc.Capacity; c == nil || c.By != capacity.ByUsers || sc.Session == nil || !sc.Session.Steered || sc.Session.Users != 0 || sc.Concurrency != 48 {
		t.Errorf("session search: capacity %+v session %+v concurrency %d", c, sc.Session, sc.Concurrency)
	}

	for _, tc := range []struct{ name, src, want string }{
		{"no slo", `return llm.scenario{source = llm.synth.azure_conv(), capacity = {start = 1, max = 8}}`,
			`capacity needs an SLO to judge its steps`},
		{"arrivals too", `return llm.scenario{source = llm.synth.azure_conv(), slo = {ttft = "1s"}, arrivals = llm.arrivals.poisson{rate = 1}, capacity = {start = 1, max = 8}}`,
			`capacity sets the arrivals itself`},
		{"no max", `return llm.scenario{source = llm.synth.azure_conv(), slo = {ttft = "1s"}, capacity = {start = 1}}`,
			`llm.scenario: capacity needs start and max`},
		{"bad by", `return llm.scenario{source = llm.synth.azure_conv(), slo = {ttft = "1s"}, capacity = {by = "vus", start = 1, max = 8}}`,
			`by = "vus": want "rate"`},
		{"users without sessions", `return llm.scenario{source = llm.synth.azure_conv(), slo = {ttft = "1s"}, capacity = {by = "users", start = 1, max = 8}}`,
			`capacity by users steps session users: add session = function(s) ... end`},
		{"sessions by rate", `return llm.scenario{session = function(s) s:chat{} end, slo = {ttft = "1s"}, capacity = {by = "rate", start = 1, max = 8}}`,
			`a session scenario's capacity search steps its users: capacity.by = "users"`},
		{"users too", `return llm.scenario{session = function(s) s:chat{} end, users = 4, slo = {ttft = "1s"}, capacity = {start = 1, max = 8}}`,
			`capacity by users sets the number of users itself`},
		{"iterations", `return llm.scenario{session = function(s) s:chat{} end, iterations = 2, slo = {ttft = "1s"}, capacity = {start = 1, max = 8}}`,
			`remove iterations and sessions`},
		{"fractional users", `return llm.scenario{session = function(s) s:chat{} end, slo = {ttft = "1s"}, capacity = {start = 1.5, max = 8}}`,
			`capacity by users: start = 1.5 must be a whole number`},
		{"typo", `return llm.scenario{source = llm.synth.azure_conv(), slo = {ttft = "1s"}, capacity = {start = 1, max = 8, precison = 0.1}}`,
			`llm.scenario: capacity: unknown field precison (did you mean precision?)`},
		{"goodput", `return llm.scenario{source = llm.synth.azure_conv(), slo = {ttft = "1s"}, capacity = {start = 1, max = 8, goodput = 99}}`,
			`goodput = 99 is a fraction`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := script(t, head+tc.src+"\n")
			s, err := Load(p, Env{})
			if err == nil {
				s.Close()
				t.Fatalf("Load succeeded, want error %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), p+":2: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %s:2: ...%s", err, p, tc.want)
			}
		})
	}
}
