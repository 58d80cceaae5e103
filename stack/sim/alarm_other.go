//go:build !linux

package sim

// newPreciseTimer has no precise implementation outside Linux; the alarm
// falls back to Go timers.
func newPreciseTimer() wakeTimer { return nil }
