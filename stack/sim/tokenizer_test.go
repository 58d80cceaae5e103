package sim

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestNextWordMatchesFields(t *testing.T) {
	for _, s := range []string{"", "  ", "a", " a b  c ", "x\u00a0y", "tab\tnew\nline\r\vfeed\f", "\u3000wide\u2003space\u0085nel", "\xffbad utf8\xfe", "end "} {
		checkFields(t, s)
	}
}

func checkFields(t *testing.T, s string) {
	t.Helper()
	want := strings.Fields(s)
	var got []string
	for i := 0; ; {
		a, b := nextWord(s, i)
		if a == len(s) {
			break
		}
		got = append(got, s[a:b])
		i = b
	}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
		t.Fatalf("%q: words %q, strings.Fields %q", s, got, want)
	}
	if n := countText(s); n != len(want) {
		t.Fatalf("%q: countText %d, want %d", s, n, len(want))
	}
	ids := appendText(nil, s)
	for i, w := range want {
		if ids[i] != wordID(w) || ids[i] < firstWordID || ids[i] >= vocabSize {
			t.Fatalf("%q: id %d for %q", s, ids[i], w)
		}
	}
}

func FuzzTokenizer(f *testing.F) {
	for _, s := range []string{"hello world", " a\tb\nc ", "\u00a0x\u2028y", "\xff\xfe", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkFields(t, s) })
}

func TestWordIDsAreFNV(t *testing.T) {
	// FNV-1a-32("hello") = 0x4f9f2cab; % 128000 + 1000.
	if got, want := wordID("hello"), int32(0x4f9f2cab%128000+1000); got != want {
		t.Fatalf("wordID(hello) = %d, want %d", got, want)
	}
}

// The Read path (used when fasthttp cannot use WriteTo) yields the same
// bytes as WriteTo.
func TestReadMatchesWriteTo(t *testing.T) {
	cfg := testConfig()
	cfg.TTFT, cfg.ITL = 0, 0
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mk := func() *request {
		g := &genRequest{chat: true, stream: true, includeUsage: true, continuousUsage: true, maxTokens: 40, promptTokens: 12}
		r := &request{s: s, g: g, out: newOutput(5, 40, 0, true), wake: make(chan struct{}, 1)}
		r.head = s.renderHead(nil, "chatcmpl-00000000000000000000000000000000", 1, true)
		s.admit(r)
		return r
	}
	var viaWriteTo bytes.Buffer
	if _, err := mk().WriteTo(&viaWriteTo); err != nil {
		t.Fatal(err)
	}
	r := mk()
	var viaRead bytes.Buffer
	buf := make([]byte, 7) // smaller than any event
	for {
		n, err := r.Read(buf)
		viaRead.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if viaRead.String() != viaWriteTo.String() || !strings.HasSuffix(viaRead.String(), "data: [DONE]\n\n") {
		t.Fatalf("Read and WriteTo differ:\n%s\n---\n%s", viaRead.String(), viaWriteTo.String())
	}
}
