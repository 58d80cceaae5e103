// Package jsonx reads and writes JSON in place over byte slices, without
// reflection and, on the common paths, without allocation: the hot paths
// that look at a few fields of a streamed chunk or a trace line (Scanner)
// and those that write request bodies and result lines by hand
// (AppendString, AppendFloat, AppendValue). It accepts and writes exactly
// what encoding/json accepts and writes (the fuzz targets check it), so
// callers can switch between the two without a change of meaning.
//
// The package has no state; a Scanner belongs to one goroutine, and the
// Append functions are safe for concurrent use.
package jsonx

import (
	"fmt"
	"unicode/utf8"
)

// MaxDepth is encoding/json's nesting limit: with it a Scanner accepts
// the same documents as json.Valid.
const MaxDepth = 10000

// Scanner is a validating JSON scanner over one document that builds no
// values: the caller walks the document (Peek, Enter, Member, Element)
// and reads the values it wants (String, Number, Bool) or skips them
// (Skip, Raw). Positions are byte offsets into the document; the position
// is always the next unread byte, and after an error it is where the
// error was found. The zero Scanner is empty; Reset points it at a
// document and keeps its scratch buffer.
//
// A Scanner is not safe for concurrent use.
type Scanner struct {
	b        []byte
	i        int
	depth    int    // objects and arrays open
	maxDepth int    // more open at once is an error
	tmp      []byte // decoded strings that differ from their text
}

// Reset points s at the document b, allowing maxDepth objects and arrays
// open at once (MaxDepth for encoding/json's limit).
func (s *Scanner) Reset(b []byte, maxDepth int) {
	*s = Scanner{b: b, maxDepth: maxDepth, tmp: s.tmp[:0]}
}

// Pos returns the offset of the next unread byte.
func (s *Scanner) Pos() int { return s.i }

// Rewind moves back to offset i, a position s was at in the same
// container, to read a value again another way.
func (s *Scanner) Rewind(i int) { s.i = i }

// Since returns the document's bytes from offset from to the position.
func (s *Scanner) Since(from int) []byte { return s.b[from:s.i] }

// Rest returns the document's bytes from the position on.
func (s *Scanner) Rest() []byte { return s.b[s.i:] }

// Errorf returns an error at the position, in the form of the scanner's
// own syntax errors.
func (s *Scanner) Errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", s.i, fmt.Sprintf(format, args...))
}

// skipSpace moves past JSON white space.
func (s *Scanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Peek skips white space and returns the next byte, 0 at the end: '{',
// '[', '"', a digit or '-', 't', 'f' or 'n' start a value.
func (s *Scanner) Peek() byte {
	s.skipSpace()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// AtEnd skips white space and reports whether the document ends there.
func (s *Scanner) AtEnd() bool {
	s.skipSpace()
	return s.i == len(s.b)
}

// Enter consumes the '{' or '[' that Peek returned; Member or Element
// then walk the container.
func (s *Scanner) Enter() {
	s.i++
	s.depth++
}

// Member moves to the next member of an object that Enter opened (first
// is true for the first call). It returns the member's name, decoded as
// String decodes it, with the position at the start of its value, which
// the caller must then read or skip; or ok == false after the closing
// '}'.
func (s *Scanner) Member(first bool) (key []byte, ok bool, err error) {
	if s.depth > s.maxDepth {
		return nil, false, s.Errorf("exceeded max depth")
	}
	c := s.Peek()
	if c == '}' {
		s.i++
		s.depth--
		return nil, false, nil
	}
	if !first {
		if c != ',' {
			return nil, false, s.Errorf("expected ',' or '}' after object member")
		}
		s.i++
		c = s.Peek()
	}
	if c != '"' {
		return nil, false, s.Errorf("expected a member name")
	}
	key, err = s.str()
	if err != nil {
		return nil, false, err
	}
	if s.Peek() != ':' {
		return nil, false, s.Errorf("expected ':' after member name")
	}
	s.i++
	s.skipSpace()
	return key, true, nil
}

// Element moves to the next element of an array that Enter opened (first
// is true for the first call), with the position at the element, which
// the caller must then read or skip; or returns ok == false after the
// closing ']'.
func (s *Scanner) Element(first bool) (ok bool, err error) {
	if s.depth > s.maxDepth {
		return false, s.Errorf("exceeded max depth")
	}
	c := s.Peek()
	if c == ']' {
		s.i++
		s.depth--
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, s.Errorf("expected ',' or ']' after array element")
		}
		s.i++
		s.skipSpace()
	}
	return true, nil
}

// Skip moves past one value of any kind, validating it.
func (s *Scanner) Skip() error {
	switch c := s.Peek(); {
	case c == '{':
		s.Enter()
		for first := true; ; first = false {
			_, ok, err := s.Member(first)
			if err != nil || !ok {
				return err
			}
			if err := s.Skip(); err != nil {
				return err
			}
		}
	case c == '[':
		s.Enter()
		for first := true; ; first = false {
			ok, err := s.Element(first)
			if err != nil || !ok {
				return err
			}
			if err := s.Skip(); err != nil {
				return err
			}
		}
	case c == '"':
		_, _, err := s.rawString()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		_, _, err := s.Number()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case s.i >= len(s.b):
		return s.Errorf("unexpected end of input")
	default:
		return s.Errorf("unexpected byte %q", c)
	}
}

// Raw is Skip that returns the value's text.
func (s *Scanner) Raw() ([]byte, error) {
	s.skipSpace()
	start := s.i
	err := s.Skip()
	return s.b[start:s.i], err
}

func (s *Scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.Errorf("invalid literal")
	}
	s.i += len(lit)
	return nil
}

