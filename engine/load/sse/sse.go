// Package sse reads a Server-Sent-Events stream (the text/event-stream
// format of the WHATWG HTML standard, section 9.2) incrementally and without
// allocating per event.
//
//	r := sse.NewReader(body)
//	for {
//		ev, err := r.Next()
//		if err == io.EOF {
//			break // clean end of stream
//		}
//		if err != nil {
//			return err // the underlying reader's error, or ErrTooLong
//		}
//		use(ev.Data) // valid until the next call to Next
//	}
//
// The parser follows the standard's interpretation rules: lines end in CRLF,
// LF or CR (a CRLF split between two reads is still one line end), a leading
// UTF-8 byte order mark is dropped, lines starting with ':' are comments, a
// field line without a colon is a field with an empty value, one space after
// the colon is removed, "data" lines are joined with "\n", "event" sets the
// type of the next event only, "id" sets the last event ID (which persists
// across events and is ignored when it contains NUL), "retry" with only ASCII
// digits sets the reconnection time, and other fields are ignored. A blank
// line dispatches the pending event if any data line was seen.
//
// Deviation, chosen on purpose: at the end of the stream the standard
// discards an event that was not followed by a blank line. Reader is lenient:
// a final line without a line terminator is still processed, and a pending
// event with data is returned before io.EOF. Servers such as vLLM always end
// events with a blank line, so this only matters for truncated streams, where
// a caller checking for a terminal event (like OpenAI's "[DONE]") still
// notices the truncation.
//
// Bytes are not validated or converted as UTF-8: Data holds the bytes the
// server sent.
package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Event is one dispatched event.
type Event struct {
	// Type is the "event" field, or "message" when the event had none.
	Type string
	// ID is the last event ID seen so far in the stream (it persists across
	// events, as the standard says), "" if none.
	ID string
	// Data is the data lines joined with "\n". It aliases a buffer inside
	// the Reader and is valid only until the next call to Next.
	Data []byte
}

const (
	// DefaultSize is the initial size of the read buffer.
	DefaultSize = 4096
	// DefaultMax is the default limit on a line (terminator included) and
	// on the data of one event.
	DefaultMax = 16 << 20
)

// ErrTooLong is returned (wrapped, with the limit) when a line or the data
// of one event exceeds the Reader's limit. It is sticky: the stream cannot
// be resynchronised after it.
var ErrTooLong = errors.New("sse: line or event data longer than the limit")

var bom = []byte{0xEF, 0xBB, 0xBF}

// Reader parses events from an io.Reader. It buffers its input, so it may
// read past the event it returns.
//
// A Reader is not safe for concurrent use: one goroutine calls Next (and the
// other methods) at a time.
type Reader struct {
	rd  io.Reader
	buf []byte
	r   int // start of unread bytes in buf
	w   int // end of valid bytes in buf
	max int

	// Positions of the next '\n' and '\r' at or after r, kept between calls
	// so that a stream using only one kind of line end is scanned once, not
	// once per line. A position < r is stale; -1 means none in buf[r:from].
	lf, lfFrom int
	cr, crFrom int

	skipLF  bool // the last line ended in '\r': drop a '\n' that follows
	bomDone bool
	err     error // error from the underlying reader, seen after buffered lines
	fatal   error // ErrTooLong: returned by every later call to Next
	empties int   // consecutive (0, nil) reads

	data     []byte // the data buffer: every data line followed by '\n'
	typ      []byte // the event type buffer
	lastType string // cache of string(typ), so a repeated type costs nothing
	id       []byte // the last event ID buffer
	lastID   string // cache of string(id)
	retry    time.Duration
	retrySet bool

	n int64 // bytes read from rd
}

// NewReader returns a Reader with the default buffer size and limit.
func NewReader(rd io.Reader) *Reader { return NewReaderSize(rd, DefaultSize, DefaultMax) }

// NewReaderSize returns a Reader whose buffer starts at size bytes and grows
// up to max bytes for long lines; max also bounds the data of one event.
// Non-positive values select DefaultSize and DefaultMax.
func NewReaderSize(rd io.Reader, size, max int) *Reader {
	if max <= 0 {
		max = DefaultMax
	}
	if size <= 0 {
		size = DefaultSize
	}
	size = min(size, max)
	r := &Reader{buf: make([]byte, size), max: max}
	r.Reset(rd)
	return r
}

// Reset discards all state and makes r read a new stream from rd, keeping
// its buffers (so a pooled Reader does not allocate).
func (r *Reader) Reset(rd io.Reader) {
	r.rd = rd
	r.r, r.w = 0, 0
	r.lf, r.lfFrom, r.cr, r.crFrom = -1, 0, -1, 0
	r.skipLF = false
	r.bomDone = false
	r.err, r.fatal = nil, nil
	r.empties = 0
	r.data = r.data[:0]
	r.typ = r.typ[:0]
	r.id = r.id[:0]
	r.lastID = ""
	r.retry, r.retrySet = 0, false
	r.n = 0
}

// BytesRead returns the number of bytes read from the underlying reader
// since the Reader was created or Reset.
func (r *Reader) BytesRead() int64 { return r.n }

// Retry returns the last valid "retry" field (the reconnection time the
// server asked for) and whether there was one.
func (r *Reader) Retry() (time.Duration, bool) { return r.retry, r.retrySet }

// Next returns the next event. It returns io.EOF when the stream ended
// cleanly (after returning any pending event, see the package comment),
// an error wrapping ErrTooLong for an oversized line or event, and any other
// error from the underlying reader unchanged. Errors are sticky.
func (r *Reader) Next() (Event, error) {
	if r.fatal != nil {
		return Event{}, r.fatal
	}
	for {
		line, ok := r.readLine()
		if !ok {
			if r.err == io.EOF {
				if ev, ok := r.dispatch(); ok {
					return ev, nil
				}
			}
			return Event{}, r.err
		}
		if len(line) == 0 {
			if ev, ok := r.dispatch(); ok {
				return ev, nil
			}
			continue
		}
		if err := r.field(line); err != nil {
			r.fatal = err
			return Event{}, err
		}
	}
}

