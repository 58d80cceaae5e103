package trace

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/llmload/llmload/engine/shared/jsonx"
)

// The session JSON-lines format: one JSON object per line, one line per
// turn (docs/traces.md#session-json-lines). A session's lines may be
// interleaved with other sessions' lines, as a log export writes them; a
// session ends at its line with "last": true or at the end of the file.
// Sessions are yielded in order of their turn-1 lines, which must be in
// time order, so a session that started is held, with every session that
// started after it, until it ends: the held turns are bounded.

const (
	// maxHeldTurns and maxHeldHashIDs bound what SessionsJSONL holds while
	// it waits for sessions to end (about 130 MiB at most: 64 bytes a Turn,
	// 8 a hash id).
	maxHeldTurns   = 1 << 20
	maxHeldHashIDs = 8 << 20
)

// The keys of a session line.
const (
	skSession = iota
	skTurn
	skTime
	skDelay
	skThink
	skInput
	skOutput
	skIDs
	skBlock
	skLast
	nSessionKeys
)

var sessionKeys = [nSessionKeys]string{"session_id", "turn", "timestamp", "delay", "think",
	"input_tokens", "output_tokens", "hash_ids", "block_size", "last"}

// sessionLine is one line's values.
type sessionLine struct {
	id         string
	turn       int
	at, delay  time.Duration
	in, out    int
	ids        []int // scratch: copied into the Turn
	block      int
	last       bool
	found      [nSessionKeys]bool
	probs      [nSessionKeys]fieldProblem
	turnField  []byte
	delayField []byte
}

// heldSession is a session that started and has not been yielded yet.
type heldSession struct {
	Session
	ended    bool
	lastLine int // line of the session's latest turn
}

type sessionJSONL struct {
	lineReader
	first bool
	sc    jsonx.Scanner
	l     sessionLine

	open  map[string]*heldSession // started and not ended
	queue []*heldSession          // started and not yielded, in order of start
	// The latest session start, which the next may not precede.
	lastStart     time.Duration
	lastStartLine int
	lastStartID   string

	heldTurns, heldIDs       int
	maxHeldTurns, maxHeldIDs int
}

// SessionsJSONL opens a session JSON-lines file. A file whose first line
// is not a JSON object fails here (ErrFormat); other errors, naming
// file:line, come from NextSession. Options.SkipBad skips lines that are
// malformed or break a rule (counted, see SkipReporter).
func SessionsJSONL(path string, opt Options) (SessionSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("session trace: %w; check the path", err)
	}
	r := newSessionJSONL(f, path, opt, bufSize)
	r.file = f
	// Read the first line now, so that a file of another format fails
	// here rather than when the run starts.
	if err := r.step(); errors.Is(err, ErrFormat) {
		f.Close()
		return nil, err
	}
	return r, nil
}

// NewSessionsJSONL reads session JSON lines from rd; name prefixes error
// messages. Close does not close rd.
func NewSessionsJSONL(rd io.Reader, name string, opt Options) SessionSource {
	return newSessionJSONL(rd, name, opt, bufSize)
}

func newSessionJSONL(rd io.Reader, name string, opt Options, size int) *sessionJSONL {
	return &sessionJSONL{
		lineReader:   newLineReader(rd, "session trace", name, opt, size),
		open:         make(map[string]*heldSession),
		maxHeldTurns: maxHeldTurns, maxHeldIDs: maxHeldHashIDs,
	}
}

// NextSession returns the earliest-starting session once it has ended,
// reading on as far as that needs.
func (r *sessionJSONL) NextSession() (Session, error) {
	for {
		if r.err != nil && r.err != io.EOF {
			return Session{}, r.err
		}
		if len(r.queue) > 0 && r.queue[0].ended {
			h := r.queue[0]
			r.queue[0] = nil
			r.queue = r.queue[1:]
			r.heldTurns -= len(h.Turns)
			for _, t := range h.Turns {
				r.heldIDs -= len(t.HashIDs)
			}
			return h.Session, nil
		}
		if r.err == io.EOF {
			return Session{}, io.EOF // the end of the file ended every session
		}
		if err := r.step(); err != nil && err != io.EOF {
			return Session{}, err
		}
	}
}

