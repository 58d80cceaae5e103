package didyoumean

import "testing"

func TestSuggest(t *testing.T) {
	known := []string{"ttft", "tpot", "e2el", "concurrency", "skip_bad", "default"}
	for _, c := range []struct{ word, want string }{
		{"ttfb", " (did you mean ttft?)"},
		{"concurency", " (did you mean concurrency?)"},
		{"defualt", " (did you mean default?)"},
		{"skip", " (did you mean skip_bad?)"}, // a prefix
		{"xyzw", ""},                          // 4 letters, 3+ edits from all
		{"tt", ""},                            // too short for a prefix match
	} {
		if got := Suggest(c.word, known); got != c.want {
			t.Errorf("Suggest(%q) = %q, want %q", c.word, got, c.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2}} {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
