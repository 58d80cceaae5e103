package trace

import "time"

// Turn is one request of a session.
type Turn struct {
	Think        time.Duration // wait after the previous turn's answer ended before sending this one; 0 for the first turn
	InputTokens  int
	OutputTokens int
	HashIDs      []int
	BlockSize    int
	Line         int
}

// Session is one conversation.
type Session struct {
	ID    string
	Start time.Duration
	Turns []Turn
}

// SessionSource yields sessions in order of Start.
type SessionSource interface {
	NextSession() (Session, error)
	Close() error
}
