//go:build linux

package fdlimit

import (
	"strings"
	"syscall"
	"testing"
)

// TestRaise lowers this test process's soft limit (not below what it has
// open), checks that Raise lifts it back to the hard limit, and that
// Shortfall warns only for a need above it. The limits are restored.
func TestRaise(t *testing.T) {
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig) })
	if orig.Max < 512 {
		t.Skipf("hard limit %d is too low to lower the soft one safely", orig.Max)
	}
	low := syscall.Rlimit{Cur: 256, Max: orig.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	if w := Shortfall(Need(300, false)); !strings.Contains(w, "open-file limit is 256") || !strings.Contains(w, "--concurrency") {
		t.Errorf("before Raise, Shortfall = %q", w)
	}
	soft, err := Raise()
	if err != nil {
		t.Fatal(err)
	}
	var now syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now); err != nil {
		t.Fatal(err)
	}
	if soft != orig.Max || now.Cur != orig.Max {
		t.Errorf("after Raise: soft %d (returned %d), want the hard limit %d", now.Cur, soft, orig.Max)
	}
	if w := Shortfall(Need(300, false)); w != "" {
		t.Errorf("after Raise, Shortfall = %q", w)
	}
	if w := Shortfall(orig.Max + 1); w == "" && orig.Max < 1<<62 {
		t.Error("no warning for a need above the hard limit")
	}
}

func TestNeed(t *testing.T) {
	if Need(100, false) != 100+Reserve || Need(100, true) != 200+Reserve || Need(-1, true) != Reserve {
		t.Error("Need")
	}
}
