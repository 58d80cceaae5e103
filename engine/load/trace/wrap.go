package trace

import (
	"fmt"
	"io"
	"time"
)

// Wrappers that select rows of another source. Each owns its source (Close
// closes it) and passes on the source's SkipReporter and FailedReporter
// counts, so a wrapped reader still reports what it left out. Like every
// Source they are not safe for concurrent use.

// wrapped forwards Close and the reporters to the inner source.
type wrapped struct {
	src Source
	Reports
}

func wrap(src Source) wrapped { return wrapped{src, Reports{src}} }

func (w wrapped) Close() error { return w.src.Close() }

// Reports forwards the SkipReporter and FailedReporter counts of the
// source a wrapper owns (zero when it has none). A wrapper outside this
// package embeds it too, so wrapping a reader never hides its counts from
// the end-of-run report.
type Reports struct{ Inner any }

func (r Reports) Skipped() int64 {
	if s, ok := r.Inner.(SkipReporter); ok {
		return s.Skipped()
	}
	return 0
}

func (r Reports) SkipReasons() []string {
	if s, ok := r.Inner.(SkipReporter); ok {
		return s.SkipReasons()
	}
	return nil
}

func (r Reports) FailedSkipped() int64 {
	if s, ok := r.Inner.(FailedReporter); ok {
		return s.FailedSkipped()
	}
	return 0
}

// Skip returns a source that leaves out the first n rows of src (none when
// n <= 0) and then yields the rest.
func Skip(src Source, n int64) Source {
	return &skipper{wrapped: wrap(src), left: n}
}

type skipper struct {
	wrapped
	left int64
}

func (s *skipper) Next() (Row, error) {
	for s.left > 0 {
		if _, err := s.src.Next(); err != nil {
			return Row{}, err
		}
		s.left--
	}
	return s.src.Next()
}

// Window returns a source that yields the rows of src whose At lies in
// [first+from, first+to), where first is the At of the first row src
// yields: from and to are offsets into the trace, as a replay sees it.
// Rows are assumed to be in time order (replay assumes it too), so the
// window ends at the first row at or past first+to and the rest of the
// file is not read. to <= 0 means no end.
func Window(src Source, from, to time.Duration) Source {
	return &window{wrapped: wrap(src), from: from, to: to}
}

type window struct {
	wrapped
	from, to time.Duration
	started  bool
	first    time.Duration
	done     bool
}

func (w *window) Next() (Row, error) {
	if w.done {
		return Row{}, io.EOF
	}
	for {
		row, err := w.src.Next()
		if err != nil {
			return Row{}, err
		}
		if !w.started {
			w.started, w.first = true, row.At
		}
		off := row.At - w.first
		if w.to > 0 && off >= w.to {
			w.done = true
			return Row{}, io.EOF
		}
		if off >= w.from {
			return row, nil
		}
	}
}

// Shard returns a source that yields every n-th row of src starting with
// the i-th (0-based): rows i, i+n, i+2n, ... With one shard per client,
// n clients replay disjoint parts of a trace that together are all of it.
// It panics unless 0 <= i < n.
func Shard(src Source, i, n int64) Source {
	if n < 1 || i < 0 || i >= n {
		panic(fmt.Sprintf("trace.Shard(%d, %d): want 0 <= i < n", i, n))
	}
	return &shard{wrapped: wrap(src), i: i, n: n}
}

type shard struct {
	wrapped
	i, n int64
	pos  int64 // rows of src read so far
}

func (s *shard) Next() (Row, error) {
	for {
		row, err := s.src.Next()
		if err != nil {
			return Row{}, err
		}
		p := s.pos
		s.pos++
		if p%s.n == s.i {
			return row, nil
		}
	}
}
