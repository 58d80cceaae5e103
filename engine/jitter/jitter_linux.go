package jitter

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

const (
	clockMonotonic = 1
	timerAbstime   = 1
)

// MonoNow is CLOCK_MONOTONIC in nanoseconds: the same clock in every
// process on the machine (Go's own monotonic readings are relative to
// the process's start, so they cannot be compared across processes). It
// is Go's vDSO-backed monotonic clock, which is CLOCK_MONOTONIC, plus an
// offset measured once with clock_gettime system calls: as cheap as
// time.Now.
func MonoNow() int64 { return monoBase + int64(time.Since(monoRef)) }

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

type osClock struct{}

func (osClock) now() int64 { return MonoNow() }

// sleepUntil blocks the thread in clock_nanosleep(TIMER_ABSTIME): the
// kernel's hrtimer wakes it, with no Go timer or netpoller in between.
func (osClock) sleepUntil(t int64) {
	ts := syscall.NsecToTimespec(t)
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_CLOCK_NANOSLEEP, clockMonotonic, timerAbstime,
			uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if errno != syscall.EINTR {
			return
		}
	}
}

// runPinned runs one probe thread on cpu.
func runPinned(ctx context.Context, cpu int, cfg Config, onStall func(Stall)) (CPUReport, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := pin(cpu); err != nil {
		return CPUReport{}, fmt.Errorf("jitter: pinning a thread to CPU %d: %w", cpu, err)
	}
	return probe(ctx, cpu, cfg, osClock{}, onStall), nil
}

type cpuMask [1024 / 64]uint64

// pin binds the calling thread (tid 0 = self) to cpu.
func pin(cpu int) error {
	var m cpuMask
	if cpu < 0 || cpu >= len(m)*64 {
		return fmt.Errorf("CPU number out of range")
	}
	m[cpu/64] |= 1 << (cpu % 64)
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	if errno != 0 {
		return errno
	}
	return nil
}

// allowedCPUs lists the CPUs this process may run on.
func allowedCPUs() ([]int, error) {
	var m cpuMask
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	if errno != 0 {
		return nil, fmt.Errorf("jitter: sched_getaffinity: %w", errno)
	}
	var cpus []int
	for i := range len(m) * 64 {
		if m[i/64]&(1<<(i%64)) != 0 {
			cpus = append(cpus, i)
		}
	}
	return cpus, nil
}
