package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/llmload/llmload/engine/shared/jsonx"
)

// maxJSONDepth bounds nesting below a line's object; deeper lines are
// malformed (encoding/json allows 10000, no trace needs more than a few).
const maxJSONDepth = 64

// JSONLConfig says which keys of a JSON-lines trace (one JSON object per
// line) hold a row's parts. A key left empty is not read and its part of
// the Row stays zero; a key that is named must be in every line, except
// HashIDs, which may be absent.
type JSONLConfig struct {
	Timestamp       string // arrival instant: a number of TimeUnit, or a date string (2023-11-16 18:17:03.98)
	ContextTokens   string // prompt length: a whole number
	GeneratedTokens string // output length: a whole number
	HashIDs         string // prefix block ids: a list of whole numbers >= 0
	// TimeUnit is the unit of numeric timestamps; 0 means seconds.
	TimeUnit time.Duration
	// BlockSize is copied into every Row.BlockSize: the prompt tokens each
	// hash id stands for (0 = the run's default).
	BlockSize int
	// KeepFields puts every other key into Row.Fields, decoded as
	// encoding/json decodes into an interface value (float64, string,
	// bool, nil, []any, map[string]any). Off, a row allocates only its
	// hash ids.
	KeepFields bool
}

// Mooncake's keys (FAST'25, https://github.com/kvcache-ai/Mooncake): the
// timestamp is in milliseconds, each hash id a 512-token block.
const (
	MooncakeTimestamp = "timestamp"
	MooncakeInput     = "input_length"
	MooncakeOutput    = "output_length"
	MooncakeHashIDs   = "hash_ids"
	// MooncakeBlockSize is the tokens per hash id in the Mooncake traces.
	MooncakeBlockSize = 512
)

// MooncakeOptions tune the Mooncake reader.
type MooncakeOptions struct {
	// BlockSize is the prompt tokens each hash id stands for, copied into
	// Row.BlockSize; 0 leaves the choice to the run (whose default is
	// MooncakeBlockSize).
	BlockSize int
}

func mooncakeConfig(m MooncakeOptions) JSONLConfig {
	return JSONLConfig{
		Timestamp: MooncakeTimestamp, ContextTokens: MooncakeInput, GeneratedTokens: MooncakeOutput,
		HashIDs: MooncakeHashIDs, TimeUnit: time.Millisecond, BlockSize: m.BlockSize,
	}
}

// JSONLReader streams a JSON-lines trace: Mooncake, or any JSONL through a
// JSONLConfig. Lines are scanned in place; only the named keys are
// converted.
//
// A JSONLReader is not safe for concurrent use: one goroutine owns it.
type JSONLReader struct {
	lineReader
	cfg   JSONLConfig
	what  string
	first bool // the first line has been checked to be an object
	ids   []int

	// Per line: the mapped keys (timestamp, context, generated, hash ids)
	// as found; a later duplicate key replaces an earlier one, as in
	// encoding/json.
	found  [4]bool
	probs  [4]fieldProblem
	row    Row
	nIDs   int
	fields map[string]any
	sc     jsonx.Scanner // kept here: its scratch buffer serves every line

	// The first row, read by OpenJSONL and OpenMooncake to check the format.
	pending    Row
	pendingErr error
	hasPending bool
}

// OpenMooncake opens a Mooncake trace: JSON lines {"timestamp" (ms),
// "input_length", "output_length", "hash_ids": [...]}. A file whose first
// row is not a JSON object fails here (ErrFormat).
func OpenMooncake(path string, m MooncakeOptions, opt Options) (*JSONLReader, error) {
	return openJSONL(path, "Mooncake trace", mooncakeConfig(m), opt)
}

// NewMooncakeReader reads a Mooncake trace from rd; name prefixes error
// messages. Close does not close rd.
func NewMooncakeReader(rd io.Reader, name string, m MooncakeOptions, opt Options) *JSONLReader {
	return newJSONLReader(rd, "Mooncake trace", name, mooncakeConfig(m), opt, bufSize)
}

