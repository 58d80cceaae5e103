// Package didyoumean suggests the known word a mistyped one was meant to
// be, for error messages of every input llmload reads (scenario fields,
// threshold metrics, options). A leaf: it imports nothing of llmload.
package didyoumean

// Suggest returns " (did you mean x?)" for the known word nearest to
// word, when one is close enough to be a typo: at most 2 edits (1 for
// words of up to 4 letters, where 2 edits make another word), or word is
// a prefix of it or it of word ("skip" for "skip_bad"). "" when none is.
func Suggest(word string, known []string) string {
	best, bestD := "", 3
	if len(word) <= 4 {
		bestD = 2
	}
	for _, k := range known {
		d := Distance(word, k)
		if len(word) >= 3 && (len(k) >= len(word) && k[:len(word)] == word || len(word) >= len(k) && word[:len(k)] == k) {
			d = 1
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// Distance is the Levenshtein distance of a and b, in bytes.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
