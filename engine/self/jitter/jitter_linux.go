package jitter

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"github.com/llmload/llmload/engine/shared/monoclock"
)

const (
	clockMonotonic = 1
	timerAbstime   = 1
)

type osClock struct{}

func (osClock) now() int64 { return monoclock.Now() }

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
