package jsonx

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// reference is encoding/json's encoding of s without HTML escaping, with
// its \b and \f short escapes spelled the long way, as AppendString does:
// the bytes AppendString must give.
func reference(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	// Walk the escapes so that an escaped backslash followed by b is left alone.
	var fixed []byte
	for i := 0; i < len(out); i++ {
		if out[i] != '\\' {
			fixed = append(fixed, out[i])
			continue
		}
		i++
		switch out[i] {
		case 'b':
			fixed = append(fixed, `\u0008`...)
		case 'f':
			fixed = append(fixed, `\u000c`...)
		default:
			fixed = append(fixed, '\\', out[i])
		}
	}
	return fixed
}

var seeds = []string{
	"",
	"plain ascii",
	`quote " backslash \ slash /`,
	"newline\n return\r tab\t backspace\b formfeed\f nul\x00 unit\x1f del\x7f",
	`\b \f literal backslash-b`,
	"unicode: héllo 日本語 emoji 🦙 combining é",
	"line separators \u2028 and \u2029",
	"invalid utf8: \xff\xfe and truncated \xe6\x97",
	"html <script>&amp;</script>",
	strings.Repeat("ab\"", 1000),
}

func TestAppendString(t *testing.T) {
	for _, s := range seeds {
		got := AppendString([]byte("x"), s)
		if got[0] != 'x' {
			t.Fatalf("prefix lost for %q", s)
		}
		if want := reference(t, s); !bytes.Equal(got[1:], want) {
			t.Errorf("%q: got %s, want %s", s, got[1:], want)
		}
	}
	if got := string(AppendString(nil, "a\"b\\c\nd\x01\b")); got != `"a\"b\\c\nd\u0001\u0008"` {
		t.Errorf("escapes: got %s", got)
	}
	if got := string(AppendString(nil, "\u2028")); got != `"\u2028"` {
		t.Errorf("U+2028: got %s", got)
	}
}

// FuzzAppendString checks AppendString byte for byte against encoding/json
// (see reference), and that the result decodes back to what encoding/json
// decodes its own encoding to.
func FuzzAppendString(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString(nil, s)
		if want := reference(t, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, encoding/json gives %s", s, got, want)
		}
		var dec string
		if err := json.Unmarshal(got, &dec); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, got, err)
		}
		if want := string([]rune(s)); dec != want { // each invalid byte -> U+FFFD
			t.Fatalf("%q decodes to %q, want %q", s, dec, want)
		}
	})
}

var benchInputs = []struct{ name, s string }{
	{"ascii", "You are a helpful assistant. Summarise the following text in three sentences, keeping names and numbers exact."},
	{"escapes", "line one\nline \"two\"\twith\\ backslashes\r\n and a \x01 control"},
	{"utf8", "日本語のテキスト 🦙 with héllo and ünïcode mixed in, plus \u2028 separator"},
}

// BenchmarkAppendString is the cost of one string into a reused buffer.
func BenchmarkAppendString(b *testing.B) {
	for _, in := range benchInputs {
		b.Run(in.name, func(b *testing.B) {
			buf := make([]byte, 0, 512)
			b.SetBytes(int64(len(in.s)))
			for b.Loop() {
				buf = AppendString(buf[:0], in.s)
			}
		})
	}
}

// The tests below came from engine/load/openai/json_test.go with AppendFloat
// and AppendValue.

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.1, 0.7, 1.5, 100, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, 5e-324, math.MaxFloat64, -2.5e-9} {
		want, _ := json.Marshal(f)
		got, err := AppendFloat(nil, f, 64)
		if err != nil || string(got) != string(want) {
			t.Errorf("%v: got %s (%v), want %s", f, got, err, want)
		}
	}
	for _, f := range []float32{0.1, 1e-7, 3.4e38} {
		want, _ := json.Marshal(f)
		got, err := AppendFloat(nil, float64(f), 32)
		if err != nil || string(got) != string(want) {
			t.Errorf("float32 %v: got %s (%v), want %s", f, got, err, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := AppendFloat(nil, f, 64); err == nil {
			t.Errorf("%v: no error", f)
		}
	}
}

func TestAppendValue(t *testing.T) {
	v := map[string]any{
		"z": []any{1.5, "s", true, nil, map[string]any{"b": 1, "a": int64(2)}},
		"a": map[string]any{"y": false, "x": "\"q\""},
		"m": float32(0.25),
		"n": int32(-3),
		"u": uint64(7),
		"o": []string{"fallback", "path"},
		"p": map[string]int{"k2": 2, "k1": 1},
	}
	got, err := AppendValue(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":{"x":"\"q\"","y":false},"m":0.25,"n":-3,"o":["fallback","path"],"p":{"k1":1,"k2":2},"u":7,"z":[1.5,"s",true,null,{"a":2,"b":1}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Map order must not leak into the bytes.
	for range 20 {
		again, _ := AppendValue(nil, v)
		if string(again) != want {
			t.Fatalf("non-deterministic encoding: %s", again)
		}
	}

	cyc := map[string]any{}
	cyc["self"] = cyc
	if _, err := AppendValue(nil, cyc); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	if _, err := AppendValue(nil, []any{1.0, math.NaN()}); err == nil || !strings.Contains(err.Error(), "[1]") {
		t.Errorf("NaN in a list: %v", err)
	}
	if _, err := AppendValue(nil, map[string]any{"k": math.Inf(1)}); err == nil || !strings.Contains(err.Error(), ".k") {
		t.Errorf("Inf in a map: %v", err)
	}
	if _, err := AppendValue(nil, make(chan int)); err == nil {
		t.Error("channel: no error")
	}
}
