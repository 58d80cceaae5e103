// Package shard splits one run's work among n processes (`llmload run
// --shard i/n`) so that together they send exactly what one process would.
// Work items are numbered in the order one process would take them (trace
// row k, user u, session start k, 0-based); shard i takes those with
// number mod n == i. Every shard still walks the whole sequence (reads
// every row, draws every arrival), so whatever is drawn in order (a
// synthetic trace, a Poisson process, the Lua arrival function) comes out
// as in one process, and only then keeps its own part.
//
// A Spec is a value; its methods are safe for concurrent use.
package shard

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/llmload/llmload/engine/shared/randdist"
)

// Spec is one shard of a run: Index (0-based) of Count. The zero value is
// "not sharded" and behaves as Index 0 of 1.
type Spec struct {
	Index, Count int64
}

// Parse reads "i/n" (0 <= i < n); flag names the flag in errors.
func Parse(flag, s string) (Spec, error) {
	is, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, err1 := strconv.ParseInt(is, 10, 64)
	n, err2 := strconv.ParseInt(ns, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return Spec{}, fmt.Errorf("--%s %q: want i/n, the 0-based shard index and the shard count, e.g. --%s 2/8", flag, s, flag)
	}
	if n < 1 || i < 0 || i >= n {
		return Spec{}, fmt.Errorf("--%s %q: want 0 <= i < n (shards are numbered 0 to n-1), e.g. --%s %d/%d", flag, s, flag, max(n-1, 0), max(n, 1))
	}
	return Spec{Index: i, Count: n}, nil
}

// On reports whether the run is split (Count > 1).
func (s Spec) On() bool { return s.Count > 1 }

func (s Spec) n() int64 { return max(s.Count, 1) }

// Owns reports whether work item k (0-based, in one process's order) is
// this shard's.
func (s Spec) Owns(k int64) bool { return k%s.n() == s.Index }

// Share is how many of the items 0..total-1 are this shard's: total/n,
// one more for the shards below total mod n. The shares of all shards add
// up to total exactly.
func (s Spec) Share(total int64) int64 {
	n := s.n()
	q, r := total/n, total%n
	if s.Index < r {
		return q + 1
	}
	return q
}

// Global is the one-process number of this shard's local-th item
// (0-based): local*n + index.
func (s Spec) Global(local int64) int64 { return local*s.n() + s.Index }

// Seed derives the shard's own seed from the run's: splitmix64 of the run
// seed and the index, so shards of one run get unrelated streams and the
// same run seed gives the same shard seeds.
func (s Spec) Seed(run uint64) uint64 { return Mix(run, uint64(s.Index)) }

// String is "i/n".
func (s Spec) String() string { return fmt.Sprintf("%d/%d", s.Index, s.n()) }

// Mix folds two words into one well-mixed word: a splitmix64 step
// (golden-ratio increment, then the finaliser) of each.
func Mix(a, b uint64) uint64 { return splitmix64(splitmix64(a) ^ b) }

func splitmix64(x uint64) uint64 { return randdist.Mix64(x + 0x9e3779b97f4a7c15) }
