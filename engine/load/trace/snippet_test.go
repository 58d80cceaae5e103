package trace

import (
	"strings"
	"testing"
	"time"
)

// TestErrorsDoNotLeakSettings opens environ-like and .env-like files with
// every reader: the errors must not carry the secret, whatever the
// options.
func TestErrorsDoNotLeakSettings(t *testing.T) {
	const secret = "hf_SECRETVALUE1234567890"
	files := map[string]string{
		"environ": "HOME=/root\x00HF_TOKEN=" + secret + "\x00PATH=/usr/bin\x00",
		"dotenv":  "HF_TOKEN=" + secret + "\nOTHER=1\n",
		"csv kv":  "a,b\n1,token=" + secret + "\n",
		"binary":  "\x7fELF\x02\x01" + secret + ",x\n",
	}
	readers := map[string]func(data string) Source{
		"azure": func(d string) Source { return NewAzureReader(strings.NewReader(d), "f", Options{}) },
		"csv": func(d string) Source {
			return NewCSVReader(strings.NewReader(d), "f", CSVConfig{Timestamp: "zzz", ContextTokens: "b", KeepFields: true}, Options{})
		},
		"csv cols": func(d string) Source {
			return NewCSVReader(strings.NewReader(d), "f", CSVConfig{ContextTokens: "b", TimeUnit: time.Second}, Options{})
		},
		"jsonl": func(d string) Source { return NewJSONLReader(strings.NewReader(d), "f", JSONLConfig{}, Options{}) },
	}
	for fname, data := range files {
		for rname, open := range readers {
			src := open(data)
			for range 3 {
				_, err := src.Next()
				if err == nil {
					continue
				}
				if strings.Contains(err.Error(), "SECRET") {
					t.Errorf("%s read as %s: the error quotes the secret: %v", fname, rname, err)
				}
				break
			}
		}
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"12.5x", `"12.5x"`},
		{strings.Repeat("a", 50), `"` + strings.Repeat("a", maxQuoted) + `"...`},
		{"caf\xc3\xa9\x01", `"caf???"`},
		{"API_KEY=abc", notShown},
		{"x\x00y", notShown},
		{"a = b", `"a = b"`}, // no name right before '=': not a setting
	} {
		if got := quote([]byte(tc.in)); got != tc.want {
			t.Errorf("quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func FuzzQuote(f *testing.F) {
	f.Add([]byte("HF_TOKEN=x"))
	f.Add([]byte("1,2,3"))
	f.Fuzz(func(t *testing.T, b []byte) {
		q := quote(b)
		if q == notShown {
			return
		}
		if len(q) > 2*maxQuoted+8 { // strconv.Quote may escape '"' and '\'
			t.Fatalf("quote too long: %d bytes", len(q))
		}
		for _, c := range []byte(q) {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("non-printable byte in %q", q)
			}
		}
		if secretLike(b[:min(len(b), maxQuoted)]) {
			t.Fatalf("quoted settings-like text %q", q)
		}
	})
}
