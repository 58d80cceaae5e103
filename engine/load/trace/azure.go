package trace

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
)

// azureHeader is the first line of every Azure LLM inference trace (2023 and
// 2024 releases alike).
const azureHeader = "TIMESTAMP,ContextTokens,GeneratedTokens"

var azureColumns = [3]string{"TIMESTAMP", "ContextTokens", "GeneratedTokens"}

const (
	// bufSize is the read buffer: large enough that reads cost few
	// syscalls, small enough that memory stays flat. It also bounds the
	// length of a line (a real row is under 60 bytes).
	bufSize = 1 << 20
	// maxReasons is how many skip reasons are kept for the report.
	maxReasons = 10
	// maxTokens bounds a token count; more is certainly a corrupt row.
	maxTokens = math.MaxInt32
)

// AzureReader streams an Azure LLM inference trace (the 2023 release and
// the 2024 week-long one): a header TIMESTAMP,ContextTokens,GeneratedTokens
// then one row per request. See docs/traces.md for the accepted variants.
//
// An AzureReader is not safe for concurrent use: one goroutine owns it.
type AzureReader struct {
	lineReader      // line reading, SkipBad accounting, Skipped, SkipReasons, Close
	header     bool // header checked
}

// OpenAzure opens the Azure trace at path and checks its header, so a wrong
// file fails here rather than at the first row.
func OpenAzure(path string, opt Options) (*AzureReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("azure trace: %w; check the path", err)
	}
	r := NewAzureReader(f, path, opt)
	r.file = f
	if err := r.readHeader(); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// NewAzureReader reads an Azure trace from rd; name (usually the file name)
// prefixes error messages. The header is checked by the first Next. Close
// does not close rd.
func NewAzureReader(rd io.Reader, name string, opt Options) *AzureReader {
	return newAzureReader(rd, name, opt, bufSize)
}

// newAzureReader lets the fuzz test use a tiny buffer, so that the
// line-too-long path is reached by small inputs.
func newAzureReader(rd io.Reader, name string, opt Options, size int) *AzureReader {
	return &AzureReader{lineReader: newLineReader(rd, "azure trace", name, opt, size)}
}

// Next returns the next row, io.EOF after the last one, or an error naming
// file:line and what to do about it.
func (r *AzureReader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	if !r.header {
		if err := r.readHeader(); err != nil {
			return Row{}, err
		}
	}
	for {
		b, tooLong, err := r.readLine()
		if err != nil {
			r.blanks = 0 // trailing blank lines are fine
			r.err = err
			return Row{}, err
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
					return Row{}, err
				}
			}
			r.blanks = 0
		}
		if tooLong {
			if err := r.bad(r.line, problem{what: whatTooLong, n: r.br.Size()}); err != nil {
				return Row{}, err
			}
			continue
		}
		row, p := parseAzureRow(b)
		if p.what == "" {
			row.Line = r.line
			return row, nil
		}
		if err := r.bad(r.line, p); err != nil {
			return Row{}, err
		}
	}
}

