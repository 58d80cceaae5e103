package session

import (
	"syscall"
	"time"
	"unsafe"
)

// clockThreadCPU is Linux's CLOCK_THREAD_CPUTIME_ID: the CPU time of the
// calling thread.
const clockThreadCPU = 3

// threadCPU is the CPU time the calling OS thread has used. The driver
// goroutine is locked to its thread, so the difference around a Program
// call is what the call itself cost, without the time the scheduler took
// the thread away (which the wall-clock step cost includes).
func threadCPU() (time.Duration, bool) {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPU, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
