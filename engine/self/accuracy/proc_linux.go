//go:build linux

package accuracy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat CPU times: 100 on every
// Linux architecture Go supports (the kernel fixes it for user space
// whatever its internal HZ).
const clockTick = 10 * time.Millisecond

// procCPU is the user+system CPU time of process pid, 0 meaning this
// process (read with getrusage, microsecond resolution; another process's
// comes from /proc/PID/stat in clock ticks). Children are not included.
func procCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0, fmt.Errorf("getrusage: %w", err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
	}
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted from the last ')'. utime and stime are fields 14
	// and 15, i.e. the 12th and 13th after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no ')' in %q", path, b)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: %d fields after the command name, want at least 13", path, len(f))
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%s: utime/stime: %w", path, err)
	}
	return time.Duration(ut+st) * clockTick, nil
}

func procDir(pid int) string {
	if pid == 0 {
		return "/proc/self"
	}
	return "/proc/" + strconv.Itoa(pid)
}

// procMem returns the resident set size and its peak (VmRSS, VmHWM) of
// process pid (0 = this process), in bytes.
func procMem(pid int) (rss, peak int64, err error) {
	path := procDir(pid) + "/status"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	rss, err1 := statusKB(b, "VmRSS:")
	peak, err2 := statusKB(b, "VmHWM:")
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	return rss, peak, nil
}

// statusKB reads a "Key:   1234 kB" line of /proc/PID/status as bytes.
func statusKB(b []byte, key string) (int64, error) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, fmt.Errorf("no %s line", key)
	}
	line := b[i+len(key):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := bytes.Fields(line)
	if len(f) != 2 || string(f[1]) != "kB" {
		return 0, fmt.Errorf("%s %q: want a number of kB", key, line)
	}
	v, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return v << 10, nil
}

// resetPeak resets VmHWM of process pid to its current RSS (Linux >= 4.0,
// "5" to /proc/PID/clear_refs), so each step's peak is its own.
func resetPeak(pid int) error {
	return os.WriteFile(procDir(pid)+"/clear_refs", []byte("5"), 0)
}

// boxTimes are machine-wide counters. The kernel's own totals
// (/proc/stat) are tick-sampled, and on the 2-vCPU Firecracker VM this was
// written on they were off by +-25% for this bursty, syscall-heavy load
// (busy + idle did not even add up to wall time x CPUs). So the CPU used
// on the machine is summed from every process instead (user + system,
// plus reaped children, so short-lived processes such as compiler runs
// count once their parent waits for them), and contention comes from
// pressure stall information (/proc/pressure/cpu): the time during which
// at least one runnable task waited for a CPU.
type boxTimes struct {
	all      time.Duration // CPU of every process
	pressure time.Duration // PSI cpu "some" total
	psiKnown bool
}

func readBox() (boxTimes, error) {
	var b boxTimes
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return b, err
	}
	var buf []byte
	for _, e := range ents {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		f, err := os.Open("/proc/" + name + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		buf = buf[:cap(buf)]
		if len(buf) < 4096 {
			buf = make([]byte, 4096)
		}
		n, _ := f.Read(buf)
		f.Close()
		line := buf[:n]
		i := bytes.LastIndexByte(line, ')')
		if i < 0 {
			continue
		}
		fs := bytes.Fields(line[i+1:])
		if len(fs) < 15 {
			continue
		}
		for _, v := range fs[11:15] { // utime stime cutime cstime
			t, err := strconv.ParseInt(string(v), 10, 64)
			if err == nil {
				b.all += time.Duration(t) * clockTick
			}
		}
	}
	if p, err := os.ReadFile("/proc/pressure/cpu"); err == nil {
		if i := bytes.Index(p, []byte("some ")); i >= 0 {
			line := p[i:]
			if j := bytes.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			if k := bytes.Index(line, []byte("total=")); k >= 0 {
				if us, err := strconv.ParseInt(string(bytes.TrimSpace(line[k+len("total="):])), 10, 64); err == nil {
					b.pressure, b.psiKnown = time.Duration(us)*time.Microsecond, true
				}
			}
		}
	}
	return b, nil
}

// loadAvg is the 1-minute load average.
func loadAvg() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0, errors.New("/proc/loadavg is empty")
	}
	return strconv.ParseFloat(string(f[0]), 64)
}

// cpuModel is the first "model name" of /proc/cpuinfo, "" when unknown.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	i := bytes.Index(b, []byte("model name"))
	if i < 0 {
		return ""
	}
	line := b[i:]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	if j := bytes.IndexByte(line, ':'); j >= 0 {
		return string(bytes.TrimSpace(line[j+1:]))
	}
	return ""
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(b))
}
