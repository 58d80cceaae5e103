package pace

import (
	"context"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// Pacer releases plans at Epoch + Due (+ time spent paused) on an absolute
// clock. Every wait is computed from the epoch, never by adding up sleeps,
// so timer lateness on one plan does not shift the next. A plan that is
// already late when it arrives is released at once: the pacer never tries
// to catch up by bunching, nor hides lateness by shifting later plans.
//
// Run is called by one goroutine; Pause, Resume and Paused are safe for
// concurrent use with it and with each other (the dashboard calls them).
type Pacer struct {
	epoch  time.Time
	pauses Pauses
	// changed wakes Run when the pause state flips; one pending signal is
	// enough since Run re-reads the state after waking.
	changed chan struct{}
}

// NewPacer returns a pacer whose due offsets count from epoch. epoch should
// carry a monotonic clock reading (any time.Now()-derived value does) so
// that wall-clock steps do not move releases.
func NewPacer(epoch time.Time) *Pacer {
	return &Pacer{epoch: epoch, changed: make(chan struct{}, 1)}
}

// Run releases every plan received on in, in arrival order, by calling
// release with the plan and the instant (since epoch) it was released.
// Plans are expected in non-decreasing Due order; one due earlier than its
// predecessor is simply late and goes at once. release runs on Run's
// goroutine and must not block (Gate.Submit does not).
//
// Run returns nil when in is closed and drained, or ctx.Err() when ctx is
// done first; plans still in the channel are then not released.
func (p *Pacer) Run(ctx context.Context, in <-chan *request.Plan, release func(p *request.Plan, released time.Duration)) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		var plan *request.Plan
		select {
		case pl, ok := <-in:
			if !ok {
				return nil
			}
			plan = pl
		case <-ctx.Done():
			return ctx.Err()
		}
		for {
			paused, shift := p.pauses.State()
			if paused {
				select {
				case <-p.changed:
					continue
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			wait := time.Until(p.epoch.Add(plan.Due + shift))
			if wait <= 0 {
				break
			}
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				// Since Go 1.23 Reset discards any stale expiry, so no drain.
				timer.Reset(wait)
			}
			select {
			case <-timer.C:
			case <-p.changed:
				timer.Stop()
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		release(plan, time.Since(p.epoch))
	}
}

// Pause stops releases until Resume. The time spent paused is added to
// every later due time, so the schedule resumes where it left off instead
// of bursting to catch up. Pausing a paused pacer does nothing.
func (p *Pacer) Pause() {
	p.pauses.Pause()
	p.notify()
}

// Resume ends a pause. Resuming a running pacer does nothing.
func (p *Pacer) Resume() {
	p.pauses.Resume()
	p.notify()
}

// Paused returns the total time spent paused so far, including a pause in
// progress.
func (p *Pacer) Paused() time.Duration { return p.pauses.Total() }

// IsPaused reports whether the pacer is paused now.
func (p *Pacer) IsPaused() bool {
	paused, _ := p.pauses.State()
	return paused
}

func (p *Pacer) notify() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}
