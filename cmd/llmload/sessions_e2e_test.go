package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// sessionLine is what the session tests read of a requests.jsonl line.
type sessionLine struct {
	Seq              int64             `json:"seq"`
	SessionID        string            `json:"session_id"`
	User             int               `json:"user_id"`
	Turn             int               `json:"turn"`
	SentMs           float64           `json:"sent_ms"`
	LastByteMs       float64           `json:"last_byte_ms"`
	Error            *string           `json:"error"`
	PromptTokens     int               `json:"prompt_tokens"`
	CompletionTokens int               `json:"completion_tokens"`
	FinishReason     string            `json:"finish_reason"`
	Tags             map[string]string `json:"tags"`
}

type sessionSummary struct {
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	Sessions  struct {
		Started, Completed, Stopped, Turns int64
	} `json:"sessions"`
	ByTurn []struct {
		Turn int `json:"turn"`
		N    int `json:"completed"`
		TTFT struct {
			P50 float64 `json:"p50_ms"`
		} `json:"ttft"`
	} `json:"by_turn"`
	Server struct {
		PrefixHits    int64 `json:"prefix_cache_hits"`
		PrefixQueries int64 `json:"prefix_cache_queries"`
	} `json:"server"`
	Custom map[string]struct {
		Value float64 `json:"value"`
	} `json:"custom"`
}

func readSessionResults(t *testing.T, dir string) (sessionSummary, map[string][]sessionLine) {
	t.Helper()
	var s sessionSummary
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "requests.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	by := map[string][]sessionLine{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var l sessionLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.SessionID == "" || l.Turn < 1 {
			t.Fatalf("request %d has no session: %s", l.Seq, sc.Text())
		}
		by[l.SessionID] = append(by[l.SessionID], l)
	}
	for _, ls := range by {
		sort.Slice(ls, func(i, j int) bool { return ls[i].Turn < ls[j].Turn })
	}
	return s, by
}

// 64 closed-loop users of 6 turns each against the built-in simulator
// (its calibrated profile): no turn overlaps the one before it, the
// server's prefix-cache hits are exactly the reuse the conversations
// carry (each turn resends the previous prompt and answer, to the
// 16-token block), and later turns' TTFT is below the first turn's,
// which pays the whole prefill.
func TestChatSessionsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end sessions run; skipped with -short")
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const users, turns = 64, 6
	log, err := runLLMLoad(t, ctx, "run", "scenarios/chat_sessions.lua", "--users", "64", "--turns", "6",
		"--iterations", "1", "--think", "0.2", "--system", "", "--duration", "0", "--out", out, "--no-ui")
	if err != nil {
		t.Fatalf("llmload run: %v\n%s", err, log)
	}
	s, by := readSessionResults(t, out)
	if s.Completed != users*turns || s.Failed != 0 || len(by) != users {
		t.Fatalf("completed %d failed %d in %d sessions; want %d, 0, %d\n%s", s.Completed, s.Failed, len(by), users*turns, users, log)
	}
	if s.Sessions.Started != users || s.Sessions.Completed != users || s.Sessions.Turns != users*turns {
		t.Fatalf("sessions %+v", s.Sessions)
	}
	// The end-of-run table has the sessions section, from the same counts.
	for _, row := range []string{"Driven by:                               users (closed loop)",
		"Sessions started:                        64 ", "  ended / cut short:                     64 / 0 ",
		"Turns sent:                              384 ", "  with instant answers (turns/s):"} {
		if !strings.Contains(log, row) {
			t.Errorf("the end-of-run table has no row %q:\n%s", row, log)
		}
	}
	var want int64
	for id, ls := range by {
		if len(ls) != turns {
			t.Fatalf("session %s: %d turns", id, len(ls))
		}
		for k := 1; k < len(ls); k++ {
			prev, cur := ls[k-1], ls[k]
			if cur.SentMs < prev.LastByteMs {
				t.Errorf("session %s: turn %d sent at %.3f ms, before turn %d ended at %.3f ms", id, cur.Turn, cur.SentMs, prev.Turn, prev.LastByteMs)
			}
			if prev.PromptTokens == 0 {
				t.Fatalf("session %s turn %d: no usage.prompt_tokens", id, prev.Turn)
			}
			// The simulator caches every full block of a finished request
			// but the one holding its last sampled token (as vLLM).
			want += int64((prev.PromptTokens+prev.CompletionTokens-1)/16) * 16
		}
	}
	if s.Server.PrefixHits != want {
		t.Errorf("server prefix-cache hits %d, want %d (the conversations' reuse, to the block)", s.Server.PrefixHits, want)
	}
	if len(s.ByTurn) != turns {
		t.Fatalf("by_turn has %d turns, want %d", len(s.ByTurn), turns)
	}
	first := s.ByTurn[0].TTFT.P50
	for _, bt := range s.ByTurn[1:] {
		if bt.N != users || bt.TTFT.P50 >= first {
			t.Errorf("turn %d: %d completed, p50 TTFT %.2f ms; want %d below turn 1's %.2f ms", bt.Turn, bt.N, bt.TTFT.P50, users, first)
		}
	}
}

// An agent loop of depth 3 against the built-in simulator (which answers
// requests with tools by tool calls): every tool call gets its result
// sent back, in the next request of the same session, and counted.
func TestAgentLoopEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end agent run; skipped with -short")
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const result = 200
	log, err := runLLMLoad(t, ctx, "run", "scenarios/agent_loop.lua", "--users", "6", "--iterations", "4",
		"--depth", "3", "--tool-ms", "20", "--result", "200", "--duration", "0", "--out", out, "--no-ui")
	if err != nil {
		t.Fatalf("llmload run: %v\n%s", err, log)
	}
	s, by := readSessionResults(t, out)
	if s.Failed != 0 || s.Sessions.Completed != 24 || s.Sessions.Stopped != 0 {
		t.Fatalf("failed %d, sessions %+v\n%s", s.Failed, s.Sessions, log)
	}
	calls, followed, deepest := 0, 0, 0
	for id, ls := range by {
		depth := 0
		for k, l := range ls {
			if l.FinishReason != "tool_calls" {
				continue
			}
			calls++ // the scenario offers one call per answer (the simulator's default)
			if depth == 3 {
				continue
			}
			depth++
			deepest = max(deepest, depth)
			if k+1 >= len(ls) {
				t.Fatalf("session %s: a tool call at turn %d was never answered", id, l.Turn)
			}
			next := ls[k+1]
			if next.Tags["kind"] != "after_tool" {
				t.Fatalf("session %s turn %d: %+v does not follow up the tool call", id, next.Turn, next)
			}
			// The next prompt carries the call and the tool's result.
			if grew := next.PromptTokens - (l.PromptTokens + l.CompletionTokens); grew < result*9/10 {
				t.Errorf("session %s turn %d: the prompt grew by %d tokens after a tool result of %d", id, next.Turn, grew, result)
			}
			followed++
		}
	}
	if got := int(s.Custom["tool_results_sent"].Value); got != followed || int(s.Custom["tool_calls"].Value) != followed {
		t.Errorf("counters: tool_calls %v, tool_results_sent %v; want %d each (of %d tool-call answers)",
			s.Custom["tool_calls"].Value, got, followed, calls)
	}
	if followed == 0 {
		t.Fatalf("no tool round in %d sessions", len(by))
	}
	t.Logf("%d tool-call answers, %d followed up, deepest loop %d", calls, followed, deepest)
}
