package monoclock

import (
	"syscall"
	"time"
	"unsafe"
)

const clockMonotonic = 1

// Now is CLOCK_MONOTONIC in nanoseconds: the same clock in every
// process on the machine (Go's own monotonic readings are relative to
// the process's start, so they cannot be compared across processes). It
// is Go's vDSO-backed monotonic clock, which is CLOCK_MONOTONIC, plus an
// offset measured once with clock_gettime system calls: as cheap as
// time.Now.
func Now() int64 { return monoBase + int64(time.Since(monoRef)) }

var monoRef = time.Now()

// monoBase is CLOCK_MONOTONIC at monoRef. Each try brackets one system
// call between two readings of Go's clock and takes the midpoint; the
// narrowest bracket wins, so a thread descheduled during one try (a
// stall of milliseconds on a busy VM) cannot skew the offset, which every
// cross-process comparison of instants relies on.
var monoBase = func() int64 {
	best, width := int64(0), time.Duration(-1)
	for range 16 {
		before := time.Since(monoRef)
		sys := sysMonoNow()
		after := time.Since(monoRef)
		if w := after - before; width < 0 || w < width {
			best, width = sys-int64(before+w/2), w
		}
	}
	return best
}()

// sysMonoNow reads CLOCK_MONOTONIC with a system call.
func sysMonoNow() int64 {
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}