// step reads one line and adds its turn. At the end of the file it ends
// every open session and returns io.EOF.
func (r *sessionJSONL) step() error {
	b, err := r.nextLine()
	if err == io.EOF {
		for id, h := range r.open {
			h.ended = true
			delete(r.open, id)
		}
		return err
	}
	if err != nil {
		return err
	}
	if !r.first {
		r.first = true
		if err := notJSONObjectLine(r.name, r.line, b); err != nil {
			return r.fail(err)
		}
	}
	if p := r.parse(b); !p.ok() {
		return r.badField(r.line, p)
	}
	if p := r.add(); !p.ok() {
		return r.badField(r.line, p)
	}
	if r.heldTurns > r.maxHeldTurns || r.heldIDs > r.maxHeldIDs {
		return r.fail(fmt.Errorf("%s:%d: more than %d turns or %d hash ids are held waiting for the session of line %d (%q) to end, with the sessions that started after it; end each session with \"last\": true on its last turn, or put each session's lines together and mark its end",
			r.name, r.line, r.maxHeldTurns, r.maxHeldIDs, r.queue[0].Turns[0].Line, r.queue[0].ID))
	}
	return nil
}

// rule makes the problem of a line that breaks a rule of the format.
func rule(format string, args ...any) fieldProblem {
	return fieldProblem{what: fmt.Sprintf(format, args...)}
}

// add applies the format's rules to the line just parsed and adds its
// turn to its session.
func (r *sessionJSONL) add() fieldProblem {
	l := &r.l
	t := Turn{InputTokens: l.in, OutputTokens: l.out, BlockSize: l.block, Line: r.line}
	if len(l.ids) > 0 {
		t.HashIDs = append([]int(nil), l.ids...)
	}
	var h *heldSession
	if l.turn == 1 {
		if !l.found[skTime] {
			return fieldProblem{what: "is missing; turn 1 needs it: the session's start", col: "timestamp"}
		}
		if l.delay != 0 {
			return fieldProblem{what: "is not 0 on turn 1; the first turn has no answer to wait for, and starts at timestamp", col: r.delayKey(), field: l.delayField}
		}
		if o := r.open[l.id]; o != nil {
			return rule("starts session %q again (turn 1) while it is open since line %d; give the new session another id, or end the first one with \"last\": true",
				l.id, o.Turns[0].Line)
		}
		if r.lastStartLine > 0 && l.at < r.lastStart {
			return rule("starts session %q at %s s, before session %q did (%s s, line %d); sessions must start in time order: sort the files' turn-1 lines by timestamp",
				l.id, seconds(l.at), r.lastStartID, seconds(r.lastStart), r.lastStartLine)
		}
		r.lastStart, r.lastStartLine, r.lastStartID = l.at, r.line, l.id
		h = &heldSession{Session: Session{ID: l.id, Start: l.at}}
		r.open[l.id] = h
		r.queue = append(r.queue, h)
	} else {
		h = r.open[l.id]
		switch {
		case h == nil:
			return rule("has turn %d of session %q, which is not open: its turn 1 is missing or was skipped, or the session ended (\"last\": true) before this line",
				l.turn, l.id)
		case l.turn != len(h.Turns)+1:
			return rule("has turn %d of session %q after its turn %d (line %d); a session's turns go up by 1",
				l.turn, l.id, len(h.Turns), h.lastLine)
		case !l.found[skDelay] && !l.found[skThink]:
			return fieldProblem{what: "is missing; a turn after the first needs delay (or think): the seconds between the previous answer and this turn", col: "delay"}
		case l.found[skTime] && l.at < h.Start:
			return fieldProblem{what: fmt.Sprintf("is before the session's start (%s s, line %d)", seconds(h.Start), h.Turns[0].Line),
				col: "timestamp", field: []byte(seconds(l.at))}
		}
		t.Think = l.delay
	}
	h.Turns = append(h.Turns, t)
	h.lastLine = r.line
	r.heldTurns++
	r.heldIDs += len(t.HashIDs)
	if l.last {
		h.ended = true
		delete(r.open, l.id)
	}
	return fieldProblem{}
}

