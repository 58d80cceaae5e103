package trace

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
)

// lineReader is the part the BurstGPT/CSV, Mooncake and JSONL readers
// share: buffered line reading with line numbers, the rule for blank lines
// (fine at the end of a file, malformed in the middle), the sticky error,
// SkipBad accounting and Close. The Azure reader embeds it too.
type lineReader struct {
	kind    string // "burstgpt trace", for messages
	name    string
	opt     Options
	file    io.Closer // set by the Open functions; a reader passed in is not ours to close
	br      *bufio.Reader
	line    int   // lines consumed so far
	atEOF   bool  // the underlying reader is exhausted
	err     error // sticky: io.EOF or the error that ended the read
	closed  bool
	skipped int64
	reasons []string
	// A blank line is fine at the end of a file but a malformed row in the
	// middle, which is only known once a non-blank line follows.
	blankFrom, blanks int
}

func newLineReader(rd io.Reader, kind, name string, opt Options, size int) lineReader {
	return lineReader{kind: kind, name: name, opt: opt, br: bufio.NewReaderSize(rd, size)}
}

// Skipped returns the number of rows skipped under Options.SkipBad.
func (r *lineReader) Skipped() int64 { return r.skipped }

// SkipReasons returns the reasons of the first skipped rows (at most ten),
// each starting with file:line.
func (r *lineReader) SkipReasons() []string {
	return append([]string(nil), r.reasons...)
}

// Close releases the file the reader opened. Next after Close fails.
func (r *lineReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.err == nil || r.err == io.EOF {
		r.err = fmt.Errorf("%s %s: Next after Close: %w", r.kind, r.name, os.ErrClosed)
	}
	if r.file != nil {
		return r.file.Close()
	}
	return nil
}

// bad records a malformed row: the error to return, or nil when SkipBad
// counts and skips it.
func (r *lineReader) bad(line int, p problem) error {
	if !r.opt.SkipBad {
		r.err = &RowError{Name: r.name, Line: line, Reason: p.String()}
		return r.err
	}
	r.skipped++
	if len(r.reasons) < maxReasons {
		// Formatted only for the first few, so a file full of bad rows
		// costs no allocation per row.
		r.reasons = append(r.reasons, fmt.Sprintf("%s:%d: %s", r.name, line, p))
	}
	return nil
}

// fail makes err the reader's final error.
func (r *lineReader) fail(err error) error {
	r.err = err
	return err
}

// readLine returns the next line without its line end, counting lines. A
// line longer than the buffer is consumed whole and reported as tooLong.
// err is io.EOF only when no byte is left, or a read error naming the line.
func (r *lineReader) readLine() (b []byte, tooLong bool, err error) {
	if r.atEOF {
		return nil, false, io.EOF
	}
	b, err = r.br.ReadSlice('\n')
	for err == bufio.ErrBufferFull {
		tooLong = true
		_, err = r.br.ReadSlice('\n')
	}
	switch {
	case err == io.EOF:
		r.atEOF = true
		if len(b) == 0 && !tooLong {
			return nil, false, io.EOF
		}
	case err != nil:
		return nil, false, fmt.Errorf("%s %s:%d: reading: %w", r.kind, r.name, r.line+1, err)
	}
	r.line++
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b, tooLong, nil
}

// nextLine returns the next line that holds a row to parse (r.line is its
// number). Blank lines followed by a row, and lines longer than the
// buffer, are malformed rows: they end the read, or are counted under
// SkipBad. At the end it returns io.EOF; errors are sticky.
func (r *lineReader) nextLine() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	for {
		b, tooLong, err := r.readLine()
		if err != nil {
			r.blanks = 0 // trailing blank lines are fine
			return nil, r.fail(err)
		}
		if !tooLong && blank(b) {
			if r.blanks == 0 {
				r.blankFrom = r.line
			}
			r.blanks++
			continue
		}
		if r.blanks > 0 {
			// Report every blank line of the run so SkipBad counts them all.
			for i := range r.blanks {
				if err := r.bad(r.blankFrom+i, problem{what: "is empty but rows follow it"}); err != nil {
					return nil, err
				}
			}
			r.blanks = 0
		}
		if tooLong {
			if err := r.bad(r.line, problem{what: whatTooLong, n: r.br.Size()}); err != nil {
				return nil, err
			}
			continue
		}
		return b, nil
	}
}

// fieldProblem describes a malformed field of a named column without
// allocating until it is formatted: col is the column's (or JSON key's)
// name, field the offending text (aliasing the read buffer, so it must be
// formatted before the next read).
type fieldProblem struct {
	what  string // "" = no problem
	col   string // column or key name; "" = the whole line
	index int    // 1-based CSV column; 0 for JSON keys
	field []byte
	have  int // column count, for whatColumns
	want  int
}

func (p fieldProblem) ok() bool { return p.what == "" }

func (p fieldProblem) String() string {
	switch {
	case p.what == whatColumns:
		return fmt.Sprintf("has %d columns, want %d as in the header", p.have, p.want)
	case p.col == "":
		if p.field != nil {
			return "line " + p.what + " at " + quote(p.field)
		}
		return "line " + p.what
	case p.index > 0 && p.field != nil:
		return fmt.Sprintf("column %d (%s) %s %s", p.index, p.col, quote(p.field), p.what)
	case p.index > 0:
		return fmt.Sprintf("column %d (%s) %s", p.index, p.col, p.what)
	case p.field != nil:
		return "key " + strconv.Quote(p.col) + " " + quote(p.field) + " " + p.what
	}
	return "key " + strconv.Quote(p.col) + " " + p.what
}

// badField records a malformed row described by a fieldProblem.
func (r *lineReader) badField(line int, p fieldProblem) error {
	if !r.opt.SkipBad {
		r.err = &RowError{Name: r.name, Line: line, Reason: p.String()}
		return r.err
	}
	r.skipped++
	if len(r.reasons) < maxReasons {
		r.reasons = append(r.reasons, fmt.Sprintf("%s:%d: %s", r.name, line, p))
	}
	return nil
}
