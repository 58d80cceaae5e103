package prompt

import (
	"strconv"
	"strings"
	"testing"
)

func TestWordList(t *testing.T) {
	list := Words()
	if len(list) != NumWords {
		t.Fatalf("%d words, want %d", len(list), NumWords)
	}
	seen := make(map[string]bool, len(list))
	for i, w := range list {
		if len(w) < 3 || len(w) > 10 {
			t.Errorf("word %d %q: length %d outside 3..10", i, w, len(w))
		}
		for _, r := range w {
			if r < 'a' || r > 'z' {
				t.Errorf("word %d %q: not lowercase ASCII", i, w)
				break
			}
		}
		if seen[w] {
			t.Errorf("word %q listed twice", w)
		}
		seen[w] = true
	}
	list[0] = "changed"
	if Words()[0] == "changed" {
		t.Error("Words returned the package's own array")
	}
}

func TestAppendTextShape(t *testing.T) {
	valid := make(map[string]bool)
	for _, w := range Words() {
		valid[w] = true
	}
	src := NewSource(1, 2)
	for _, n := range []int{1, 2, 5, 6, 7, 100, 1001} {
		out := src.AppendText([]byte("prefix:"), n)
		if !strings.HasPrefix(string(out), "prefix:") {
			t.Fatalf("n=%d: prefix lost: %.20q", n, out)
		}
		text := string(out[len("prefix:"):])
		if strings.HasPrefix(text, " ") || strings.HasSuffix(text, " ") || strings.Contains(text, "  ") {
			t.Fatalf("n=%d: stray spaces in %.60q", n, text)
		}
		fields := strings.Split(text, " ")
		if len(fields) != n {
			t.Fatalf("n=%d: got %d words", n, len(fields))
		}
		for _, f := range fields {
			if !valid[f] {
				t.Fatalf("n=%d: %q is not in the word list", n, f)
			}
		}
	}
	if out := src.AppendText([]byte("x"), 0); string(out) != "x" {
		t.Errorf("n=0 appended: %q", out)
	}
	if out := src.AppendText(nil, -3); len(out) != 0 {
		t.Errorf("n<0 appended: %q", out)
	}
}

func TestAppendTextReusesCapacity(t *testing.T) {
	src := NewSource(1, 1)
	buf := make([]byte, 0, 64<<10)
	out := src.AppendText(buf, 1000)
	if &out[0] != &buf[:1][0] {
		t.Error("AppendText reallocated although the buffer was large enough")
	}
}

func TestStreamsAreDeterministicAndDistinct(t *testing.T) {
	a := string(NewSource(7, 42).AppendText(nil, 50))
	b := string(NewSource(7, 42).AppendText(nil, 50))
	if a != b {
		t.Fatal("same seed and stream gave different text")
	}
	var s Source
	s.Seed(7, 42)
	if c := string(s.AppendText(nil, 50)); c != a {
		t.Fatal("reseeding a Source did not restart its stream")
	}
	if c := string(NewSource(8, 42).AppendText(nil, 50)); c == a {
		t.Error("different seeds gave the same text")
	}
	if c := string(NewSource(7, 43).AppendText(nil, 50)); c == a {
		t.Error("different streams gave the same text")
	}
	if StreamID("a", 1) == StreamID("b", 1) || StreamID("a", 1) == StreamID("a", 2) {
		t.Error("StreamID collides for different scenarios or sequence numbers")
	}
}

// Consecutive sequence numbers must not share prefixes: that is the whole
// point of per-request streams (no accidental prefix-cache hits).
func TestNoSharedPrefixes(t *testing.T) {
	const n = 20000
	seen := make(map[string]int64, n)
	var s Source
	buf := make([]byte, 0, 256)
	for seq := int64(0); seq < n; seq++ {
		s.Seed(99, StreamID("scenario", seq))
		buf = s.AppendText(buf[:0], 4) // 44 random bits: a chance collision is ~1e-5
		if prev, dup := seen[string(buf)]; dup {
			t.Fatalf("requests %d and %d start with the same 4 words %q", prev, seq, buf)
		}
		seen[string(buf)] = seq
	}
}

func TestWordsAreUniform(t *testing.T) {
	idx := make(map[string]int)
	for i, w := range Words() {
		idx[w] = i
	}
	counts := make([]int, NumWords)
	src := NewSource(3, 3)
	const draws = NumWords * 100
	for _, w := range strings.Fields(string(src.AppendText(nil, draws))) {
		counts[idx[w]]++
	}
	// Each count is ~Poisson(100): below 40 or above 170 is > 6 sigma.
	for i, c := range counts {
		if c < 40 || c > 170 {
			t.Errorf("word %d drawn %d times in %d draws, expected ~100", i, c, draws)
		}
	}
}

func TestAppendTokenIDs(t *testing.T) {
	src := NewSource(5, 5)
	out := src.AppendTokenIDs([]byte("["), 10000)
	if out[0] != '[' {
		t.Fatal("prefix lost")
	}
	parts := strings.Split(string(out[1:]), ",")
	if len(parts) != 10000 {
		t.Fatalf("got %d ids, want 10000", len(parts))
	}
	lo, hi := MaxTokenID, MinTokenID
	for _, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil {
			t.Fatalf("id %q: %v", p, err)
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo < MinTokenID || hi > MaxTokenID {
		t.Fatalf("ids span [%d, %d], outside [%d, %d]", lo, hi, MinTokenID, MaxTokenID)
	}
	// 10000 uniform draws over 29001 values reach both ends within ~1%.
	if lo > MinTokenID+300 || hi < MaxTokenID-300 {
		t.Errorf("ids span only [%d, %d]", lo, hi)
	}
	if got := src.AppendTokenIDs(nil, 0); len(got) != 0 {
		t.Errorf("n=0 appended %q", got)
	}
	if got := string(src.AppendTokenIDs(nil, 1)); strings.Contains(got, ",") {
		t.Errorf("one id written as %q", got)
	}
}

func BenchmarkAppendText(b *testing.B) {
	for _, n := range []int{1000, 8000} {
		b.Run(strconv.Itoa(n)+"words", func(b *testing.B) {
			var s Source
			buf := make([]byte, 0, n*12)
			buf = NewSource(0, 0).AppendText(buf, n)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s.Seed(1, uint64(i))
				buf = s.AppendText(buf[:0], n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/token")
		})
	}
}

func BenchmarkAppendTokenIDs(b *testing.B) {
	const n = 8000
	var s Source
	buf := NewSource(0, 0).AppendTokenIDs(make([]byte, 0, n*6), n)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Seed(1, uint64(i))
		buf = s.AppendTokenIDs(buf[:0], n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/token")
}
