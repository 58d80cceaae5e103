package pace

import (
	"sync"
	"time"
)

// Pauses keeps the account of a schedule's pauses (the dashboard's p):
// whether one is in progress and how long the ended ones lasted, which is
// how far every later due time moves. The open-loop Pacer and the session
// executor both keep their pauses with it. Its methods are safe for
// concurrent use. The zero value is running, with nothing paused.
type Pauses struct {
	mu     sync.Mutex
	paused bool
	since  time.Time
	ended  time.Duration
}

// Pause starts a pause; pausing while paused does nothing.
func (p *Pauses) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused, p.since = true, time.Now()
	}
}

// Resume ends a pause; resuming while running does nothing.
func (p *Pauses) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		p.ended += time.Since(p.since)
	}
}

// State says whether a pause is in progress and how long the ended ones
// lasted, read together.
func (p *Pauses) State() (paused bool, ended time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused, p.ended
}

// Total is the time spent paused so far, a pause in progress included.
func (p *Pauses) Total() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.ended
	if p.paused {
		d += time.Since(p.since)
	}
	return d
}
