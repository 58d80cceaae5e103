package trace

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// ErrFormat is wrapped by the error of a file that is not a trace of the
// format its reader expects (a CSV header without the needed columns, a
// JSONL file whose first line is not a JSON object).
var ErrFormat = errors.New("not a trace of the expected format")

// CSVConfig says which columns of a header-named CSV trace hold a row's
// parts. Column names are matched to the header ignoring letter case and
// surrounding spaces or quotes. A name left empty is not read: the Row's
// field stays 0 (a trace without timestamps suits rate-driven arrivals).
type CSVConfig struct {
	Timestamp       string // arrival instant: a number of TimeUnit, or a date (2023-11-16 18:17:03.98)
	ContextTokens   string // prompt length
	GeneratedTokens string // output length
	// TimeUnit is the unit of numeric timestamps (time.Second,
	// time.Millisecond, ...); 0 means seconds.
	TimeUnit time.Duration
	// KeepFields puts every other column into Row.Fields (name to text).
	// Off, a row costs no allocation.
	KeepFields bool
	// ZeroOutputFailed marks rows with GeneratedTokens = 0 as failed
	// requests (Row.Failed), BurstGPT's convention.
	ZeroOutputFailed bool
	// KeepFailed yields failed rows; by default they are skipped and
	// counted (FailedSkipped).
	KeepFailed bool
}

// CSVReader streams a CSV trace whose first line names the columns
// (BurstGPT, or any CSV through a CSVConfig). Fields may be quoted as RFC
// 4180 writes them ("a, b", "say ""hi"""), but a quoted field may not span
// lines.
//
// A CSVReader is not safe for concurrent use: one goroutine owns it.
type CSVReader struct {
	lineReader
	cfg     CSVConfig
	what    string // "BurstGPT trace" or "CSV trace", for header errors
	header  bool
	names   []string // the header's column names, trimmed
	ts      int      // column indexes; -1 = not read
	ctx     int
	gen     int
	cols    [][]byte // the current line's fields
	scratch []byte   // unescaped quoted fields
	failed  int64
}

// BurstGPT's column names (https://github.com/HPMLL/BurstGPT): Timestamp
// is seconds from the start of the trace; Model, Total tokens, Log Type and
// Session ID are kept as fields when asked.
const (
	BurstGPTTimestamp = "Timestamp"
	BurstGPTRequest   = "Request tokens"
	BurstGPTResponse  = "Response tokens"
)

// BurstGPTOptions tune the BurstGPT reader.
type BurstGPTOptions struct {
	// KeepFailed yields the failed requests (Response tokens = 0) with
	// Row.Failed set; by default they are skipped and counted, as the
	// trace's own "without_fails" files leave them out.
	KeepFailed bool
	// KeepFields puts the other columns (Model, Log Type, ...) into
	// Row.Fields.
	KeepFields bool
}

func burstGPTConfig(b BurstGPTOptions) CSVConfig {
	return CSVConfig{
		Timestamp: BurstGPTTimestamp, ContextTokens: BurstGPTRequest, GeneratedTokens: BurstGPTResponse,
		TimeUnit: time.Second, KeepFields: b.KeepFields, ZeroOutputFailed: true, KeepFailed: b.KeepFailed,
	}
}

// OpenBurstGPT opens a BurstGPT trace (Timestamp, Model, Request tokens,
// Response tokens, Total tokens, Log Type; the columns may come in any
// order and only the first three are required) and checks its header.
func OpenBurstGPT(path string, b BurstGPTOptions, opt Options) (*CSVReader, error) {
	return openCSV(path, "BurstGPT trace", burstGPTConfig(b), opt)
}

// NewBurstGPTReader reads a BurstGPT trace from rd; name prefixes error
// messages. The header is checked by the first Next. Close does not close
// rd.
func NewBurstGPTReader(rd io.Reader, name string, b BurstGPTOptions, opt Options) *CSVReader {
	return newCSVReader(rd, "BurstGPT trace", name, burstGPTConfig(b), opt, bufSize)
}

// OpenCSV opens a CSV trace with a header row and checks that the header
// has the columns cfg names.
func OpenCSV(path string, cfg CSVConfig, opt Options) (*CSVReader, error) {
	return openCSV(path, "CSV trace", cfg, opt)
}

