//go:build linux

package fdlimit

import "syscall"

// Raise sets the soft RLIMIT_NOFILE to the hard limit and returns the new
// soft limit. (Go's runtime does this at start too, but a limit lowered
// since, or inherited by a re-exec, is raised here.)
func Raise() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			return 0, err
		}
	}
	return r.Cur, nil
}

func limits() (soft, hard uint64, err error) {
	var r syscall.Rlimit
	err = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
	return r.Cur, r.Max, err
}
