package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

// sessionExample is the example of docs/traces.md#session-json-lines.
var sessionExample = []string{
	`{"session_id": "a", "turn": 1, "timestamp": 0, "input_tokens": 812, "output_tokens": 240}`,
	`{"session_id": 17, "turn": 1, "timestamp": 1.5, "input_tokens": 95, "output_tokens": 30, "last": true}`,
	`{"session_id": "a", "turn": 2, "delay": 12.5, "input_tokens": 140, "output_tokens": 310, "hash_ids": [4, 9, 12], "block_size": 64}`,
	`{"session_id": "b", "turn": 1, "timestamp": "2024-05-12 00:00:03Z", "input_tokens": 20, "output_tokens": 5}`,
	`{"session_id": "a", "turn": 3, "think": 3, "input_tokens": 60, "output_tokens": 95, "last": true}`,
	`{"session_id": "b", "turn": 2, "delay": 0.25, "input_tokens": 7, "output_tokens": 9}`,
}

func TestSessionsJSONLExample(t *testing.T) {
	ss := allSessions(t)(SessionsJSONL(writeLines(t, "s.jsonl", sessionExample...), Options{}))
	b := time.Date(2024, 5, 12, 0, 0, 3, 0, time.UTC).Sub(time.Unix(0, 0))
	want := []Session{
		{ID: "a", Start: 0, Turns: []Turn{
			{InputTokens: 812, OutputTokens: 240, Line: 1},
			{Think: 12500 * time.Millisecond, InputTokens: 140, OutputTokens: 310, HashIDs: []int{4, 9, 12}, BlockSize: 64, Line: 3},
			{Think: 3 * time.Second, InputTokens: 60, OutputTokens: 95, Line: 5},
		}},
		{ID: "17", Start: 1500 * time.Millisecond, Turns: []Turn{{InputTokens: 95, OutputTokens: 30, Line: 2}}},
		{ID: "b", Start: b, Turns: []Turn{
			{InputTokens: 20, OutputTokens: 5, Line: 4},
			{Think: 250 * time.Millisecond, InputTokens: 7, OutputTokens: 9, Line: 6},
		}},
	}
	if !reflect.DeepEqual(ss, want) {
		t.Fatalf("sessions\n%+v\nwant\n%+v", ss, want)
	}
}

// A session is yielded as soon as it and every session that started
// before it have ended: the reader does not read further than that.
func TestSessionsJSONLReadsNoFurtherThanNeeded(t *testing.T) {
	data := strings.Join([]string{
		`{"session_id": 1, "turn": 1, "timestamp": 0, "input_tokens": 1, "output_tokens": 1}`,
		`{"session_id": 2, "turn": 1, "timestamp": 1, "input_tokens": 1, "output_tokens": 1, "last": true}`,
		`{"session_id": 1, "turn": 2, "delay": 1, "input_tokens": 1, "output_tokens": 1, "last": true}`,
		`not JSON: reading this line would fail`,
	}, "\n")
	src := NewSessionsJSONL(strings.NewReader(data), "s.jsonl", Options{})
	for _, id := range []string{"1", "2"} {
		if s, err := src.NextSession(); err != nil || s.ID != id {
			t.Fatalf("want session %s: %+v, %v", id, s, err)
		}
	}
	var re *RowError
	if _, err := src.NextSession(); !errors.As(err, &re) || re.Line != 4 {
		t.Fatalf("want the error of line 4: %v", err)
	}
	if _, err := src.NextSession(); !errors.As(err, &re) || re.Line != 4 {
		t.Fatalf("the error is not final: %v", err)
	}
}

