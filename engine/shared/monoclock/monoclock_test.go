package monoclock

import (
	"runtime"
	"testing"
	"time"
)

func TestNowIsMonotonicAndNanoseconds(t *testing.T) {
	a := Now()
	time.Sleep(2 * time.Millisecond)
	b := Now()
	if d := time.Duration(b - a); d < 2*time.Millisecond || d > time.Second {
		t.Fatalf("Now advanced %v over a 2 ms sleep", d)
	}
}

func TestNowIsTheKernelsMonotonicClock(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Now is process-local off Linux")
	}
	for range 5 {
		a := sysMonoNow()
		m := Now()
		b := sysMonoNow()
		if m < a-int64(50*time.Microsecond) || m > b+int64(50*time.Microsecond) {
			t.Fatalf("Now %d outside the system call's readings [%d, %d]", m, a, b)
		}
	}
}
