package trace

import "encoding/json"

// A small in-place scanner for one JSON object per line, accepting exactly
// what encoding/json accepts (RFC 8259 grammar; invalid UTF-8 inside
// strings is tolerated as encoding/json tolerates it) but without building
// values: the JSONL readers look at a few keys and skip the rest, so a row
// costs no allocation beyond the hash ids it keeps. The fuzz targets check
// it against encoding/json.

// maxJSONDepth bounds nesting in skipped values; deeper lines are
// malformed (encoding/json allows 10000, no trace needs more than a few).
const maxJSONDepth = 64

type jscan struct {
	b []byte
	i int
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *jscan) ws() {
	for s.i < len(s.b) && isSpace(s.b[s.i]) {
		s.i++
	}
}

// eat consumes c after blanks.
func (s *jscan) eat(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str scans a string at s.i (which must be '"') and returns its raw body
// (escapes undecoded) and whether it has escapes.
func (s *jscan) str() (body []byte, esc, ok bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, false
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			body = s.b[start:s.i]
			s.i++
			return body, esc, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			esc = true
			s.i++
			if s.i >= len(s.b) {
				return nil, false, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					return nil, false, false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return nil, false, false
					}
				}
				s.i += 5
			default:
				return nil, false, false
			}
		default:
			s.i++
		}
	}
	return nil, false, false
}

func isHex(c byte) bool {
	return digit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'f'
}

// number scans a JSON number and returns its text and whether it is an
// integer (no fraction, no exponent).
func (s *jscan) number() (text []byte, integer, ok bool) {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		for s.i < len(s.b) && digit(s.b[s.i]) {
			s.i++
		}
	default:
		return nil, false, false
	}
	integer = true
	if s.i < len(s.b) && s.b[s.i] == '.' {
		integer = false
		s.i++
		if s.i >= len(s.b) || !digit(s.b[s.i]) {
			return nil, false, false
		}
		for s.i < len(s.b) && digit(s.b[s.i]) {
			s.i++
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		integer = false
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.i >= len(s.b) || !digit(s.b[s.i]) {
			return nil, false, false
		}
		for s.i < len(s.b) && digit(s.b[s.i]) {
			s.i++
		}
	}
	return s.b[start:s.i], integer, true
}

// literal consumes word (true, false, null).
func (s *jscan) literal(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// value skips one value after blanks and returns its text.
func (s *jscan) value(depth int) ([]byte, bool) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, false
	}
	start := s.i
	ok := false
	switch c := s.b[s.i]; c {
	case '"':
		_, _, ok = s.str()
	case 't':
		ok = s.literal("true")
	case 'f':
		ok = s.literal("false")
	case 'n':
		ok = s.literal("null")
	case '[':
		ok = s.array(depth+1, nil)
	case '{':
		ok = s.object(depth+1, nil)
	default:
		_, _, ok = s.number()
	}
	if !ok {
		return nil, false
	}
	return s.b[start:s.i], true
}

// array scans [v, ...] at s.i; each calls elem (nil: skip) for every
// element with the scanner positioned at it after blanks.
func (s *jscan) array(depth int, elem func(s *jscan) bool) bool {
	if depth > maxJSONDepth || s.i >= len(s.b) || s.b[s.i] != '[' {
		return false
	}
	s.i++
	if s.eat(']') {
		return true
	}
	for {
		s.ws()
		if elem != nil {
			if !elem(s) {
				return false
			}
		} else if _, ok := s.value(depth); !ok {
			return false
		}
		if s.eat(']') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// object scans {"k": v, ...} at s.i; member (nil: skip) is called for
// every key with the scanner positioned at its value after blanks, and
// must consume the value.
func (s *jscan) object(depth int, member func(s *jscan, key []byte, esc bool) bool) bool {
	if depth > maxJSONDepth || s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	s.i++
	if s.eat('}') {
		return true
	}
	for {
		s.ws()
		key, esc, ok := s.str()
		if !ok || !s.eat(':') {
			return false
		}
		s.ws()
		if member != nil {
			if !member(s, key, esc) {
				return false
			}
		} else if _, ok := s.value(depth); !ok {
			return false
		}
		if s.eat('}') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// unescapeKey decodes a key with escapes (rare: the slow path allocates).
func unescapeKey(body []byte) string {
	var k string
	q := make([]byte, 0, len(body)+2)
	q = append(append(append(q, '"'), body...), '"')
	if json.Unmarshal(q, &k) != nil {
		return string(body)
	}
	return k
}
