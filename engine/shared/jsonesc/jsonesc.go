// Package jsonesc appends Go strings as JSON strings, for the hot paths that
// write JSON by hand rather than with encoding/json (request bodies in
// engine/load/openai, result lines in engine/results/record): it does not allocate and
// needs no reflection. It has no state; its functions are safe for
// concurrent use.
package jsonesc

import "unicode/utf8"

// plain[c] is true for ASCII bytes that stand for themselves inside a JSON
// string; a table lookup is cheaper than the three comparisons.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string (with its quotes). Like
// encoding/json, invalid UTF-8 becomes U+FFFD, so the output is valid JSON
// whatever a server put in s, and U+2028/U+2029 are escaped (they end lines
// in JavaScript); unlike it, <, > and & are left alone (no HTML here), and
// \b and \f are written as \u0008 and \u000c.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
