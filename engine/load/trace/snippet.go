package trace

import (
	"bytes"
	"strconv"
	"strings"
)

// Error messages quote the file they are about, and a scenario script can
// read its error messages (pcall), so what a message quotes is what a
// script could learn of a file it may not read as a trace: /proc/self/environ,
// a .env file, a key file. Quotes are therefore short (maxQuoted bytes),
// printable ASCII only, and never of text that looks like KEY=VALUE
// settings. A whole line is quoted only when it looks like the trace format
// the reader expects (a CSV line for the CSV readers); a line that does not
// is described, not shown.

// maxQuoted bounds how much of a file one quote in an error message shows.
const maxQuoted = 40

// notShown stands for text that a message does not quote.
const notShown = "(not shown: it looks like KEY=VALUE settings or binary data, not a trace)"

// quote renders a field for an error message: at most maxQuoted bytes,
// bytes outside printable ASCII as '?', and nothing at all when it looks
// like KEY=VALUE settings or binary data.
func quote(b []byte) string {
	if secretLike(b) {
		return notShown
	}
	cut := len(b) > maxQuoted
	if cut {
		b = b[:maxQuoted]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		out[i] = c
	}
	q := strconv.Quote(string(out))
	if cut {
		q += "..."
	}
	return q
}

// quoteLine quotes a whole line only when it looks like a line of a CSV
// trace (printable text with a comma); otherwise it says what it is not.
func quoteLine(b []byte) string {
	if !csvLike(b) {
		return "a line that is not CSV text (not shown)"
	}
	return quote(b)
}

// quoteColumns renders a header's column names for messages, as many as
// fit in maxQuoted bytes, and only when the header looks like CSV text.
func quoteColumns(header []byte, names []string) string {
	if !csvLike(header) {
		return "not shown (the first line is not CSV text)"
	}
	var sb strings.Builder
	used := 0
	for i, n := range names {
		if used+len(n) > maxQuoted {
			sb.WriteString(", and " + strconv.Itoa(len(names)-i) + " more")
			break
		}
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.Quote(n))
		used += len(n)
	}
	return sb.String()
}

// csvLike reports whether b is printable text with a comma and nothing
// that looks like settings.
func csvLike(b []byte) bool {
	if bytes.IndexByte(b, ',') < 0 || secretLike(b) {
		return false
	}
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// secretLike reports whether b holds a NUL (as /proc/*/environ and binary
// files do) or a KEY=VALUE pair: a name of letters, digits and '_' right
// before an '=' (HF_TOKEN=..., api_key=...). A trace field never does.
func secretLike(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	for i := bytes.IndexByte(b, '='); i >= 0; {
		if i > 0 && nameByte(b[i-1]) {
			return true
		}
		j := bytes.IndexByte(b[i+1:], '=')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

func nameByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
