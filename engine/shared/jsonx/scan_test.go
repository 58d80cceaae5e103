package jsonx

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// decode builds the value at s as encoding/json decodes into an any with
// UseNumber: the fuzz target compares the two.
func decode(s *Scanner) (any, error) {
	switch c := s.Peek(); {
	case c == '{':
		s.Enter()
		m := map[string]any{}
		for first := true; ; first = false {
			key, ok, err := s.Member(first)
			if err != nil || !ok {
				return m, err
			}
			k := string(key)
			if m[k], err = decode(s); err != nil {
				return nil, err
			}
		}
	case c == '[':
		s.Enter()
		l := []any{}
		for first := true; ; first = false {
			ok, err := s.Element(first)
			if err != nil || !ok {
				return l, err
			}
			v, err := decode(s)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
	case c == '"':
		v, err := s.String()
		return string(v), err
	case c == '-' || c >= '0' && c <= '9':
		text, _, err := s.Number()
		return json.Number(text), err
	case c == 'n':
		return nil, s.Skip()
	default:
		if v, ok := s.Bool(); ok {
			return v, nil
		}
		return nil, s.Skip()
	}
}

var scanSeeds = []string{
	`{"a":1,"b":[true,false,null],"c":{"d":"e"}}`,
	` [ 1 , -0.5e+3 , 0 , -0 , 1E9 ] `,
	`"plain"`, `"esc \" \\ \/ \b \f \n \r \t \u00e9 \u65e5"`,
	`"pair \ud83e\udd99 lone \ud83e x \udd99 high-high \ud83e\ud83e\udd99"`,
	"\"invalid utf8 \xff \xe6\x97 \xed\xa0\x80\"", "\"utf8 日本語 🦙\"",
	`{"k":1,"k":2}`, `{"\u006b":"v"}`,
	`{"a":1,}`, `[1,]`, `[- 1]`, `01`, `1.`, `1e`, `-`, `tru`, `nul`, `"\x"`, `"\u12"`, "\"ctl \x01\"",
	`{"a" 1}`, `{1:2}`, `[1 2]`, `{} {}`, ``, ` `, `"unterminated`,
	strings.Repeat("[", 100) + strings.Repeat("]", 100),
}

// FuzzScanner checks that the scanner accepts exactly what json.Valid
// accepts, and that walking a valid document gives the value
// encoding/json decodes: strings, keys (the last duplicate wins) and
// number texts alike.
func FuzzScanner(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Scanner
		s.Reset(b, MaxDepth)
		err := s.Skip()
		valid := err == nil && s.AtEnd()
		if want := json.Valid(b); valid != want {
			t.Fatalf("%q: scanner says valid=%v (%v), json.Valid says %v", b, valid, err, want)
		}
		if !valid {
			if err != nil && !strings.HasPrefix(err.Error(), "invalid JSON at byte ") {
				t.Fatalf("%q: error %q names no position", b, err)
			}
			return
		}
		s.Reset(b, MaxDepth)
		got, err := decode(&s)
		if err != nil {
			t.Fatalf("%q: valid but walking fails: %v", b, err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%q: encoding/json: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: scanner decodes %#v, encoding/json %#v", b, got, want)
		}
	})
}

func TestScannerErrorPositions(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1,}`:  "invalid JSON at byte 7: expected a member name",
		`[1,]`:      "invalid JSON at byte 3: unexpected byte ']'",
		`{"a" 1}`:   "invalid JSON at byte 5: expected ':' after member name",
		`[1 2]`:     "invalid JSON at byte 3: expected ',' or ']' after array element",
		`"a\x"`:     "invalid JSON at byte 3: invalid escape",
		`1.`:        "invalid JSON at byte 2: invalid number",
		`tru`:       "invalid JSON at byte 0: invalid literal",
		`"abc`:      "invalid JSON at byte 4: unterminated string",
		`[[[[]]]]`:  "invalid JSON at byte 4: exceeded max depth",
		"\"a\x01\"": "invalid JSON at byte 2: control character in string",
	} {
		var s Scanner
		s.Reset([]byte(in), 3)
		if err := s.Skip(); err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", in, err, want)
		}
	}
	var s Scanner
	s.Reset([]byte(`[[[]]]`), 3)
	if err := s.Skip(); err != nil || !s.AtEnd() {
		t.Errorf("depth 3 with a limit of 3: %v", err)
	}
}

// TestStringAliases pins when String copies: only when decoding changes
// the bytes.
func TestStringAliases(t *testing.T) {
	for in, alias := range map[string]bool{`"ascii"`: true, `"日本"`: true, `"a\nb"`: false, "\"\xff\"": false} {
		var s Scanner
		b := []byte(in)
		s.Reset(b, MaxDepth)
		v, err := s.String()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(v) > 0 && &v[0] == &b[1]; got != alias {
			t.Errorf("%s: aliases the input = %v, want %v", in, got, alias)
		}
	}
}

// TestScannerNoAllocs: once its scratch buffer has grown, a scanner
// reads escaped keys and strings without allocating.
func TestScannerNoAllocs(t *testing.T) {
	b := []byte(`{"k\u00e9":"a\nb", "x":"\ud83e\udd99", "n":[1.5e3,true,null,{"x":{}}]}`)
	var s Scanner
	walk := func() {
		s.Reset(b, MaxDepth)
		s.Peek()
		s.Enter()
		for first := true; ; first = false {
			if _, ok, err := s.Member(first); err != nil || !ok {
				return
			}
			var err error
			if s.Peek() == '"' {
				_, err = s.String()
			} else {
				err = s.Skip()
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	walk() // grows the scratch buffer
	if a := testing.AllocsPerRun(100, walk); a != 0 {
		t.Errorf("%v allocs per document, want 0", a)
	}
}

var stringInputs = []struct{ name, s string }{
	{"ascii", `"You are a helpful assistant. Summarise the following text in three sentences."`},
	{"utf8", `"日本語のテキスト 🦙 with héllo and ünïcode mixed in"`},
	{"escapes", `"line one\nline \"two\"\twith\\ backslashes \u00e9 and \ud83e\udd99"`},
}

// BenchmarkString is the cost of reading one string, decoded, with a
// warm scratch buffer.
func BenchmarkString(b *testing.B) {
	for _, in := range stringInputs {
		b.Run(in.name, func(b *testing.B) {
			doc := []byte(in.s)
			var s Scanner
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				s.Reset(doc, MaxDepth)
				if _, err := s.String(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestNumber(t *testing.T) {
	for in, want := range map[string]string{"0": "0", "-0.5e+3,": "-0.5e+3", "12]": "12", "x": "", "-": "", "1.e": "", "01": "0"} {
		var s Scanner
		s.Reset([]byte(in), MaxDepth)
		text, _, err := s.Number()
		if string(text) != want || (err == nil) != (want != "") {
			t.Errorf("%q: got %q, %v; want %q", in, text, err, want)
		}
	}
}
