//go:build !linux

package session

import "time"

// threadCPU is not measured off Linux; the summary's step_cpu stays empty.
func threadCPU() (time.Duration, bool) { return 0, false }
