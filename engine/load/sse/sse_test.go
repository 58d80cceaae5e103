package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// ev is a comparable copy of an Event.
type ev struct{ Type, ID, Data string }

func (e ev) String() string { return fmt.Sprintf("{%q %q %q}", e.Type, e.ID, e.Data) }

type parsed struct {
	events   []ev
	retry    time.Duration
	retrySet bool
}

var cases = []struct {
	name  string
	in    string
	want  []ev
	retry time.Duration // expected Retry(); 0 = none
}{
	{name: "empty", in: ""},
	{name: "only blank lines", in: "\n\r\n\r\n\n"},
	{name: "one event LF", in: "data: hello\n\n", want: []ev{{"message", "", "hello"}}},
	{name: "one event CRLF", in: "data: hello\r\n\r\n", want: []ev{{"message", "", "hello"}}},
	{name: "one event CR", in: "data: hello\r\r", want: []ev{{"message", "", "hello"}}},
	{name: "mixed line ends", in: "data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\rdata: e\n\n",
		want: []ev{{"message", "", "a\nb\nc"}, {"message", "", "d"}, {"message", "", "e"}}},
	{name: "CR then LF is one line end", in: "data: x\r\n\r\ndata: y\r\n\r\n",
		want: []ev{{"message", "", "x"}, {"message", "", "y"}}},
	{name: "LF CR is two line ends", in: "data: x\n\rdata: y\n\n",
		want: []ev{{"message", "", "x"}, {"message", "", "y"}}},
	{name: "no space after colon", in: "data:hello\n\n", want: []ev{{"message", "", "hello"}}},
	{name: "only one space removed", in: "data:  two\n\n", want: []ev{{"message", "", " two"}}},
	{name: "tab is kept", in: "data:\tx\n\n", want: []ev{{"message", "", "\tx"}}},
	{name: "multi-line data", in: "data: a\ndata: b\ndata:\ndata: c\n\n", want: []ev{{"message", "", "a\nb\n\nc"}}},
	{name: "empty data line dispatches empty event", in: "data:\n\n", want: []ev{{"message", "", ""}}},
	{name: "data without colon", in: "data\n\n", want: []ev{{"message", "", ""}}},
	{name: "data without colon then value", in: "data\ndata: x\n\n", want: []ev{{"message", "", "\nx"}}},
	{name: "two empty data lines", in: "data\ndata\n\n", want: []ev{{"message", "", "\n"}}},
	{name: "comment lines", in: ": ping\n:\n: another\ndata: x\n: mid\n\n: trailing\n\n",
		want: []ev{{"message", "", "x"}}},
	{name: "comment only event is not dispatched", in: ": keepalive\n\n", want: nil},
	{name: "event type", in: "event: delta\ndata: x\n\ndata: y\n\n",
		want: []ev{{"delta", "", "x"}, {"message", "", "y"}}},
	{name: "event type without data is dropped", in: "event: lost\n\ndata: y\n\n",
		want: []ev{{"message", "", "y"}}},
	{name: "event type repeated", in: "event: a\ndata: 1\n\nevent: a\ndata: 2\n\nevent: b\ndata: 3\n\n",
		want: []ev{{"a", "", "1"}, {"a", "", "2"}, {"b", "", "3"}}},
	{name: "empty event field means message", in: "event:\ndata: x\n\n", want: []ev{{"message", "", "x"}}},
	{name: "last event field wins", in: "event: a\nevent: b\ndata: x\n\n", want: []ev{{"b", "", "x"}}},
	{name: "id persists", in: "id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\nid\ndata: d\n\n",
		want: []ev{{"message", "1", "a"}, {"message", "1", "b"}, {"message", "2", "c"}, {"message", "", "d"}}},
	{name: "id with NUL ignored", in: "id: 7\ndata: a\n\nid: x\x00y\ndata: b\n\n",
		want: []ev{{"message", "7", "a"}, {"message", "7", "b"}}},
	{name: "id set without data still persists", in: "id: 9\n\ndata: a\n\n", want: []ev{{"message", "9", "a"}}},
	{name: "retry", in: "retry: 1500\ndata: a\n\n", want: []ev{{"message", "", "a"}}, retry: 1500 * time.Millisecond},
	{name: "retry invalid ignored", in: "retry: 15s\nretry: 2000\nretry: -1\nretry:\nretry: 1 0\ndata: a\n\n",
		want: []ev{{"message", "", "a"}}, retry: 2000 * time.Millisecond},
	{name: "retry huge saturates", in: "retry: 99999999999999999999999999\n\n",
		retry: time.Duration(int64(^uint64(0)>>1)/int64(time.Millisecond)) * time.Millisecond},
	{name: "unknown fields ignored", in: "foo: bar\nDATA: no\nData: no\nbaz\ndata: yes\n\n", want: []ev{{"message", "", "yes"}}},
	{name: "field name with space is unknown", in: "data : x\ndata: y\n\n", want: []ev{{"message", "", "y"}}},
	{name: "colon in value", in: "data: a:b: c\n\n", want: []ev{{"message", "", "a:b: c"}}},
	{name: "json data", in: "data: {\"a\":\"b: c\"}\n\n", want: []ev{{"message", "", `{"a":"b: c"}`}}},
	{name: "BOM stripped", in: "\xEF\xBB\xBFdata: x\n\n", want: []ev{{"message", "", "x"}}},
	{name: "only one BOM stripped", in: "\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n", want: []ev{{"message", "", "y"}}},
	{name: "partial BOM is data", in: "\xEF\xBB", want: nil},
	{name: "BOM later is data", in: "data: \xEF\xBB\xBFx\n\n", want: []ev{{"message", "", "\xEF\xBB\xBFx"}}},
	{name: "NUL and high bytes in data", in: "data: a\x00b\xff\n\n", want: []ev{{"message", "", "a\x00b\xff"}}},
	{name: "final event without blank line", in: "data: a\n\ndata: b\n", want: []ev{{"message", "", "a"}, {"message", "", "b"}}},
	{name: "final line without terminator", in: "data: a\n\ndata: [DONE]", want: []ev{{"message", "", "a"}, {"message", "", "[DONE]"}}},
	{name: "final CR", in: "data: a\r", want: []ev{{"message", "", "a"}}},
	{name: "final comment without terminator", in: "data: a\n\n: bye", want: []ev{{"message", "", "a"}}},
	{name: "vLLM style", in: "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n" +
		"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n: ping\n\ndata: [DONE]\n\n",
		want: []ev{{"message", "", `{"choices":[{"delta":{"role":"assistant"}}]}`},
			{"message", "", `{"choices":[{"delta":{"content":"Hi"}}]}`}, {"message", "", "[DONE]"}}},
	{name: "long line", in: "data: " + strings.Repeat("x", 20000) + "\n\n",
		want: []ev{{"message", "", strings.Repeat("x", 20000)}}},
	{name: "many CR lines", in: strings.Repeat("data: 0123456789\r\r", 500),
		want: repeatEv(ev{"message", "", "0123456789"}, 500)},
}

