package trace

import (
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// seqSource yields rows with At = i seconds and ContextTokens = i for
// i in [0, n), then err (io.EOF when nil). It records Close.
type seqSource struct {
	i, n   int
	err    error
	closed bool
}

func (s *seqSource) Next() (Row, error) {
	if s.i >= s.n {
		if s.err != nil {
			return Row{}, s.err
		}
		return Row{}, io.EOF
	}
	r := Row{At: time.Duration(s.i) * time.Second, ContextTokens: s.i, Line: s.i + 1}
	s.i++
	return r, nil
}

func (s *seqSource) Close() error { s.closed = true; return nil }

func tokensOf(t *testing.T, src Source) []int {
	t.Helper()
	rows, err := drainRows(t, src)
	if err != io.EOF {
		t.Fatalf("after %d rows: %v", len(rows), err)
	}
	out := []int{}
	for _, r := range rows {
		out = append(out, r.ContextTokens)
	}
	return out
}

func TestSkip(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want []int
	}{{0, []int{0, 1, 2, 3, 4}}, {-1, []int{0, 1, 2, 3, 4}}, {2, []int{2, 3, 4}}, {5, []int{}}, {9, []int{}}} {
		inner := &seqSource{n: 5}
		s := Skip(inner, tc.n)
		if got := tokensOf(t, s); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Skip(%d) = %v, want %v", tc.n, got, tc.want)
		}
		s.Close()
		if !inner.closed {
			t.Error("Close did not close the inner source")
		}
	}
	// An error while skipping is passed on.
	boom := errors.New("boom")
	if _, err := Skip(&seqSource{n: 1, err: boom}, 3).Next(); err != boom {
		t.Fatalf("error %v, want boom", err)
	}
}

func TestWindow(t *testing.T) {
	// The trace starts at 100 s: offsets count from its first row.
	shifted := func(n int) Source {
		return &offsetSource{src: &seqSource{n: n}, by: 100 * time.Second}
	}
	for _, tc := range []struct {
		from, to time.Duration
		want     []int
	}{
		{0, 0, []int{0, 1, 2, 3, 4, 5}},
		{2 * time.Second, 4 * time.Second, []int{2, 3}},
		{2500 * time.Millisecond, 0, []int{3, 4, 5}},
		{0, time.Second, []int{0}},
		{10 * time.Second, 20 * time.Second, []int{}},
	} {
		if got := tokensOf(t, Window(shifted(6), tc.from, tc.to)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Window(%v, %v) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	// The window stops reading at its end: the rest is never parsed.
	inner := &seqSource{n: 1000}
	w := Window(inner, 0, 3*time.Second)
	tokensOf(t, w)
	if inner.i != 4 {
		t.Fatalf("read %d rows of the source, want 4 (the end is known at the 4th)", inner.i)
	}
	if _, err := w.Next(); err != io.EOF {
		t.Fatalf("after the end: %v", err)
	}
}

type offsetSource struct {
	src Source
	by  time.Duration
}

func (o *offsetSource) Next() (Row, error) {
	r, err := o.src.Next()
	r.At += o.by
	return r, err
}
func (o *offsetSource) Close() error { return o.src.Close() }

func TestShard(t *testing.T) {
	var all []int
	for i := range int64(3) {
		got := tokensOf(t, Shard(&seqSource{n: 10}, i, 3))
		all = append(all, got...)
		for _, v := range got {
			if int64(v)%3 != i {
				t.Fatalf("shard %d of 3 got row %d", i, v)
			}
		}
	}
	if len(all) != 10 {
		t.Fatalf("the shards hold %d rows together, want 10: %v", len(all), all)
	}
	if got := tokensOf(t, Shard(&seqSource{n: 4}, 0, 1)); !reflect.DeepEqual(got, []int{0, 1, 2, 3}) {
		t.Fatalf("Shard(0, 1) = %v", got)
	}
	for _, bad := range [][2]int64{{3, 3}, {-1, 2}, {0, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Shard(%d, %d) did not panic", bad[0], bad[1])
				}
			}()
			Shard(&seqSource{}, bad[0], bad[1])
		}()
	}
}

// TestWrappersReport checks that wrapping a reader keeps its skip and
// failed counts visible to the end-of-run report.
func TestWrappersReport(t *testing.T) {
	data, err := os.ReadFile("testdata/burstgpt_bad_rows.csv")
	if err != nil {
		t.Fatal(err)
	}
	r := NewBurstGPTReader(strings.NewReader(string(data)), "b.csv", BurstGPTOptions{}, Options{SkipBad: true})
	var src Source = r
	src = Limit(Shard(Window(Skip(src, 0), 0, 0), 0, 1), 100)
	if got := tokensOf(t, src); len(got) != 3 {
		t.Fatalf("rows %v", got)
	}
	sr, ok1 := src.(SkipReporter)
	fr, ok2 := src.(FailedReporter)
	if !ok1 || !ok2 || sr.Skipped() != 6 || len(sr.SkipReasons()) != 6 || fr.FailedSkipped() != 1 {
		t.Fatalf("reporters lost through wrappers: %v %v", ok1, ok2)
	}
}

func TestSkipsOf(t *testing.T) {
	src := Limit(NewAzureReader(strings.NewReader("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,2,3\nx,2,3\n2023-11-16 18:15:47.6805900,3,4\n"), "a.csv", Options{SkipBad: true}), 10)
	for {
		if _, err := src.Next(); err != nil {
			break
		}
	}
	c := SkipsOf(src)
	if c.Malformed != 1 || len(c.Reasons) != 1 || !strings.HasPrefix(c.Reasons[0], "a.csv:3:") {
		t.Errorf("SkipsOf = %+v, want one malformed row at a.csv:3", c)
	}
	if c := SkipsOf(42); c.Malformed != 0 || c.Failed != 0 || c.Reasons != nil {
		t.Error("a non-source has skips")
	}
}