func TestSessionsJSONLErrors(t *testing.T) {
	const (
		a1   = `{"session_id": "a", "turn": 1, "timestamp": 5, "input_tokens": 1, "output_tokens": 1}`
		a2   = `{"session_id": "a", "turn": 2, "delay": 1, "input_tokens": 1, "output_tokens": 1}`
		fix  = "; fix the row or pass --skip-bad-rows to skip malformed rows"
		turn = `{"session_id": "a", "turn": 2, "input_tokens": 1, "output_tokens": 1, `
	)
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"no turn 1", []string{a2},
			`s.jsonl:1: line has turn 2 of session "a", which is not open: its turn 1 is missing or was skipped, or the session ended ("last": true) before this line` + fix},
		{"a turn left out", []string{a1, strings.Replace(a2, `"turn": 2`, `"turn": 3`, 1)},
			`s.jsonl:2: line has turn 3 of session "a" after its turn 1 (line 1); a session's turns go up by 1` + fix},
		{"a turn after the last", []string{strings.Replace(a1, `}`, `, "last": true}`, 1), a2},
			`s.jsonl:2: line has turn 2 of session "a", which is not open: its turn 1 is missing or was skipped, or the session ended ("last": true) before this line` + fix},
		{"turn 1 again while open", []string{a1, a1},
			`s.jsonl:2: line starts session "a" again (turn 1) while it is open since line 1; give the new session another id, or end the first one with "last": true` + fix},
		{"starts out of order", []string{a1, strings.NewReplacer(`"a"`, `"b"`, `5`, `4.5`).Replace(a1)},
			`s.jsonl:2: line starts session "b" at 4.5 s, before session "a" did (5 s, line 1); sessions must start in time order: sort the files' turn-1 lines by timestamp` + fix},
		{"turn 1 without timestamp", []string{`{"session_id": "a", "turn": 1, "input_tokens": 1, "output_tokens": 1}`},
			`s.jsonl:1: key "timestamp" is missing; turn 1 needs it: the session's start` + fix},
		{"turn 1 with a delay", []string{strings.Replace(a1, `}`, `, "think": 2}`, 1)},
			`s.jsonl:1: key "think" "2" is not 0 on turn 1; the first turn has no answer to wait for, and starts at timestamp` + fix},
		{"turn 2 without delay", []string{a1, turn[:len(turn)-2] + `}`},
			`s.jsonl:2: key "delay" is missing; a turn after the first needs delay (or think): the seconds between the previous answer and this turn` + fix},
		{"delay and think", []string{a1, turn + `"delay": 1, "think": 1}`},
			`s.jsonl:2: line has both delay and think; they are the same: give one` + fix},
		{"negative delay", []string{a1, turn + `"delay": -1}`},
			`s.jsonl:2: key "delay" "-1" is negative; a timestamp must be >= 0` + fix},
		{"delay as a date", []string{a1, turn + `"delay": "2024-05-12 00:00:00"}`},
			`s.jsonl:2: key "delay" "\"2024-05-12 00:00:00\"" is not a number` + fix},
		{"later timestamp before the start", []string{a1, turn + `"delay": 1, "timestamp": 4}`},
			`s.jsonl:2: key "timestamp" "4" is before the session's start (5 s, line 1)` + fix},
		{"turn 0", []string{strings.Replace(a1, `"turn": 1`, `"turn": 0`, 1)},
			`s.jsonl:1: key "turn" "0" is 0; turns count from 1` + fix},
		{"turn 1.0", []string{strings.Replace(a1, `"turn": 1`, `"turn": 1.0`, 1)},
			`s.jsonl:1: key "turn" "1.0" is not a whole number` + fix},
		{"session id a number with a fraction", []string{strings.Replace(a1, `"a"`, `1.5`, 1)},
			`s.jsonl:1: key "session_id" "1.5" is not a string or a whole number` + fix},
		{"session id empty", []string{strings.Replace(a1, `"a"`, `""`, 1)},
			`s.jsonl:1: key "session_id" "\"\"" is empty; want a string or a whole number` + fix},
		{"session id missing", []string{strings.Replace(a1, `"session_id": "a", `, ``, 1)},
			`s.jsonl:1: key "session_id" is missing` + fix},
		{"output missing", []string{strings.Replace(a1, `, "output_tokens": 1`, ``, 1)},
			`s.jsonl:1: key "output_tokens" is missing` + fix},
		{"last not a bool", []string{strings.Replace(a1, `}`, `, "last": 1}`, 1)},
			`s.jsonl:1: key "last" "1" is not true or false` + fix},
		{"hash ids", []string{strings.Replace(a1, `}`, `, "hash_ids": [1, -2]}`, 1)},
			`s.jsonl:1: key "hash_ids" "[1, -2]" is not a list of whole numbers >= 0` + fix},
		{"not JSON", []string{a1, `{"session_id": "a",`},
			`s.jsonl:2: line is not valid JSON at ""` + fix},
		{"blank line between", []string{a1, ``, strings.Replace(a1, `"a"`, `"b"`, 1)},
			`s.jsonl:2: line is empty but rows follow it` + fix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := SessionsJSONL(writeLines(t, "s.jsonl", tc.lines...), Options{})
			if err == nil {
				_, err = drainSessions(t, src)
			}
			var re *RowError
			if !errors.As(err, &re) || strings.TrimPrefix(err.Error(), filepath.Dir(re.Name)+"/") != tc.want {
				t.Fatalf("error\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}

func TestSessionsJSONLFormat(t *testing.T) {
	_, err := SessionsJSONL(filepath.Join("testdata", "azure2023_sample.csv"), Options{SkipBad: true})
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "azure2023_sample.csv:1: ") {
		t.Fatalf("an Azure CSV opened as sessions: %v", err)
	}
	if _, err := SessionsJSONL(filepath.Join(t.TempDir(), "none.jsonl"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if ss := allSessions(t)(SessionsJSONL(writeLines(t, "empty.jsonl"), Options{})); len(ss) != 0 {
		t.Fatalf("an empty file gave %d sessions", len(ss))
	}
	src, err := SessionsJSONL(writeLines(t, "s.jsonl", sessionExample...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	if _, err := src.NextSession(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// Under SkipBad a line that is malformed or breaks a rule is skipped; the
// later turns of its session then break the turn rule and are skipped too.
func TestSessionsJSONLSkipBad(t *testing.T) {
	path := writeLines(t, "s.jsonl",
		`{"session_id": "a", "turn": 1, "timestamp": 0, "input_tokens": 1, "output_tokens": 1}`,
		`{"session_id": "a", "turn": 2, "delay": 1, "input_tokens": "x", "output_tokens": 1}`,
		`{"session_id": "b", "turn": 1, "timestamp": 1, "input_tokens": 2, "output_tokens": 1}`,
		`{"session_id": "a", "turn": 3, "delay": 1, "input_tokens": 1, "output_tokens": 1}`,
		`{"session_id": "b", "turn": 2, "delay": 1, "input_tokens": 3, "output_tokens": 1}`,
		`{"session_id": "c", "turn": 2, "delay": 1, "input_tokens": 3, "output_tokens": 1}`,
		``)
	src, err := SessionsJSONL(path, Options{SkipBad: true})
	ss := allSessions(t)(LimitSessions(src, 10), err)
	if got := shape(ss); got != "1|3,5" {
		t.Fatalf("sessions %s", got)
	}
	rep := src.(SkipReporter)
	want := []string{
		`s.jsonl:2: key "input_tokens" "\"x\"" is not a whole number`,
		`s.jsonl:4: line has turn 3 of session "a" after its turn 1 (line 1); a session's turns go up by 1`,
		`s.jsonl:6: line has turn 2 of session "c", which is not open: its turn 1 is missing or was skipped, or the session ended ("last": true) before this line`,
	}
	got := rep.SkipReasons()
	for i := range got {
		got[i] = strings.TrimPrefix(got[i], filepath.Dir(path)+"/")
	}
	if rep.Skipped() != 3 || !slices.Equal(got, want) {
		t.Fatalf("skipped %d:\n%q\nwant\n%q", rep.Skipped(), got, want)
	}
}

func TestSessionsJSONLHeldBound(t *testing.T) {
	var lines []string
	lines = append(lines, `{"session_id": "long", "turn": 1, "timestamp": 0, "input_tokens": 1, "output_tokens": 1}`)
	for i := range 5 {
		lines = append(lines, fmt.Sprintf(`{"session_id": %d, "turn": 1, "timestamp": 1, "input_tokens": 1, "output_tokens": 1, "hash_ids": [1, 2], "last": true}`, i))
	}
	data := strings.Join(lines, "\n")
	for _, tc := range []struct {
		turns, ids int
		want       string
	}{
		{4, 100, "s.jsonl:5: more than 4 turns or 100 hash ids are held waiting for the session of line 1 (\"long\") to end"},
		{100, 7, "s.jsonl:5: more than 100 turns or 7 hash ids are held waiting for the session of line 1 (\"long\") to end"},
		{6, 10, ""},
	} {
		r := newSessionJSONL(strings.NewReader(data), "s.jsonl", Options{SkipBad: true}, bufSize)
		r.maxHeldTurns, r.maxHeldIDs = tc.turns, tc.ids
		ss, err := drainSessions(t, r)
		if tc.want == "" {
			if err != io.EOF || len(ss) != 6 || r.heldTurns != 0 || r.heldIDs != 0 {
				t.Fatalf("%d sessions, %v; held %d turns, %d ids after the end", len(ss), err, r.heldTurns, r.heldIDs)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || len(ss) != 0 {
			t.Fatalf("limits %d, %d: %d sessions, error\n%v\nwant\n%s...", tc.turns, tc.ids, len(ss), err, tc.want)
		}
	}
}

// writeSessionsJSONL writes sessions in the session JSON-lines format, as
// a log export would: lines in order of the turns' arrivals (start plus
// the think times, as if answers took no time), interleaved across
// sessions, each session's last turn marked when last is set.
func writeSessionsJSONL(ss []Session, last bool) []byte {
	type line struct {
		at   time.Duration
		text string
	}
	var lines []line
	for _, s := range ss {
		at := s.Start
		for k, t := range s.Turns {
			at += t.Think
			var b strings.Builder
			fmt.Fprintf(&b, `{"session_id": %q, "turn": %d, `, s.ID, k+1)
			if k == 0 {
				fmt.Fprintf(&b, `"timestamp": %s, `, seconds(s.Start))
			} else {
				fmt.Fprintf(&b, `"think": %s, `, seconds(t.Think))
			}
			fmt.Fprintf(&b, `"input_tokens": %d, "output_tokens": %d`, t.InputTokens, t.OutputTokens)
			if t.HashIDs != nil {
				ids, _ := json.Marshal(t.HashIDs)
				fmt.Fprintf(&b, `, "hash_ids": %s`, ids)
			}
			if last && k == len(s.Turns)-1 {
				b.WriteString(`, "last": true`)
			}
			b.WriteString("}\n")
			lines = append(lines, line{at, b.String()})
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int { return int(a.at - b.at) })
	var out bytes.Buffer
	for _, l := range lines {
		out.WriteString(l.text)
	}
	return out.Bytes()
}

// The shared Mooncake trace's sessions, written as an interleaved session
// JSON-lines file, read back the same (but for the lines).
func TestSessionsJSONLRoundTripMooncake(t *testing.T) {
	want := allSessions(t)(MooncakeSessions(testenv.SharedData(t, "mooncake/conversation_trace.jsonl"), MooncakeSessionOptions{}))
	for _, last := range []bool{true, false} {
		data := writeSessionsJSONL(want, last)
		got := allSessions(t)(NewSessionsJSONL(bytes.NewReader(data), "s.jsonl", Options{}), nil)
		if len(got) != len(want) {
			t.Fatalf("last %v: %d sessions, want %d", last, len(got), len(want))
		}
		interleaved := 0
		for i := range got {
			for k := range got[i].Turns {
				if k > 0 && got[i].Turns[k].Line != got[i].Turns[k-1].Line+1 {
					interleaved++
				}
				got[i].Turns[k].Line = want[i].Turns[k].Line
			}
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("last %v: session %d\n%+v\nwant\n%+v", last, i, got[i], want[i])
			}
		}
		if interleaved == 0 {
			t.Fatal("the written file has no interleaved sessions: the test tests less than it should")
		}
	}
}

// FuzzSessionsJSONL checks the session reader on any input: it ends, its
// errors name a line, its sessions keep the format's rules, every turn
// holds what encoding/json reads from its line, and every line is a turn,
// a skipped line or a trailing blank line.
func FuzzSessionsJSONL(f *testing.F) {
	f.Add([]byte(strings.Join(sessionExample, "\n")), false)
	f.Add([]byte(strings.Join(sessionExample, "\r\n")+"\n\n"), true)
	for _, s := range []string{
		"", "\n", "x\n", "[]\n",
		`{"session_id": 1, "turn": 1, "timestamp": 1e3, "input_tokens": 1, "output_tokens": 2, "hash_ids": [-0, 3]}` + "\n" +
			`{"session_id": "1", "turn": 2, "delay": 0, "input_tokens": 1, "output_tokens": 2, "hash_ids": [1.0]}`,
		`{"session_id": "\u0061", "turn": 1, "timestamp": 1, "input_tokens": 1, "output_tokens": 2, "last": true, "x": [{}]}` + "\n" +
			`{"session_id": "a", "turn": 1, "timestamp": 0, "input_tokens": 1, "output_tokens": 2, "turn": 2}`,
		`{"session_id": "a", "turn": 1, "timestamp": 1, "input_tokens": 1, "output_tokens": 2, "\u006cast": true} {}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, skip bool) {
		r := newSessionJSONL(bytes.NewReader(data), "f.jsonl", Options{SkipBad: skip}, fuzzJSONLBuf)
		r.maxHeldTurns, r.maxHeldIDs = 16, 64
		ss, err := drainSessions(t, r)
		lines := bytes.Split(data, []byte("\n"))
		if len(data) > 0 && data[len(data)-1] == '\n' {
			lines = lines[:len(lines)-1]
		}
		var re *RowError
		switch {
		case err == io.EOF:
		case errors.As(err, &re):
			if re.Line < 1 || re.Line > len(lines) || skip {
				t.Fatalf("row error %v at line %d of %d, skip %v", err, re.Line, len(lines), skip)
			}
		case errors.Is(err, ErrFormat), err != nil && strings.Contains(err.Error(), "are held waiting"):
		default:
			t.Fatalf("error %v", err)
		}
		turns := 0
		for _, s := range ss {
			turns += len(s.Turns)
			for k, tn := range s.Turns {
				if k == 0 && tn.Think != 0 || k > 0 && tn.Line <= s.Turns[k-1].Line {
					t.Fatalf("session %q turn %d: %+v", s.ID, k+1, s.Turns)
				}
				checkTurnAgainstJSON(t, s, k, bytes.TrimSuffix(lines[tn.Line-1], []byte("\r")))
			}
		}
		if err == io.EOF {
			counted := 0 // lines up to the last non-blank one
			for i, l := range lines {
				if !blank(bytes.TrimSuffix(l, []byte("\r"))) {
					counted = i + 1
				}
			}
			if int64(turns)+r.Skipped() != int64(counted) {
				t.Fatalf("%d turns and %d skipped lines of %d", turns, r.Skipped(), counted)
			}
		}
	})
}

// checkTurnAgainstJSON compares turn k of s with encoding/json's reading
// of its line.
func checkTurnAgainstJSON(t *testing.T, s Session, k int, line []byte) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("the reader took line %q, encoding/json does not: %v", line, err)
	}
	var id string
	if json.Unmarshal(m["session_id"], &id) != nil {
		id = string(m["session_id"])
	}
	var turn, in, out int
	var ids []json.Number
	var last bool
	json.Unmarshal(m["turn"], &turn)
	json.Unmarshal(m["input_tokens"], &in)
	json.Unmarshal(m["output_tokens"], &out)
	json.Unmarshal(m["hash_ids"], &ids)
	json.Unmarshal(m["last"], &last)
	tn := s.Turns[k]
	var gotIDs []string
	for _, id := range tn.HashIDs {
		gotIDs = append(gotIDs, strconv.Itoa(id))
	}
	var wantIDs []string
	for _, n := range ids {
		v, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			t.Fatalf("hash id %q taken", n)
		}
		wantIDs = append(wantIDs, strconv.FormatInt(v, 10))
	}
	if id != s.ID || turn != k+1 || in != tn.InputTokens || out != tn.OutputTokens || !slices.Equal(gotIDs, wantIDs) ||
		last && k != len(s.Turns)-1 {
		t.Fatalf("line %q read as session %q turn %d of %d: %+v", line, s.ID, k+1, len(s.Turns), tn)
	}
}

// drainTurns drains src and returns how many turns it gave.
func drainTurns(b *testing.B, src SessionSource) int64 {
	var n int64
	for {
		s, err := src.NextSession()
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n += int64(len(s.Turns))
	}
}

// BenchmarkMooncakeSessions rebuilds the sessions of the shared Mooncake
// conversation trace (12,031 rows) from the file.
func BenchmarkMooncakeSessions(b *testing.B) {
	path := testenv.SharedData(b, "mooncake/conversation_trace.jsonl")
	b.ReportAllocs()
	var rows int64
	for b.Loop() {
		src, err := MooncakeSessions(path, MooncakeSessionOptions{})
		if err != nil {
			b.Fatal(err)
		}
		rows += drainTurns(b, src)
		src.Close()
	}
	reportRows(b, rows)
}

// BenchmarkSessionsJSONL reads the same sessions written as an interleaved
// session JSON-lines file, from memory.
func BenchmarkSessionsJSONL(b *testing.B) {
	ss := allSessions(b)(MooncakeSessions(testenv.SharedData(b, "mooncake/conversation_trace.jsonl"), MooncakeSessionOptions{}))
	data := writeSessionsJSONL(ss, true)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var rows int64
	for b.Loop() {
		src := NewSessionsJSONL(bytes.NewReader(data), "s.jsonl", Options{})
		rows += drainTurns(b, src)
	}
	reportRows(b, rows)
}
