package trace

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

// drainSessions drains src and returns the sessions and the final error
// (io.EOF at a clean end), checking that they come in order of Start.
func drainSessions(t testing.TB, src SessionSource) ([]Session, error) {
	t.Helper()
	var out []Session
	for {
		s, err := src.NextSession()
		if err != nil {
			return out, err
		}
		if n := len(out); n > 0 && s.Start < out[n-1].Start {
			t.Fatalf("session %s starts at %v, before the previous one (%s at %v)", s.ID, s.Start, out[n-1].ID, out[n-1].Start)
		}
		out = append(out, s)
		if len(out) > 1_000_000 {
			t.Fatal("source does not end")
		}
	}
}

// allSessions returns a function that takes what an open function
// returns and gives all its sessions, failing the test on any error.
func allSessions(t testing.TB) func(SessionSource, error) []Session {
	return func(src SessionSource, err error) []Session {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		ss, err := drainSessions(t, src)
		if err != io.EOF {
			t.Fatalf("after %d sessions: %v", len(ss), err)
		}
		return ss
	}
}

// writeLines writes lines as a file in a temporary directory.
func writeLines(t testing.TB, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// mc is a Mooncake row at ms with input tokens and hash ids.
func mc(ms, input, output int, ids ...int) string {
	s := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(ids)), ", "), "[]")
	return fmt.Sprintf(`{"timestamp": %d, "input_length": %d, "output_length": %d, "hash_ids": [%s]}`, ms, input, output, s)
}

// shape renders sessions as "line,line,...|..." (each session the lines of
// its turns), for compact expectations.
func shape(ss []Session) string {
	var b strings.Builder
	for i, s := range ss {
		if i > 0 {
			b.WriteByte('|')
		}
		for k, t := range s.Turns {
			if k > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, t.Line)
		}
	}
	return b.String()
}

func TestMooncakeSessionsRule(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows []string
		opt  MooncakeSessionOptions
		want string // sessions by the lines of their turns
	}{
		{"chain", []string{
			mc(0, 1100, 10, 0, 1, 2),          // 2 full blocks: 0 1
			mc(1000, 1600, 10, 0, 1, 3, 4),    // extends 0 1; 3 full: 0 1 3
			mc(2000, 2100, 10, 0, 1, 3, 5, 6), // extends 0 1 3
		}, MooncakeSessionOptions{}, "1,2,3"},
		{"the last block is partial, so it is not compared", []string{
			mc(0, 1100, 10, 0, 1, 2),
			mc(1000, 1600, 10, 0, 1, 9, 4), // block 2 of row 1 was partial: 9 differs
		}, MooncakeSessionOptions{}, "1,2"},
		{"whole blocks differ", []string{
			mc(0, 1536, 10, 0, 1, 2), // 3 full blocks
			mc(1000, 2000, 10, 0, 1, 9, 4),
		}, MooncakeSessionOptions{}, "1|2"},
		{"one shared block is not enough", []string{
			mc(0, 600, 10, 0, 1),
			mc(1000, 1600, 10, 0, 2, 3, 4),
		}, MooncakeSessionOptions{}, "1|2"},
		{"unless MinSharedBlocks says so", []string{
			mc(0, 600, 10, 0, 1),
			mc(1000, 1600, 10, 0, 2, 3, 4),
		}, MooncakeSessionOptions{MinSharedBlocks: 1}, "1,2"},
		{"a row must add blocks", []string{
			mc(0, 1100, 10, 0, 1, 2),
			mc(1000, 1000, 10, 0, 1), // its ids are the earlier full blocks, nothing more
		}, MooncakeSessionOptions{}, "1|2"},
		{"the longest full prefix wins", []string{
			mc(0, 1100, 10, 0, 1, 2),
			mc(1000, 1600, 10, 0, 1, 3, 4),
			mc(2000, 2100, 10, 0, 1, 3, 5, 6), // extends both; row 2 has more full blocks
		}, MooncakeSessionOptions{}, "1,2,3"},
		{"among equal prefixes the most recent wins", []string{
			mc(0, 1100, 10, 0, 1, 2),
			mc(500, 1024, 10, 0, 1), // the same full blocks as row 1, no more
			mc(1000, 1600, 10, 0, 1, 3, 4),
		}, MooncakeSessionOptions{}, "1|2,3"},
		{"a branch starts a session of its own", []string{
			mc(0, 1100, 10, 0, 1, 2),
			mc(1000, 1600, 10, 0, 1, 3, 4),
			mc(2000, 1600, 10, 0, 1, 5, 6), // also extends row 1, which row 2 continues
			mc(3000, 2100, 10, 0, 1, 5, 6, 8),
		}, MooncakeSessionOptions{}, "1,2|3,4"},
		{"rows without ids are one-turn sessions", []string{
			`{"timestamp": 0, "input_length": 5, "output_length": 1}`,
			mc(1, 1100, 10, 0, 1, 2),
		}, MooncakeSessionOptions{}, "1|2"},
		{"block size", []string{
			mc(0, 40, 10, 0, 1, 2), // 2 full 16-token blocks
			mc(1000, 70, 10, 0, 1, 3, 4, 5),
		}, MooncakeSessionOptions{BlockSize: 16}, "1,2"},
		{"sessions in order of their start", []string{
			mc(0, 1100, 10, 0, 1, 2),
			mc(100, 1100, 10, 5, 6, 7),
			mc(1000, 1600, 10, 0, 1, 3, 4),
			mc(1100, 1600, 10, 5, 6, 8, 9),
			mc(1200, 10, 10, 10),
		}, MooncakeSessionOptions{}, "1,3|2,4|5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := allSessions(t)(MooncakeSessions(writeLines(t, "m.jsonl", tc.rows...), tc.opt))
			if got := shape(ss); got != tc.want {
				t.Fatalf("sessions %s, want %s", got, tc.want)
			}
		})
	}
}

