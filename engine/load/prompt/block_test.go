package prompt

import (
	"strconv"
	"testing"
)

// Block streams are fixed by (scenario, id) and disjoint from the request
// streams, so a block never repeats a request's own text.
func TestBlockStreamID(t *testing.T) {
	seen := map[uint64]string{}
	note := func(id uint64, what string) {
		if prev, dup := seen[id]; dup {
			t.Fatalf("%s has the stream of %s", what, prev)
		}
		seen[id] = what
	}
	for i := range 1000 {
		n := strconv.Itoa(i)
		note(BlockStreamID("a", i), "block a/"+n)
		note(BlockStreamID("b", i), "block b/"+n)
		note(StreamID("a", int64(i)), "request a/"+n)
	}
	a := string(NewSource(1, BlockStreamID("a", 7)).AppendText(nil, 20))
	b := string(NewSource(1, StreamID("a", 7)).AppendText(nil, 20))
	if a == b {
		t.Fatal("block 7 and request 7 have the same text")
	}
}