// dispatch implements "dispatch the event": it returns the pending event if
// any data line was seen, and resets the per-event buffers either way.
func (r *Reader) dispatch() (Event, bool) {
	if len(r.data) == 0 {
		r.typ = r.typ[:0]
		return Event{}, false
	}
	ev := Event{Type: "message", Data: r.data[:len(r.data)-1]}
	if len(r.typ) > 0 {
		if string(r.typ) != r.lastType {
			r.lastType = string(r.typ)
		}
		ev.Type = r.lastType
	}
	if string(r.id) != r.lastID {
		r.lastID = string(r.id)
	}
	ev.ID = r.lastID
	// Data keeps pointing at the old contents until field appends again,
	// which only happens in the next call to Next.
	r.data = r.data[:0]
	r.typ = r.typ[:0]
	return ev, true
}

// field processes one non-empty line.
func (r *Reader) field(line []byte) error {
	if line[0] == ':' {
		return nil
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		if len(r.data)+len(value)+1 > r.max {
			return fmt.Errorf("%w: event data exceeds %d bytes", ErrTooLong, r.max)
		}
		r.data = append(r.data, value...)
		r.data = append(r.data, '\n')
	case "event":
		r.typ = append(r.typ[:0], value...)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			r.id = append(r.id[:0], value...)
		}
	case "retry":
		if ms, ok := parseDigits(value); ok {
			r.retry, r.retrySet = ms, true
		}
	}
	return nil
}

// parseDigits parses a non-empty string of ASCII digits as milliseconds,
// saturating instead of overflowing.
func parseDigits(b []byte) (time.Duration, bool) {
	if len(b) == 0 {
		return 0, false
	}
	const limit = math.MaxInt64 / int64(time.Millisecond)
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v <= limit {
			v = v*10 + int64(c-'0')
		}
	}
	if v > limit {
		v = limit
	}
	return time.Duration(v) * time.Millisecond, true
}

// readLine returns the next line without its terminator. It returns false
// when no line is left: r.err then says why. At io.EOF a final unterminated
// line is returned as a line.
func (r *Reader) readLine() ([]byte, bool) {
	for {
		if r.r < r.w && (r.skipLF || !r.bomDone) {
			if r.skipLF {
				if r.buf[r.r] == '\n' {
					r.r++
				}
				r.skipLF = false
				continue
			}
			avail := r.buf[r.r:r.w]
			switch {
			case bytes.HasPrefix(avail, bom):
				r.r += len(bom)
				r.bomDone = true
			case !bytes.HasPrefix(bom, avail):
				r.bomDone = true
			case r.err != nil:
				r.bomDone = true // a partial BOM at the end is ordinary data
			}
			if !r.bomDone {
				r.fill()
			}
			continue
		}
		if r.r < r.w {
			if end := r.eol(); end >= 0 {
				line := r.buf[r.r:end]
				r.r = end + 1
				if r.buf[end] == '\r' {
					r.skipLF = true
				}
				return line, true
			}
		}
		if r.err != nil {
			if r.err == io.EOF && r.r < r.w {
				line := r.buf[r.r:r.w]
				r.r = r.w
				return line, true
			}
			return nil, false
		}
		r.fill()
	}
}

// eol returns the index in buf of the first '\r' or '\n' at or after r.r,
// or -1.
func (r *Reader) eol() int {
	lf := r.next('\n', &r.lf, &r.lfFrom)
	cr := r.next('\r', &r.cr, &r.crFrom)
	switch {
	case lf < 0:
		return cr
	case cr < 0:
		return lf
	default:
		return min(lf, cr)
	}
}

func (r *Reader) next(c byte, pos, from *int) int {
	if *pos >= r.r {
		return *pos
	}
	s := r.r
	if *pos < 0 && *from > s {
		s = *from
	}
	if i := bytes.IndexByte(r.buf[s:r.w], c); i >= 0 {
		*pos = s + i
		return *pos
	}
	*pos, *from = -1, r.w
	return -1
}

// maxEmptyReads bounds consecutive (0, nil) reads, as bufio does.
const maxEmptyReads = 100

// fill reads more input, first making room by moving unread bytes to the
// front of buf or growing it. It sets r.err when the input ends, fails or
// the buffer would exceed the limit.
func (r *Reader) fill() {
	if r.r > 0 {
		shift := r.r
		copy(r.buf, r.buf[r.r:r.w])
		r.w -= shift
		r.r = 0
		if r.lf >= 0 {
			r.lf -= shift
		}
		if r.cr >= 0 {
			r.cr -= shift
		}
		r.lfFrom -= shift
		r.crFrom -= shift
	}
	if r.w == len(r.buf) {
		if len(r.buf) >= r.max {
			r.err = fmt.Errorf("%w: line exceeds %d bytes", ErrTooLong, r.max)
			r.fatal = r.err
			return
		}
		nb := make([]byte, min(max(2*len(r.buf), DefaultSize), r.max))
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	n, err := r.rd.Read(r.buf[r.w:])
	if n < 0 || n > len(r.buf)-r.w {
		r.err = fmt.Errorf("sse: reader returned invalid count %d", n)
		return
	}
	r.w += n
	r.n += int64(n)
	if err != nil {
		r.err = err
		return
	}
	if n == 0 {
		r.empties++
		if r.empties >= maxEmptyReads {
			r.err = io.ErrNoProgress
		}
		return
	}
	r.empties = 0
}