func TestMooncakeSessionsTurns(t *testing.T) {
	path := writeLines(t, "m.jsonl",
		mc(5000, 1100, 100, 0, 1, 2),
		mc(65000, 1600, 2000, 0, 1, 3, 4),
		mc(66000, 2100, 7, 0, 1, 3, 5, 6))
	for _, tc := range []struct {
		perToken time.Duration
		think    []time.Duration
	}{
		{0, []time.Duration{0, 60 * time.Second, time.Second}},
		{10 * time.Millisecond, []time.Duration{0, 59 * time.Second, 0}}, // 60 s − 100·10 ms; 1 s − 2000·10 ms < 0
	} {
		src, err := MooncakeSessions(path, MooncakeSessionOptions{OutputTokenTime: tc.perToken, BlockSize: 512})
		if err != nil {
			t.Fatal(err)
		}
		s, err := src.NextSession()
		if err != nil {
			t.Fatal(err)
		}
		want := Session{ID: "1", Start: 5 * time.Second, Turns: []Turn{
			{Think: tc.think[0], InputTokens: 1100, OutputTokens: 100, HashIDs: []int{0, 1, 2}, BlockSize: 512, Line: 1},
			{Think: tc.think[1], InputTokens: 1600, OutputTokens: 2000, HashIDs: []int{0, 1, 3, 4}, BlockSize: 512, Line: 2},
			{Think: tc.think[2], InputTokens: 2100, OutputTokens: 7, HashIDs: []int{0, 1, 3, 5, 6}, BlockSize: 512, Line: 3},
		}}
		if !reflect.DeepEqual(s, want) {
			t.Fatalf("per token %v: session\n%+v\nwant\n%+v", tc.perToken, s, want)
		}
		if _, err := src.NextSession(); err != io.EOF {
			t.Fatalf("after the only session: %v", err)
		}
		src.Close()
		if _, err := src.NextSession(); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	}
}

func TestThinkTimeDoesNotOverflow(t *testing.T) {
	for _, tc := range []struct {
		gap      time.Duration
		tokens   int
		perToken time.Duration
		want     time.Duration
	}{
		{10, 3, 3, 1},
		{9, 3, 3, 0},
		{10, 4, 3, 0},
		{time.Hour, 1 << 31, time.Hour, 0},
		{time.Hour, 0, time.Hour, time.Hour},
		{time.Hour, 5, 0, time.Hour},
	} {
		if got := thinkTime(tc.gap, tc.tokens, tc.perToken); got != tc.want {
			t.Errorf("thinkTime(%v, %d, %v) = %v, want %v", tc.gap, tc.tokens, tc.perToken, got, tc.want)
		}
	}
}

func TestMooncakeSessionsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows []string
		opt  MooncakeSessionOptions
		want string
	}{
		{"out of order", []string{mc(5, 1, 1, 0), mc(4, 1, 1, 1)}, MooncakeSessionOptions{},
			"m.jsonl:2: timestamp 4 ms is before the previous row's 5 ms (line 1); sessions are rebuilt from rows in arrival order: sort the file by timestamp"},
		{"too many rows", []string{mc(1, 1, 1, 0), mc(2, 1, 1, 1), mc(3, 1, 1, 2)}, MooncakeSessionOptions{MaxRows: 2},
			"m.jsonl:3: Mooncake trace has more than 2 rows; sessions are rebuilt from the whole trace in memory: cut the file (head -n 2) or raise MaxRows"},
		{"malformed row", []string{mc(1, 1, 1, 0), `{"timestamp": 2, "input_length": "x", "output_length": 1}`}, MooncakeSessionOptions{},
			`m.jsonl:2: key "input_length" "\"x\"" is not a whole number; fix the row or pass --skip-bad-rows to skip malformed rows`},
		{"not JSON lines", []string{"TIMESTAMP,ContextTokens,GeneratedTokens"}, MooncakeSessionOptions{},
			`m.jsonl:1: not a trace of the expected format: the line is "TIMESTAMP,ContextTokens,GeneratedTokens", not a JSON object; the file is an Azure LLM inference trace: use llm.trace.azure`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeLines(t, "m.jsonl", tc.rows...)
			_, err := MooncakeSessions(path, tc.opt)
			if err == nil || strings.TrimPrefix(err.Error(), filepath.Dir(path)+"/") != tc.want {
				t.Fatalf("error\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
	if _, err := MooncakeSessions(filepath.Join(t.TempDir(), "none.jsonl"), MooncakeSessionOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestMooncakeSessionsSkipBad(t *testing.T) {
	path := writeLines(t, "m.jsonl",
		mc(0, 1100, 10, 0, 1, 2),
		`{"timestamp": 1, "input_length": -1, "output_length": 1}`,
		mc(1000, 1600, 10, 0, 1, 3, 4))
	src, err := MooncakeSessions(path, MooncakeSessionOptions{Options: Options{SkipBad: true}})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := drainSessions(t, LimitSessions(src, 5))
	if err != io.EOF || shape(ss) != "1,3" {
		t.Fatalf("sessions %s, %v", shape(ss), err)
	}
	rep := LimitSessions(src, 5).(SkipReporter)
	if reasons := rep.SkipReasons(); rep.Skipped() != 1 || len(reasons) != 1 || !strings.Contains(reasons[0], "m.jsonl:2: ") {
		t.Fatalf("skipped %d: %q", rep.Skipped(), reasons)
	}
}

// sessionFigures are the figures docs/traces.md gives for a session source.
type sessionFigures struct {
	sessions, turns   int
	multiTurn         int // sessions of more than one turn
	maxTurns          int
	medianTurns       float64 // over all sessions
	medianTurnsMulti  float64 // over sessions of more than one turn
	thinkMedian       time.Duration
	thinkP90          time.Duration
	notLonger         int // later turns whose input is no longer than the previous turn's
	extending, branch int // Mooncake only: rows extending an earlier one, and branches among them
}

func figuresOf(ss []Session) sessionFigures {
	var f sessionFigures
	var lens, multi, think []float64
	for _, s := range ss {
		f.sessions++
		f.turns += len(s.Turns)
		f.maxTurns = max(f.maxTurns, len(s.Turns))
		lens = append(lens, float64(len(s.Turns)))
		if len(s.Turns) > 1 {
			f.multiTurn++
			multi = append(multi, float64(len(s.Turns)))
		}
		for k, t := range s.Turns[1:] {
			think = append(think, float64(t.Think))
			if t.InputTokens <= s.Turns[k].InputTokens {
				f.notLonger++
			}
		}
	}
	slices.Sort(lens)
	slices.Sort(multi)
	slices.Sort(think)
	if len(lens) > 0 {
		f.medianTurns = quantile7(lens, 0.5)
	}
	if len(multi) > 0 {
		f.medianTurnsMulti = quantile7(multi, 0.5)
	}
	if len(think) > 0 {
		f.thinkMedian = time.Duration(quantile7(think, 0.5))
		f.thinkP90 = time.Duration(quantile7(think, 0.9))
	}
	return f
}

// TestMooncakeSessionsSharedTraces pins the figures docs/traces.md gives
// for the shipped traces.
func TestMooncakeSessionsSharedTraces(t *testing.T) {
	for _, tc := range []struct {
		file string
		want sessionFigures
	}{
		{"conversation_trace.jsonl", sessionFigures{sessions: 8099, turns: 12031, multiTurn: 2027, maxTurns: 43,
			medianTurns: 1, medianTurnsMulti: 2, thinkMedian: 123 * time.Second, thinkP90: 474 * time.Second,
			notLonger: 97, extending: 3975, branch: 43}},
		{"synthetic_trace.jsonl", sessionFigures{sessions: 2660, turns: 3993, multiTurn: 335, maxTurns: 24,
			medianTurns: 1, medianTurnsMulti: 4, thinkMedian: 45835 * time.Millisecond, thinkP90: 258_179_999_999, // 258.18 s less float rounding
			notLonger: 671, extending: 1444, branch: 111}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			src, err := MooncakeSessions(testenv.SharedData(t, "mooncake/"+tc.file), MooncakeSessionOptions{})
			got := figuresOf(allSessions(t)(src, err))
			m := src.(*mooncakeSessions)
			got.extending, got.branch = m.extending, m.branches
			if got != tc.want {
				t.Errorf("figures\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}