// OpenJSONL opens a JSON-lines trace read as cfg says. A file whose first
// row is not a JSON object fails here (ErrFormat).
func OpenJSONL(path string, cfg JSONLConfig, opt Options) (*JSONLReader, error) {
	return openJSONL(path, "JSONL trace", cfg, opt)
}

// NewJSONLReader reads a JSON-lines trace from rd; name prefixes error
// messages. Close does not close rd.
func NewJSONLReader(rd io.Reader, name string, cfg JSONLConfig, opt Options) *JSONLReader {
	return newJSONLReader(rd, "JSONL trace", name, cfg, opt, bufSize)
}

func openJSONL(path, what string, cfg JSONLConfig, opt Options) (*JSONLReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; check the path", what, err)
	}
	r := newJSONLReader(f, what, path, cfg, opt, bufSize)
	r.file = f
	// Read the first row now, so that a file in another format fails
	// here rather than when the run starts; Next returns it.
	row, err := r.Next()
	if errors.Is(err, ErrFormat) {
		f.Close()
		return nil, err
	}
	r.pending, r.pendingErr, r.hasPending = row, err, true
	return r, nil
}

func newJSONLReader(rd io.Reader, what, name string, cfg JSONLConfig, opt Options, size int) *JSONLReader {
	if cfg.TimeUnit <= 0 {
		cfg.TimeUnit = time.Second
	}
	return &JSONLReader{lineReader: newLineReader(rd, what, name, opt, size), cfg: cfg, what: what}
}

// Next returns the next row, io.EOF after the last one, or an error naming
// file:line and what to do about it. A first line that is not a JSON
// object fails with ErrFormat whatever the options: the file is something
// else.
func (r *JSONLReader) Next() (Row, error) {
	if r.hasPending {
		r.hasPending = false
		return r.pending, r.pendingErr
	}
	for {
		b, err := r.nextLine()
		if err != nil {
			return Row{}, err
		}
		if !r.first {
			r.first = true
			if err := notJSONObjectLine(r.name, r.line, b); err != nil {
				return Row{}, r.fail(err)
			}
		}
		row, p := r.parse(b)
		if p.ok() {
			row.Line = r.line
			return row, nil
		}
		if err := r.badField(r.line, p); err != nil {
			return Row{}, err
		}
	}
}

// notJSONObjectLine returns the ErrFormat error of a first line b that
// does not start a JSON object (the file is something else), or nil.
func notJSONObjectLine(name string, line int, b []byte) error {
	t := trimLeftSpace(b)
	if len(t) > 0 && t[0] == '{' {
		return nil
	}
	hint := "want one JSON object per line"
	if isAzureHeader(b) {
		hint = "the file is an Azure LLM inference trace: use llm.trace.azure"
	} else if len(t) > 0 && t[0] != '[' && !digit(t[0]) && t[0] != '"' {
		hint = "the file looks like CSV: use llm.trace.csv or llm.trace.burstgpt"
	}
	return fmt.Errorf("%s:%d: %w: the line is %s, not a JSON object; %s", name, line, ErrFormat, quoteLine(b), hint)
}

func trimLeftSpace(b []byte) []byte { return bytes.TrimLeft(b, " \t\r\n") }

const (
	keyTime = iota
	keyCtx
	keyGen
	keyIDs
)

const (
	whatNotJSON   = "is not valid JSON"
	whatNotObject = "is not a JSON object"
	whatNotNumber = "is not a number"
	whatNotList   = "is not a list of whole numbers >= 0"
	whatMissing   = "is missing"
)

