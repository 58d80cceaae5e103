//go:build !linux

package jitter

import (
	"context"
	"time"
)

var start = time.Now()

// MonoNow is a monotonic clock in nanoseconds. Off Linux it is this
// process's own, so it cannot be compared across processes.
func MonoNow() int64 { return int64(time.Since(start)) }

func runPinned(ctx context.Context, cpu int, cfg Config, onStall func(Stall)) (CPUReport, error) {
	return CPUReport{}, ErrUnsupported
}

func allowedCPUs() ([]int, error) { return nil, ErrUnsupported }