func repeatEv(e ev, n int) []ev {
	out := make([]ev, n)
	for i := range out {
		out[i] = e
	}
	return out
}

// readAll drains r, copying every event.
func readAll(r *Reader) (parsed, error) {
	var p parsed
	for {
		e, err := r.Next()
		if err == io.EOF {
			p.retry, p.retrySet = r.Retry()
			return p, nil
		}
		if err != nil {
			return p, err
		}
		p.events = append(p.events, ev{e.Type, e.ID, string(e.Data)})
	}
}

// splitReader returns its input in pieces whose sizes come from rng, with
// some empty reads in between.
type splitReader struct {
	data []byte
	rng  *rand.Rand
	max  int
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := s.rng.IntN(s.max + 1) // 0 is a legal, empty read
	n = min(n, len(p), len(s.data))
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

func check(t *testing.T, name string, got, want parsed) {
	t.Helper()
	if len(got.events) != len(want.events) {
		t.Fatalf("%s: got %d events %v, want %d %v", name, len(got.events), got.events, len(want.events), want.events)
	}
	for i := range want.events {
		if got.events[i] != want.events[i] {
			t.Fatalf("%s: event %d = %v, want %v", name, i, got.events[i], want.events[i])
		}
	}
	if got.retry != want.retry || got.retrySet != want.retrySet {
		t.Fatalf("%s: retry = %v,%v want %v,%v", name, got.retry, got.retrySet, want.retry, want.retrySet)
	}
}

func TestFraming(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := parsed{events: tc.want, retry: tc.retry, retrySet: tc.retry != 0}
			// The reference must agree with the table, or one of them is wrong.
			check(t, "reference", refParse([]byte(tc.in)), want)

			readers := map[string]func() io.Reader{
				"whole":      func() io.Reader { return strings.NewReader(tc.in) },
				"one byte":   func() io.Reader { return iotest.OneByteReader(strings.NewReader(tc.in)) },
				"data+EOF":   func() io.Reader { return iotest.DataErrReader(strings.NewReader(tc.in)) },
				"half reads": func() io.Reader { return iotest.HalfReader(strings.NewReader(tc.in)) },
			}
			for name, mk := range readers {
				for _, size := range []int{1, 16, DefaultSize} {
					got, err := readAll(NewReaderSize(mk(), size, 0))
					if err != nil {
						t.Fatalf("%s size %d: %v", name, size, err)
					}
					check(t, fmt.Sprintf("%s size %d", name, size), got, want)
				}
			}
			for seed := range uint64(20) {
				sr := &splitReader{data: []byte(tc.in), rng: rand.New(rand.NewPCG(seed, 7)), max: 1 + int(seed)*3}
				got, err := readAll(NewReaderSize(sr, 8, 0))
				if err != nil {
					t.Fatalf("random split seed %d: %v", seed, err)
				}
				check(t, fmt.Sprintf("random split seed %d", seed), got, want)
			}
		})
	}
}