// parse converts one line. Syntax errors stop it; problems of a mapped
// value are kept per key, so that a later duplicate can replace them.
func (r *JSONLReader) parse(b []byte) (Row, fieldProblem) {
	r.found = [4]bool{}
	r.probs = [4]fieldProblem{}
	r.row = Row{BlockSize: r.cfg.BlockSize}
	r.nIDs = 0
	r.fields = nil
	s := &r.sc
	s.Reset(b, maxJSONDepth+1)
	if s.Peek() != '{' {
		return Row{}, fieldProblem{what: whatNotObject, field: s.Rest()}
	}
	if !eachMember(s, r.member) {
		return Row{}, fieldProblem{what: whatNotJSON, field: s.Rest()}
	}
	if !s.AtEnd() {
		return Row{}, fieldProblem{what: "has text after the JSON object", field: s.Rest()}
	}
	keys := [4]string{r.cfg.Timestamp, r.cfg.ContextTokens, r.cfg.GeneratedTokens, r.cfg.HashIDs}
	for k, key := range keys {
		if key == "" {
			continue
		}
		if !r.found[k] {
			if k == keyIDs {
				continue
			}
			return Row{}, fieldProblem{what: whatMissing, col: key}
		}
		if !r.probs[k].ok() {
			return Row{}, r.probs[k]
		}
	}
	row := r.row
	if r.nIDs > 0 {
		row.HashIDs = append([]int(nil), r.ids[:r.nIDs]...)
	}
	row.Fields = r.fields
	return row, fieldProblem{}
}

// eachMember walks the object at s (Peek returned '{'), calling member
// with s at each key's value, which member must consume; it returns false
// on a syntax error, as member does.
func eachMember(s *jsonx.Scanner, member func(s *jsonx.Scanner, key []byte) bool) bool {
	s.Enter()
	for first := true; ; first = false {
		key, ok, err := s.Member(first)
		if err != nil {
			return false
		}
		if !ok {
			return true
		}
		if !member(s, key) {
			return false
		}
	}
}

// member handles one key of the line's object (decoded as encoding/json
// decodes keys); it returns false only on a syntax error.
func (r *JSONLReader) member(s *jsonx.Scanner, key []byte) bool {
	k := r.keyIndexBytes(key)
	if k < 0 {
		if !r.cfg.KeepFields {
			return s.Skip() == nil
		}
		return r.keepField(s, string(key))
	}
	name := [4]string{r.cfg.Timestamp, r.cfg.ContextTokens, r.cfg.GeneratedTokens, r.cfg.HashIDs}[k]
	r.found[k] = true
	r.probs[k] = fieldProblem{}
	var what string
	var field []byte
	ok := true
	switch k {
	case keyIDs:
		var bad bool
		r.ids, bad, field, ok = idsValue(s, r.ids[:0])
		r.nIDs = len(r.ids)
		if bad {
			r.nIDs, what = 0, whatNotList
		}
	case keyTime:
		r.row.At, what, field, ok = timeValue(s, r.cfg.TimeUnit)
	case keyCtx:
		r.row.ContextTokens, what, field, ok = countValue(s)
	case keyGen:
		r.row.GeneratedTokens, what, field, ok = countValue(s)
	}
	if what != "" {
		r.probs[k] = fieldProblem{what: what, col: name, field: field}
	}
	return ok
}

// The values the JSON-lines readers convert. Each reads the value at s
// and returns it, or the problem with it (what, and field: the value's
// text); ok is false only on a JSON syntax error.

const (
	whatNotWhole   = "is not a whole number"
	whatDateString = "is a string; want a number or a date string" // numbers are given as JSON numbers
)

// timeValue reads an instant: a JSON number of unit, or a date string as
// the Azure traces write it (2023-11-16 18:17:03.98).
func timeValue(s *jsonx.Scanner, unit time.Duration) (d time.Duration, what string, field []byte, ok bool) {
	start := s.Pos()
	if s.Peek() == '"' {
		body, esc, err := s.RawString()
		if err != nil {
			return 0, "", nil, false
		}
		if esc {
			return 0, string(tsShape), s.Since(start), true
		}
		d, what = parseTime(body, unit)
		if what == "" && !(len(body) >= 19 && body[4] == '-') {
			what = whatDateString
		}
		if what != "" {
			return 0, what, s.Since(start), true
		}
		return d, "", nil, true
	}
	return durationValue(s, unit)
}

