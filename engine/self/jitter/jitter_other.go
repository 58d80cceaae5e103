//go:build !linux

package jitter

import (
	"context"
	"time"
)

func runPinned(ctx context.Context, cpu int, cfg Config, onStall func(Stall)) (CPUReport, error) {
	return CPUReport{}, ErrUnsupported
}

func allowedCPUs() ([]int, error) { return nil, ErrUnsupported }
