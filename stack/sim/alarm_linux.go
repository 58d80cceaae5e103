package sim

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// timerFD is a wakeTimer on a Linux timerfd read through the runtime's
// netpoller: waiting parks the goroutine without holding a thread, and the
// kernel's hrtimer wakes it with microsecond precision.
type timerFD struct {
	fd  uintptr
	f   *os.File
	buf [8]byte
}

type itimerspec struct {
	interval, value syscall.Timespec
}

const clockMonotonic = 1

// newPreciseTimer returns a timerfd-backed timer, or nil when the kernel
// refuses one (the caller then falls back to Go timers).
func newPreciseTimer() wakeTimer {
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return nil
	}
	// A non-blocking descriptor makes os.File use the netpoller.
	return &timerFD{fd: fd, f: os.NewFile(fd, "timerfd")}
}

// arm must not race with close; the alarm's mutex orders them.
func (t *timerFD) arm(d time.Duration) {
	if d < 1 {
		d = 1 // a zero it_value would disarm instead
	}
	its := itimerspec{value: syscall.NsecToTimespec(int64(d))}
	syscall.Syscall6(syscall.SYS_TIMERFD_SETTIME, t.fd, 0, uintptr(unsafe.Pointer(&its)), 0, 0, 0)
}

func (t *timerFD) wait() bool {
	_, err := t.f.Read(t.buf[:])
	return err == nil
}

func (t *timerFD) close() { t.f.Close() }
