// Package trace reads request traces and generates synthetic ones: the
// stream of rows (arrival instant, prompt length, output length) that the
// planner turns into requests.
//
// Readers stream: a trace of tens of millions of rows is read at millions of
// rows per second with a fixed-size buffer, never loaded whole. A malformed
// row stops the read with an error naming file:line, unless Options.SkipBad
// asks for malformed rows to be counted and skipped.
//
// Sessions (multi-turn conversations, session.go) come from a session
// JSON-lines file, streamed, or are rebuilt from a Mooncake trace, which
// is read whole (bounded) because a turn's earlier turn may be anywhere
// before it.
//
// Formats and the figures behind the synthetic source are described in
// docs/traces.md.
package trace

import (
	"errors"
	"io"
	"strconv"
	"time"
)

// Row is one request of a trace.
type Row struct {
	// At is the arrival instant since the source's epoch: the Unix epoch for
	// timestamped traces (UTC), 0-based for synthetic ones. Only differences
	// between rows matter to a replay.
	At              time.Duration
	ContextTokens   int
	GeneratedTokens int
	Line            int   // 1-based line in the file; 0 for synthetic rows
	HashIDs         []int // Mooncake prefix blocks; nil for sources without them
	// BlockSize is the prompt tokens each of HashIDs stands for; 0 means
	// the run's default (Mooncake: 512).
	BlockSize int
	// Failed marks a request the trace records as failed (BurstGPT: zero
	// response tokens). Readers skip such rows unless asked to keep them.
	Failed bool
	// Fields holds the trace's other columns (CSV: column name to the
	// text; JSONL: key to the decoded JSON value), only when the reader
	// was asked to keep them; nil otherwise. A reader allocates a new map
	// per row, so a Row may be kept.
	Fields map[string]any
}

// Source yields rows in order. Next returns io.EOF at the end; any other
// error is final too, and later calls return it again.
//
// A Source is not safe for concurrent use: one goroutine (the planner) owns it.
type Source interface {
	Next() (Row, error)
	Close() error
}

// Options tune how a reader treats its input.
type Options struct {
	// SkipBad counts and skips malformed rows instead of failing on the
	// first one. A file that is not a trace of the expected format (a bad
	// header) still fails.
	SkipBad bool
}

// FailedReporter is implemented by sources that leave out the rows a trace
// marks as failed requests (Row.Failed), so the end-of-run report can say
// how many well-formed rows were not replayed.
type FailedReporter interface {
	FailedSkipped() int64
}

// SkipReporter is implemented by sources that can skip malformed rows, so
// the end-of-run report can say how many were skipped and why.
type SkipReporter interface {
	Skipped() int64        // rows skipped under Options.SkipBad
	SkipReasons() []string // the first few reasons, each starting with file:line
}

// ErrBadRow is wrapped by every malformed-row error (see RowError).
var ErrBadRow = errors.New("malformed trace row")

// ErrNotAzure is wrapped by the error of a file whose header is not the
// Azure LLM inference trace header.
var ErrNotAzure = errors.New("not an Azure LLM inference trace")

// RowError is a malformed row: where it is and what is wrong with it.
type RowError struct {
	Name   string // file name as given to the reader
	Line   int    // 1-based line
	Reason string // what is wrong, e.g. `column 2 (ContextTokens) "abc" is not an integer`
}

func (e *RowError) Error() string {
	return e.Name + ":" + strconv.Itoa(e.Line) + ": " + e.Reason +
		"; fix the row or pass --skip-bad-rows to skip malformed rows"
}

// Unwrap makes errors.Is(err, ErrBadRow) true.
func (e *RowError) Unwrap() error { return ErrBadRow }

// Limit returns a source that yields at most n rows of src (none when
// n <= 0) and then io.EOF. Close closes src. The result reports src's
// skipped rows when src is a SkipReporter, so wrapping a reader does not
// hide them from the end-of-run report.
func Limit(src Source, n int64) Source {
	return &limited{src: src, Reports: Reports{src}, left: n}
}

type limited struct {
	src Source
	Reports
	left int64
}

func (l *limited) Next() (Row, error) {
	if l.left <= 0 {
		return Row{}, io.EOF
	}
	row, err := l.src.Next()
	if err == nil {
		l.left--
	}
	return row, err
}

func (l *limited) Close() error { return l.src.Close() }

// SkipCounts is summary.json's "skipped_rows": the rows of a source that
// were read but not replayed.
type SkipCounts struct {
	Malformed int64    `json:"malformed"`         // skipped under --skip-bad-rows / skip_bad
	Failed    int64    `json:"failed"`            // rows the trace marks as failed requests
	Reasons   []string `json:"reasons,omitempty"` // the first few malformed rows, file:line and why
}

// SkipsOf reads a source's skip counts (zero for a source that skips
// nothing). Call it after the source's last Next: it reads the counters
// of a source that is not safe for concurrent use.
func SkipsOf(src any) SkipCounts {
	var c SkipCounts
	if r, ok := src.(SkipReporter); ok {
		c.Malformed, c.Reasons = r.Skipped(), r.SkipReasons()
	}
	if r, ok := src.(FailedReporter); ok {
		c.Failed = r.FailedSkipped()
	}
	return c
}