// NewCSVReader reads a CSV trace from rd; name prefixes error messages.
// The header is checked by the first Next. Close does not close rd.
func NewCSVReader(rd io.Reader, name string, cfg CSVConfig, opt Options) *CSVReader {
	return newCSVReader(rd, "CSV trace", name, cfg, opt, bufSize)
}

func openCSV(path, what string, cfg CSVConfig, opt Options) (*CSVReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; check the path", what, err)
	}
	r := newCSVReader(f, what, path, cfg, opt, bufSize)
	r.file = f
	if err := r.readHeader(); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func newCSVReader(rd io.Reader, what, name string, cfg CSVConfig, opt Options, size int) *CSVReader {
	if cfg.TimeUnit <= 0 {
		cfg.TimeUnit = time.Second
	}
	return &CSVReader{
		lineReader: newLineReader(rd, what, name, opt, size),
		cfg:        cfg, what: what, ts: -1, ctx: -1, gen: -1,
	}
}

// Columns returns the header's column names (after the header is read).
func (r *CSVReader) Columns() []string { return append([]string(nil), r.names...) }

// FailedSkipped returns the number of failed-request rows skipped (see
// CSVConfig.KeepFailed).
func (r *CSVReader) FailedSkipped() int64 { return r.failed }

// readHeader reads the first line and finds the configured columns. Its
// failure is final even under SkipBad.
func (r *CSVReader) readHeader() error {
	r.header = true
	b, tooLong, err := r.readLine()
	if err == io.EOF {
		return r.fail(fmt.Errorf("%s:1: %w: the file is empty; want a %s with a header row naming its columns",
			r.name, ErrFormat, r.what))
	}
	if err != nil {
		return r.fail(err)
	}
	if tooLong {
		return r.fail(fmt.Errorf("%s:1: %w: the first line is longer than %s; want a header row naming the columns",
			r.name, ErrFormat, byteSize(r.br.Size())))
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	cols, what := splitCSV(b, nil, &r.scratch)
	if what != "" {
		return r.fail(fmt.Errorf("%s:1: %w: the header %s", r.name, ErrFormat, what))
	}
	r.names = make([]string, len(cols))
	for i, c := range cols {
		r.names[i] = string(c)
	}
	find := func(role, col string) (int, error) {
		if col == "" {
			return -1, nil
		}
		at := -1
		for i, n := range r.names {
			if strings.EqualFold(n, col) {
				if at >= 0 {
					return -1, fmt.Errorf("%s:1: %w: the header names column %q twice (columns %d and %d); rename one",
						r.name, ErrFormat, col, at+1, i+1)
				}
				at = i
			}
		}
		if at < 0 {
			return -1, fmt.Errorf("%s:1: %w: the header has no column %q for the %s; its columns are %s%s",
				r.name, ErrFormat, col, role, quoteColumns(b, r.names), r.headerHint(b))
		}
		return at, nil
	}
	if r.ts, err = find("timestamp", r.cfg.Timestamp); err != nil {
		return r.fail(err)
	}
	if r.ctx, err = find("context tokens", r.cfg.ContextTokens); err != nil {
		return r.fail(err)
	}
	if r.gen, err = find("generated tokens", r.cfg.GeneratedTokens); err != nil {
		return r.fail(err)
	}
	r.cols = make([][]byte, 0, len(r.names))
	return nil
}

// headerHint guesses what the file is when the expected columns are missing.
func (r *CSVReader) headerHint(b []byte) string {
	switch {
	case len(b) > 0 && b[0] == '{':
		return "; the file looks like JSON lines (Mooncake?), not CSV"
	case isAzureHeader(b):
		return "; the file is an Azure LLM inference trace: use llm.trace.azure"
	case len(b) > 0 && digit(b[0]):
		return "; the file seems to have no header row: add one naming the columns"
	}
	return ""
}

// Next returns the next row, io.EOF after the last one, or an error naming
// file:line and what to do about it.
func (r *CSVReader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	if !r.header {
		if err := r.readHeader(); err != nil {
			return Row{}, err
		}
	}
	for {
		b, err := r.nextLine()
		if err != nil {
			return Row{}, err
		}
		row, p := r.parse(b)
		if !p.ok() {
			if err := r.badField(r.line, p); err != nil {
				return Row{}, err
			}
			continue
		}
		if row.Failed && !r.cfg.KeepFailed {
			r.failed++
			continue
		}
		row.Line = r.line
		return row, nil
	}
}

func (r *CSVReader) parse(b []byte) (Row, fieldProblem) {
	var what string
	r.cols, what = splitCSV(b, r.cols[:0], &r.scratch)
	if what != "" {
		return Row{}, fieldProblem{what: what}
	}
	if len(r.cols) != len(r.names) {
		return Row{}, fieldProblem{what: whatColumns, have: len(r.cols), want: len(r.names)}
	}
	var row Row
	if i := r.ts; i >= 0 {
		at, what := parseTime(r.cols[i], r.cfg.TimeUnit)
		if what != "" {
			return Row{}, fieldProblem{what: what, col: r.names[i], index: i + 1, field: r.cols[i]}
		}
		row.At = at
	}
	if i := r.ctx; i >= 0 {
		n, what := parseCount(r.cols[i])
		if what != "" {
			return Row{}, fieldProblem{what: what, col: r.names[i], index: i + 1, field: r.cols[i]}
		}
		row.ContextTokens = n
	}
	if i := r.gen; i >= 0 {
		n, what := parseCount(r.cols[i])
		if what != "" {
			return Row{}, fieldProblem{what: what, col: r.names[i], index: i + 1, field: r.cols[i]}
		}
		row.GeneratedTokens = n
		row.Failed = r.cfg.ZeroOutputFailed && n == 0
	}
	if r.cfg.KeepFields {
		row.Fields = make(map[string]any, len(r.names))
		for i, c := range r.cols {
			if i != r.ts && i != r.ctx && i != r.gen {
				row.Fields[r.names[i]] = string(c)
			}
		}
	}
	return row, fieldProblem{}
}

// splitCSV splits one CSV line into dst. Unquoted fields are trimmed of
// spaces and tabs; a field whose first non-blank byte is a double quote is
// quoted: it ends at the next lone quote, "" inside stands for one quote,
// and only blanks may follow it before the comma. Unescaped quoted fields
// are written to *scratch, so the fields alias b or *scratch and are valid
// until the next call. what describes a malformed line.
func splitCSV(b []byte, dst [][]byte, scratch *[]byte) (_ [][]byte, what string) {
	if bytes.IndexByte(b, '"') < 0 { // the common case: no quoting at all
		for {
			c := bytes.IndexByte(b, ',')
			if c < 0 {
				return append(dst, trimBlank(b)), ""
			}
			dst = append(dst, trimBlank(b[:c]))
			b = b[c+1:]
		}
	}
	if cap(*scratch) < len(b) {
		*scratch = make([]byte, 0, len(b)+len(b)/2)
	}
	s := (*scratch)[:0] // never grows past len(b): earlier fields stay valid
	for {
		f := trimLeftBlank(b)
		if len(f) == 0 || f[0] != '"' {
			c := bytes.IndexByte(b, ',')
			if c < 0 {
				return append(dst, trimBlank(b)), ""
			}
			dst = append(dst, trimBlank(b[:c]))
			b = b[c+1:]
			continue
		}
		f = f[1:]
		start := len(s)
		closed := false
		for len(f) > 0 {
			q := bytes.IndexByte(f, '"')
			if q < 0 {
				break
			}
			s = append(s, f[:q]...)
			if q+1 < len(f) && f[q+1] == '"' {
				s = append(s, '"')
				f = f[q+2:]
				continue
			}
			f = f[q+1:]
			closed = true
			break
		}
		if !closed {
			return dst, "has a quoted field without its closing quote (a quoted field may not span lines)"
		}
		dst = append(dst, s[start:len(s):len(s)])
		f = trimLeftBlank(f)
		if len(f) == 0 {
			return dst, ""
		}
		if f[0] != ',' {
			return dst, "has text after a closing quote; quote the whole field"
		}
		b = f[1:]
	}
}

func trimLeftBlank(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func trimBlank(b []byte) []byte {
	b = trimLeftBlank(b)
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