// TestEverySplitPoint cuts every case in two at every byte, so a CR at the
// end of one read and its LF at the start of the next is covered for every
// CRLF in the table.
func TestEverySplitPoint(t *testing.T) {
	for _, tc := range cases {
		if len(tc.in) > 2000 {
			continue
		}
		want := parsed{events: tc.want, retry: tc.retry, retrySet: tc.retry != 0}
		for cut := 0; cut <= len(tc.in); cut++ {
			rd := io.MultiReader(strings.NewReader(tc.in[:cut]), strings.NewReader(tc.in[cut:]))
			got, err := readAll(NewReaderSize(rd, 4, 0))
			if err != nil {
				t.Fatalf("%s cut %d: %v", tc.name, cut, err)
			}
			check(t, fmt.Sprintf("%s cut %d", tc.name, cut), got, want)
		}
	}
}

// blockingReader returns its data and then reports that it would block
// forever by failing the test: Next must return an event as soon as its
// blank line has arrived, without reading further.
type blockingReader struct {
	t    *testing.T
	data []byte
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		b.t.Fatal("Next read past a complete event")
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

func TestNoReadAheadPastCompleteEvent(t *testing.T) {
	for _, in := range []string{"data: a\n\n", "data: a\r\n\r\n", "data: a\r\r", ": c\ndata: a\n\n"} {
		r := NewReaderSize(&blockingReader{t: t, data: []byte(in)}, 2, 0)
		e, err := r.Next()
		if err != nil || string(e.Data) != "a" {
			t.Fatalf("%q: got %q, %v", in, e.Data, err)
		}
	}
}

func TestBytesRead(t *testing.T) {
	in := "data: a\n\n: c\n\ndata: b\n\n"
	r := NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), 4, 0)
	if _, err := readAll(r); err != nil {
		t.Fatal(err)
	}
	if r.BytesRead() != int64(len(in)) {
		t.Fatalf("BytesRead = %d, want %d", r.BytesRead(), len(in))
	}
	r.Reset(strings.NewReader("data: x\n\n"))
	if r.BytesRead() != 0 {
		t.Fatalf("BytesRead after Reset = %d", r.BytesRead())
	}
	got, err := readAll(r)
	if err != nil || len(got.events) != 1 || got.events[0].Data != "x" || r.BytesRead() != 9 {
		t.Fatalf("after Reset: %v %v %d", got.events, err, r.BytesRead())
	}
}

func TestResetClearsState(t *testing.T) {
	r := NewReader(strings.NewReader("id: 5\nretry: 10\nevent: e\ndata: partial"))
	// Stop in the middle of an event on purpose.
	r.Reset(strings.NewReader("data: x\n\n"))
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "reset", got, parsed{events: []ev{{"message", "", "x"}}})
	// And after a full stream with state.
	r.Reset(strings.NewReader("id: 5\nretry: 10\nevent: e\ndata: a\n\n"))
	if _, err := readAll(r); err != nil {
		t.Fatal(err)
	}
	r.Reset(strings.NewReader("data: x\r"))
	got, _ = readAll(r)
	check(t, "reset 2", got, parsed{events: []ev{{"message", "", "x"}}})
	r.Reset(strings.NewReader("\ndata: y\n\n")) // a stale skipLF would eat this LF harmlessly, but check
	got, _ = readAll(r)
	check(t, "reset 3", got, parsed{events: []ev{{"message", "", "y"}}})
}