// readHeader checks the first line. Its failure is final even under
// SkipBad: a file in another format would otherwise be skipped row by row.
func (r *AzureReader) readHeader() error {
	r.header = true
	b, tooLong, err := r.readLine()
	if err == io.EOF {
		r.err = fmt.Errorf("%s:1: %w: the file is empty; want the header %s then one row per request",
			r.name, ErrNotAzure, azureHeader)
		return r.err
	}
	if err != nil {
		r.err = err
		return err
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	if !tooLong && isAzureHeader(b) {
		return nil
	}
	var hint string
	switch {
	case tooLong:
		hint = fmt.Sprintf("the first line is longer than %s", byteSize(r.br.Size()))
	case len(b) > 0 && b[0] == '{':
		hint = "the file looks like JSON lines (Mooncake?), not an Azure CSV"
	case len(b) > 0 && digit(b[0]):
		hint = "the file has no header row; add " + azureHeader + " as its first line"
	default:
		hint = "use a trace from the Azure LLM inference dataset (2023 or 2024)"
	}
	r.err = fmt.Errorf("%s:1: %w: the header is %s, want %s; %s",
		r.name, ErrNotAzure, quoteLine(b), azureHeader, hint)
	return r.err
}

// isAzureHeader accepts the header with any letter case, and with fields
// padded or quoted, as spreadsheet exports write them.
func isAzureHeader(b []byte) bool {
	for i, col := range azureColumns {
		var f []byte
		if i < len(azureColumns)-1 {
			c := bytes.IndexByte(b, ',')
			if c < 0 {
				return false
			}
			f, b = b[:c], b[c+1:]
		} else {
			if bytes.IndexByte(b, ',') >= 0 {
				return false
			}
			f = b
		}
		if !bytes.EqualFold(trimField(f), []byte(col)) {
			return false
		}
	}
	return true
}

// problem describes a malformed row without allocating: it is formatted
// only when an error or a skip reason needs the text. field aliases the
// read buffer, so it must be formatted before the next read.
type problem struct {
	what  string // "" = no problem
	col   int    // 1-based column; 0 = the whole line
	field []byte
	n     int // column count for whatColumns, line limit for whatTooLong
}

const (
	whatColumns = "columns"
	whatTooLong = "too long"
)

func (p problem) String() string {
	switch {
	case p.what == whatColumns:
		return fmt.Sprintf("has %d columns, want 3 (%s)", p.n, azureHeader)
	case p.what == whatTooLong:
		return fmt.Sprintf("line is longer than %s; it is not a trace row", byteSize(p.n))
	case p.col == 0:
		return "line " + p.what
	default:
		return fmt.Sprintf("column %d (%s) %s %s", p.col, azureColumns[p.col-1], quote(p.field), p.what)
	}
}

// byteSize renders a buffer size for messages: "1 MiB" rather than 1048576.
func byteSize(n int) string {
	if n%(1<<20) == 0 {
		return strconv.Itoa(n>>20) + " MiB"
	}
	return strconv.Itoa(n) + " bytes"
}

// parseAzureRow parses TIMESTAMP,ContextTokens,GeneratedTokens in place.
func parseAzureRow(b []byte) (Row, problem) {
	c1 := bytes.IndexByte(b, ',')
	if c1 < 0 {
		return Row{}, problem{what: whatColumns, n: 1}
	}
	rest := b[c1+1:]
	c2 := bytes.IndexByte(rest, ',')
	if c2 < 0 {
		return Row{}, problem{what: whatColumns, n: 2}
	}
	last := rest[c2+1:]
	if n := bytes.Count(last, []byte{','}); n > 0 {
		return Row{}, problem{what: whatColumns, n: 3 + n}
	}
	ts, ctxF, genF := trimField(b[:c1]), trimField(rest[:c2]), trimField(last)
	at, tp := parseTimestamp(ts)
	if tp != "" {
		return Row{}, problem{what: string(tp), col: 1, field: ts}
	}
	ctx, p := parseTokens(ctxF, 2)
	if p.what != "" {
		return Row{}, p
	}
	gen, p := parseTokens(genF, 3)
	if p.what != "" {
		return Row{}, p
	}
	return Row{At: at, ContextTokens: ctx, GeneratedTokens: gen}, problem{}
}

// parseTokens parses a non-negative decimal token count.
func parseTokens(b []byte, col int) (int, problem) {
	if len(b) == 0 {
		return 0, problem{what: "is empty; want a token count", col: col, field: b}
	}
	neg := b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	n := 0
	for _, c := range digits {
		if !digit(c) {
			return 0, problem{what: "is not an integer", col: col, field: b}
		}
		n = n*10 + int(c-'0')
		if n > maxTokens {
			return 0, problem{what: "is too large for a token count", col: col, field: b}
		}
	}
	if neg {
		if len(digits) == 0 {
			return 0, problem{what: "is not an integer", col: col, field: b}
		}
		return 0, problem{what: "is negative; a token count must be >= 0", col: col, field: b}
	}
	return n, problem{}
}

// trimField drops surrounding spaces and tabs, then one pair of double
// quotes, so padded or quoted CSV exports read like plain ones.
func trimField(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	return b
}

// blank reports whether a line holds nothing but spaces and tabs.
func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}
