//go:build !linux

package monoclock

import "time"

var start = time.Now()

// Now is a monotonic clock in nanoseconds. Off Linux it is this
// process's own, so it cannot be compared across processes.
func Now() int64 { return int64(time.Since(start)) }