func TestLineTooLong(t *testing.T) {
	const limit = 1024
	in := "data: ok\n\ndata: " + strings.Repeat("y", 2*limit) + "\n\ndata: after\n\n"
	r := NewReaderSize(iotest.HalfReader(strings.NewReader(in)), 16, limit)
	e, err := r.Next()
	if err != nil || string(e.Data) != "ok" {
		t.Fatalf("first event: %q %v", e.Data, err)
	}
	_, err = r.Next()
	if !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), "1024") {
		t.Fatalf("got %v, want ErrTooLong naming the limit", err)
	}
	if _, err2 := r.Next(); !errors.Is(err2, ErrTooLong) {
		t.Fatalf("error is not sticky: %v", err2)
	}
}

func TestLineJustUnderLimit(t *testing.T) {
	const limit = 64
	payload := strings.Repeat("z", limit-len("data: ")-1) // line + LF fills the buffer exactly
	r := NewReaderSize(strings.NewReader("data: "+payload+"\n\n"), 8, limit)
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "fits", got, parsed{events: []ev{{"message", "", payload}}})
}

func TestEventDataTooLong(t *testing.T) {
	const limit = 100
	// Every line is short, but together they exceed the limit.
	in := strings.Repeat("data: 0123456789\n", 20) + "\n"
	_, err := readAll(NewReaderSize(strings.NewReader(in), 16, limit))
	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("got %v, want ErrTooLong", err)
	}
}

func TestReadErrorAfterEvents(t *testing.T) {
	boom := errors.New("connection reset")
	rd := io.MultiReader(strings.NewReader("data: a\n\ndata: b\n\ndata: partial"), iotest.ErrReader(boom))
	r := NewReader(rd)
	var got []string
	var err error
	for {
		var e Event
		e, err = r.Next()
		if err != nil {
			break
		}
		got = append(got, string(e.Data))
	}
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the reader's error", err)
	}
	if strings.Join(got, ",") != "a,b" {
		t.Fatalf("events before the error = %v, want a,b (the partial event must not be dispatched)", got)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("error not sticky: %v", err)
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestNoProgress(t *testing.T) {
	if _, err := NewReader(emptyReader{}).Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("got %v, want io.ErrNoProgress", err)
	}
}

func TestNoAllocsPerEvent(t *testing.T) {
	stream := buildStream(t, 50)
	br := bytes.NewReader(stream)
	r := NewReader(br)
	drain := func() {
		br.Reset(stream)
		r.Reset(br)
		for {
			if _, err := r.Next(); err != nil {
				if err != io.EOF {
					t.Fatal(err)
				}
				return
			}
		}
	}
	drain() // warm the buffers
	if a := testing.AllocsPerRun(20, drain); a != 0 {
		t.Fatalf("%v allocations per stream, want 0", a)
	}
	// Types and IDs that change on every event do cost a string each; a
	// stream that repeats them does not.
	typed := []byte(strings.Repeat("event: delta\nid: 42\ndata: x\n\n", 50))
	br2 := bytes.NewReader(typed)
	r2 := NewReader(br2)
	drain2 := func() {
		br2.Reset(typed)
		r2.Reset(br2)
		for {
			if _, err := r2.Next(); err != nil {
				return
			}
		}
	}
	drain2()
	if a := testing.AllocsPerRun(20, drain2); a > 1 { // the ID string once per stream
		t.Fatalf("%v allocations per stream with repeated type and id, want <= 1", a)
	}
}

// buildStream repeats the token chunks of the vLLM fixture to n token
// events, keeping its first (role) and last (finish, usage, [DONE]) events.
func buildStream(tb testing.TB, n int) []byte {
	tb.Helper()
	raw, err := os.ReadFile("testdata/vllm_chat.sse")
	if err != nil {
		tb.Fatal(err)
	}
	evs := strings.SplitAfter(string(raw), "\n\n")
	evs = evs[:len(evs)-1] // SplitAfter leaves a trailing ""
	head, body, tail := evs[0], evs[1:len(evs)-4], evs[len(evs)-4:]
	var b strings.Builder
	b.WriteString(head)
	for i := 0; i < n; i++ {
		b.WriteString(body[i%len(body)])
	}
	for _, s := range tail {
		b.WriteString(s)
	}
	return []byte(b.String())
}