func (r *sessionJSONL) delayKey() string {
	if r.l.found[skThink] {
		return "think"
	}
	return "delay"
}

// seconds renders an instant or a duration as seconds for messages.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// parse reads one line's values into r.l. Syntax errors stop it; a
// value's problem is kept per key, so that a later duplicate key can
// replace it (as encoding/json lets the last one win).
func (r *sessionJSONL) parse(b []byte) fieldProblem {
	r.l = sessionLine{ids: r.l.ids[:0]}
	s := &r.sc
	s.Reset(b, maxJSONDepth+1)
	if s.Peek() != '{' {
		return fieldProblem{what: whatNotObject, field: s.Rest()}
	}
	if !eachMember(s, r.member) {
		return fieldProblem{what: whatNotJSON, field: s.Rest()}
	}
	if !s.AtEnd() {
		return fieldProblem{what: "has text after the JSON object", field: s.Rest()}
	}
	l := &r.l
	for k := range nSessionKeys {
		if !l.probs[k].ok() {
			return l.probs[k]
		}
	}
	for _, k := range [...]int{skSession, skTurn, skInput, skOutput} {
		if !l.found[k] {
			return fieldProblem{what: whatMissing, col: sessionKeys[k]}
		}
	}
	switch {
	case l.turn == 0:
		return fieldProblem{what: "is 0; turns count from 1", col: "turn", field: l.turnField}
	case l.found[skDelay] && l.found[skThink]:
		return rule("has both delay and think; they are the same: give one")
	}
	return fieldProblem{}
}

// member reads one key of the line's object; it returns false only on a
// syntax error.
func (r *sessionJSONL) member(s *jsonx.Scanner, key []byte) bool {
	k := -1
	for i, n := range sessionKeys {
		if n == string(key) { // no allocation: only compared
			k = i
			break
		}
	}
	if k < 0 {
		return s.Skip() == nil
	}
	l := &r.l
	l.found[k] = true
	l.probs[k] = fieldProblem{}
	start := s.Pos()
	var what string
	var field []byte
	ok := true
	switch k {
	case skSession:
		l.id, what, field, ok = sessionID(s)
	case skTurn:
		l.turn, what, field, ok = countValue(s)
		l.turnField = s.Since(start)
	case skTime:
		l.at, what, field, ok = timeValue(s, time.Second)
	case skDelay, skThink:
		l.delay, what, field, ok = durationValue(s, time.Second)
		l.delayField = s.Since(start)
	case skInput:
		l.in, what, field, ok = countValue(s)
	case skOutput:
		l.out, what, field, ok = countValue(s)
	case skBlock:
		l.block, what, field, ok = countValue(s)
	case skIDs:
		var bad bool
		if l.ids, bad, field, ok = idsValue(s, l.ids[:0]); bad {
			l.ids, what = l.ids[:0], whatNotList
		}
	case skLast:
		if v, isBool := s.Bool(); isBool {
			l.last = v
		} else {
			field, ok = skipValue(s, start)
			what = "is not true or false"
		}
	}
	if what != "" {
		l.probs[k] = fieldProblem{what: what, col: sessionKeys[k], field: field}
	}
	return ok
}

// sessionID reads a session id: a non-empty string, or a whole number
// (whose decimal text is the id, so 7 and "7" are the same session).
func sessionID(s *jsonx.Scanner) (id, what string, field []byte, ok bool) {
	start := s.Pos()
	if s.Peek() == '"' {
		body, err := s.String()
		if err != nil {
			return "", "", nil, false
		}
		if len(body) == 0 {
			return "", "is empty; want a string or a whole number", s.Since(start), true
		}
		return string(body), "", nil, true
	}
	text, integer, err := s.Number()
	if err == nil && integer {
		return string(text), "", nil, true
	}
	field, ok = skipValue(s, start)
	return "", "is not a string or a whole number", field, ok
}

// Close releases the file; NextSession after Close fails.
func (r *sessionJSONL) Close() error {
	r.open, r.queue = nil, nil
	return r.lineReader.Close()
}