// IsNull reports whether the value at the position is null, without
// moving.
func (s *Scanner) IsNull() bool {
	return len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null"
}

// Bool reads true or false at the position; ok is false, and the
// position unchanged, for any other value.
func (s *Scanner) Bool() (v, ok bool) {
	switch {
	case s.literal("true") == nil:
		return true, true
	case s.literal("false") == nil:
		return false, true
	}
	return false, false
}

// Number reads the number at the position and returns its text and
// whether it is an integer (no fraction, no exponent).
func (s *Scanner) Number() (text []byte, integer bool, err error) {
	b, i, ok := s.b, s.i, false
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if i, ok = digits(b, i); !ok {
		return s.badNumber(i)
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		integer = false
		if i, ok = digits(b, i+1); !ok {
			return s.badNumber(i)
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i, ok = digits(b, i); !ok {
			return s.badNumber(i)
		}
	}
	text = b[s.i:i]
	s.i = i
	return text, integer, nil
}

// digits returns the end of the digits at b[i:] and whether there is at
// least one.
func digits(b []byte, i int) (end int, ok bool) {
	end = i
	for end < len(b) && b[end] >= '0' && b[end] <= '9' {
		end++
	}
	return end, end > i
}

func (s *Scanner) badNumber(at int) ([]byte, bool, error) {
	s.i = at
	return nil, false, s.Errorf("invalid number")
}

// strSafe marks the bytes a string can contain without a closer look:
// printable ASCII other than '"' and '\\'.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// String reads the string at the position and returns its contents,
// decoded exactly as encoding/json decodes them (invalid UTF-8 and lone
// surrogates become U+FFFD). Contents that decode to themselves alias the
// document; others are decoded into a scratch buffer valid until the next
// call of String or Member.
func (s *Scanner) String() ([]byte, error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, s.Errorf("expected a string")
	}
	return s.str()
}

// str is String at a '"'.
func (s *Scanner) str() ([]byte, error) {
	raw, kind, err := s.rawString()
	if err != nil || kind == plainString || kind == highString && utf8.Valid(raw) {
		return raw, err
	}
	s.tmp = unquote(s.tmp[:0], raw)
	return s.tmp, nil
}

// RawString reads the string at the position and returns its contents
// undecoded, and whether they hold escapes. A string is empty exactly
// when its raw contents are: every escape and every invalid byte decodes
// to something.
func (s *Scanner) RawString() (raw []byte, escaped bool, err error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, s.Errorf("expected a string")
	}
	raw, kind, err := s.rawString()
	return raw, kind == escapedString, err
}

// What a string's raw contents hold: whether they decode to themselves.
const (
	plainString   = iota // ASCII without escapes: decodes to itself
	highString           // bytes beyond ASCII, no escapes: to itself if valid UTF-8
	escapedString        // escapes: to something else
)

// rawString is RawString at a '"' that also tells a plainString from a
// highString.
func (s *Scanner) rawString() (raw []byte, kind int, err error) {
	b := s.b
	s.i++
	start := s.i
	for {
		for s.i < len(b) && strSafe[b[s.i]] {
			s.i++
		}
		if s.i >= len(b) {
			return nil, 0, s.Errorf("unterminated string")
		}
		switch c := b[s.i]; {
		case c == '"':
			raw = b[start:s.i]
			s.i++
			return raw, kind, nil
		case c == '\\':
			kind = escapedString
			s.i++
			if s.i >= len(b) {
				return nil, 0, s.Errorf("unterminated string")
			}
			switch b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(b)-s.i < 5 || hexVal(b[s.i+1]) < 0 || hexVal(b[s.i+2]) < 0 || hexVal(b[s.i+3]) < 0 || hexVal(b[s.i+4]) < 0 {
					return nil, 0, s.Errorf("invalid \\u escape")
				}
				s.i += 5
			default:
				return nil, 0, s.Errorf("invalid escape")
			}
		case c < 0x20:
			return nil, 0, s.Errorf("control character in string")
		default: // c >= utf8.RuneSelf
			kind = max(kind, highString)
			s.i++
		}
	}
}
