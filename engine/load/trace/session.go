package trace

import (
	"io"
	"time"
)

// Sessions are multi-turn conversations: turn k+1 is sent only after turn
// k's answer arrived plus a think time. They come from a session JSON-lines
// file (SessionsJSONL) or are rebuilt from a Mooncake trace
// (MooncakeSessions); docs/traces.md#sessions has both rules.

// Turn is one request of a session.
type Turn struct {
	Think        time.Duration // wait after the previous turn's answer ended before sending this one; 0 for the first turn
	InputTokens  int           // new prompt tokens of this turn as the trace gives them (see docs: for Mooncake this is the whole input length, context included)
	OutputTokens int
	HashIDs      []int // prefix blocks of the whole prompt, nil when the trace has none
	BlockSize    int   // tokens per hash id; 0 = default
	Line         int   // 1-based line in the file
}

// Session is one conversation.
type Session struct {
	ID    string
	Start time.Duration // arrival of the first turn since the source's epoch
	Turns []Turn
}

// SessionSource yields sessions in order of Start. NextSession returns io.EOF at the end;
// any other error is final. Not safe for concurrent use (one goroutine owns it).
type SessionSource interface {
	NextSession() (Session, error)
	Close() error
}

// LimitSessions returns a source that yields at most n sessions of src
// (none when n <= 0) and then io.EOF. Close closes src; src's skipped
// rows are reported through the result, as Limit does for rows.
func LimitSessions(src SessionSource, n int64) SessionSource {
	return &limitedSessions{src: src, Reports: Reports{src}, left: n}
}

type limitedSessions struct {
	src SessionSource
	Reports
	left int64
}

func (l *limitedSessions) NextSession() (Session, error) {
	if l.left <= 0 {
		return Session{}, io.EOF
	}
	s, err := l.src.NextSession()
	if err == nil {
		l.left--
	}
	return s, err
}

func (l *limitedSessions) Close() error { return l.src.Close() }
