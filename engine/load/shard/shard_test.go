package shard

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Spec
		err  string
	}{
		{"2/8", Spec{2, 8}, ""},
		{" 0/1 ", Spec{0, 1}, ""},
		{"8/8", Spec{}, "want 0 <= i < n"},
		{"-1/4", Spec{}, "want 0 <= i < n"},
		{"0/0", Spec{}, "want 0 <= i < n"},
		{"x", Spec{}, "want i/n"},
		{"1/x", Spec{}, "want i/n"},
		{"", Spec{}, "want i/n"},
	} {
		got, err := Parse("shard", c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "--shard") {
				t.Errorf("Parse(%q) = %v, %v; want an error naming --shard with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// Every item is owned by exactly one shard, the shares add up, and Global
// numbers a shard's items in one process's order.
func TestSharesPartitionTheWork(t *testing.T) {
	for n := int64(1); n <= 5; n++ {
		for total := int64(0); total <= 17; total++ {
			var sum int64
			for i := range n {
				s := Spec{i, n}
				sum += s.Share(total)
				var owned []int64
				for k := range total {
					if s.Owns(k) {
						owned = append(owned, k)
					}
				}
				if int64(len(owned)) != s.Share(total) {
					t.Errorf("%v owns %d of %d, Share says %d", s, len(owned), total, s.Share(total))
				}
				for local, k := range owned {
					if g := s.Global(int64(local)); g != k {
						t.Errorf("%v: Global(%d) = %d, want %d", s, local, g, k)
					}
				}
			}
			if sum != total {
				t.Errorf("n=%d: shares of %d add up to %d", n, total, sum)
			}
		}
	}
	var off Spec
	if off.On() || !off.Owns(5) || off.Share(7) != 7 || off.Global(3) != 3 {
		t.Error("the zero Spec must behave as one process")
	}
}

func TestSeedsDifferByIndexAndRun(t *testing.T) {
	seen := map[uint64]bool{}
	for run := uint64(0); run < 4; run++ {
		for i := range int64(8) {
			s := Spec{i, 8}.Seed(run)
			if seen[s] {
				t.Errorf("seed of shard %d of run seed %d repeats", i, run)
			}
			seen[s] = true
			if s != (Spec{i, 8}).Seed(run) {
				t.Error("Seed is not a function of run seed and index")
			}
		}
	}
}