// durationValue reads a non-negative JSON number of unit.
func durationValue(s *jsonx.Scanner, unit time.Duration) (d time.Duration, what string, field []byte, ok bool) {
	start := s.Pos()
	text, _, err := s.Number()
	if err != nil {
		field, ok = skipValue(s, start)
		return 0, whatNotNumber, field, ok
	}
	if d, what = parseDuration(text, unit); what != "" {
		return 0, what, text, true
	}
	return d, "", nil, true
}

// countValue reads a whole number >= 0, such as a token count.
func countValue(s *jsonx.Scanner) (n int, what string, field []byte, ok bool) {
	start := s.Pos()
	text, integer, err := s.Number()
	if err != nil {
		field, ok = skipValue(s, start)
		return 0, whatNotWhole, field, ok
	}
	if !integer {
		return 0, whatNotWhole, text, true
	}
	if n, what = parseCount(text); what != "" {
		return 0, what, text, true
	}
	return n, "", nil, true
}

// skipValue rewinds s to start and skips the value there, for the message
// about a value of the wrong type.
func skipValue(s *jsonx.Scanner, start int) ([]byte, bool) {
	s.Rewind(start)
	v, err := s.Raw()
	return v, err == nil
}

// idsValue appends a list of hash ids (whole numbers >= 0) to ids. bad
// means the value is not such a list (field is its text; ids then holds
// what was read before the bad element and is to be dropped).
func idsValue(s *jsonx.Scanner, ids []int) (out []int, bad bool, field []byte, ok bool) {
	start := s.Pos()
	if s.Peek() != '[' {
		v, err := s.Raw()
		return ids, true, v, err == nil
	}
	s.Enter()
	for first := true; ; first = false {
		more, err := s.Element(first)
		if err != nil {
			return ids, bad, s.Since(start), false
		}
		if !more {
			return ids, bad, s.Since(start), true
		}
		elem := s.Pos()
		text, integer, err := s.Number()
		if err != nil {
			if _, ok := skipValue(s, elem); !ok {
				return ids, bad, s.Since(start), false
			}
			bad = true
			continue
		}
		id, good := parseID(text, integer)
		if !good {
			bad = true
			continue
		}
		ids = append(ids, id)
	}
}

// parseID reads a hash id: a whole number in [0, MaxInt64].
func parseID(text []byte, integer bool) (int, bool) {
	if string(text) == "-0" {
		return 0, true
	}
	if !integer || len(text) == 0 || text[0] == '-' {
		return 0, false
	}
	n := 0
	for _, c := range text {
		d := int(c - '0')
		if n > (math.MaxInt-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func (r *JSONLReader) keyIndexBytes(key []byte) int {
	switch {
	case r.cfg.Timestamp != "" && string(key) == r.cfg.Timestamp:
		return keyTime
	case r.cfg.ContextTokens != "" && string(key) == r.cfg.ContextTokens:
		return keyCtx
	case r.cfg.GeneratedTokens != "" && string(key) == r.cfg.GeneratedTokens:
		return keyGen
	case r.cfg.HashIDs != "" && string(key) == r.cfg.HashIDs:
		return keyIDs
	}
	return -1
}

// keepField decodes the value at s into Row.Fields (when asked to keep
// fields; else it is skipped).
func (r *JSONLReader) keepField(s *jsonx.Scanner, name string) bool {
	v, err := s.Raw()
	if err != nil || !r.cfg.KeepFields {
		return err == nil
	}
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		return false
	}
	if r.fields == nil {
		r.fields = make(map[string]any, 8)
	}
	r.fields[name] = x
	return true
}