func TestFixture(t *testing.T) {
	raw, err := os.ReadFile("testdata/vllm_chat.sse")
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	check(t, "fixture", got, refParse(raw))
	if n := len(got.events); n != 23 || got.events[n-1].Data != "[DONE]" {
		t.Fatalf("fixture: %d events, last %q", n, got.events[n-1].Data)
	}
}

// refParse is a deliberately simple reference: it splits the whole input
// into lines first and then applies the standard's steps one by one, with
// strings, exactly as written in the spec (plus the documented leniency at
// the end of the input).
func refParse(in []byte) parsed {
	s := string(in)
	s = strings.TrimPrefix(s, "\uFEFF")
	var lines []string
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			lines = append(lines, s) // lenient: a final unterminated line counts
			break
		}
		lines = append(lines, s[:i])
		if strings.HasPrefix(s[i:], "\r\n") {
			s = s[i+2:]
		} else {
			s = s[i+1:]
		}
	}
	var (
		out                   parsed
		data, evType, lastID  string
		retryMS               int64
		retrySet, retryCapped bool
	)
	dispatch := func() {
		if data == "" {
			evType = ""
			return
		}
		data = strings.TrimSuffix(data, "\n")
		e := ev{Type: "message", ID: lastID, Data: data}
		if evType != "" {
			e.Type = evType
		}
		out.events = append(out.events, e)
		data, evType = "", ""
	}
	for _, line := range lines {
		if line == "" {
			dispatch()
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			evType = value
		case "data":
			data += value + "\n"
		case "id":
			if !strings.Contains(value, "\x00") {
				lastID = value
			}
		case "retry":
			if value != "" && strings.Trim(value, "0123456789") == "" {
				retrySet = true
				retryMS, retryCapped = 0, false
				const limit = int64(^uint64(0)>>1) / int64(time.Millisecond)
				for _, c := range value {
					if retryMS > limit/10 || (retryMS == limit/10 && int64(c-'0') > limit%10) {
						retryCapped = true
						break
					}
					retryMS = retryMS*10 + int64(c-'0')
				}
				if retryCapped {
					retryMS = limit
				}
			}
		}
	}
	dispatch()
	out.retry, out.retrySet = time.Duration(retryMS)*time.Millisecond, retrySet
	return out
}

func FuzzReader(f *testing.F) {
	// Seeds stay small: the fuzzer's minimiser is quadratic in input size
	// and stalls for seconds on a multi-kilobyte seed.
	for _, tc := range cases {
		if len(tc.in) < 300 {
			f.Add([]byte(tc.in), uint64(1), uint8(3))
		}
	}
	raw, err := os.ReadFile("testdata/vllm_chat.sse")
	if err != nil {
		f.Fatal(err)
	}
	evs := bytes.SplitAfter(raw, []byte("\n\n"))
	f.Add(bytes.Join([][]byte{evs[0], evs[1], evs[len(evs)-2]}, nil), uint64(2), uint8(17))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64, maxRead uint8) {
		want := refParse(in)
		sr := &splitReader{data: in, rng: rand.New(rand.NewPCG(seed, 1)), max: int(maxRead) + 1}
		got, err := readAll(NewReaderSize(sr, 1+int(seed%64), 0))
		if err != nil {
			t.Fatalf("split reads: %v", err)
		}
		check(t, "split reads", got, want)
		got, err = readAll(NewReaderSize(bytes.NewReader(in), 0, 0))
		if err != nil {
			t.Fatalf("whole: %v", err)
		}
		check(t, "whole", got, want)
	})
}

// BenchmarkReader parses a realistic vLLM chat stream: a role chunk, token
// chunks of about 230 bytes each, a finish chunk, a usage chunk and [DONE].
func BenchmarkReader(b *testing.B) {
	stream := buildStream(b, 1000)
	var events int
	for _, e := range refParse(stream).events {
		_ = e
		events++
	}
	br := bytes.NewReader(stream)
	r := NewReader(br)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		br.Reset(stream)
		r.Reset(br)
		n := 0
		for {
			_, err := r.Next()
			if err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			n++
		}
		if n != events {
			b.Fatalf("%d events, want %d", n, events)
		}
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
