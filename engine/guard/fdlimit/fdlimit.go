// Package fdlimit makes room for a run's connections in the process's
// open-file limit (RLIMIT_NOFILE): every request in flight holds a socket,
// and the built-in simulator one more, so a `ulimit -n` below the
// concurrency makes requests fail with "too many open files" as connect
// errors. Raise lifts the soft limit to the hard one; Shortfall says when
// that is still not enough, so the run can warn before it starts.
//
// Both touch process-wide state: call them from the goroutine that starts
// the run, before requests are sent.
package fdlimit

import "fmt"

// Reserve is what the process needs open besides request sockets: result
// files, the exporter, scrapes, the terminal, the runtime's own.
const Reserve = 64

// Need is the open files a run needs at a concurrency: a socket per
// request, twice when the built-in simulator serves them in-process.
func Need(concurrency int, builtinSim bool) uint64 {
	n := uint64(max(concurrency, 0))
	if builtinSim {
		n *= 2
	}
	return n + Reserve
}

// Shortfall returns a warning when the soft limit, after Raise, is below
// need, or "" when it is enough (or unknown on this system).
func Shortfall(need uint64) string {
	soft, hard, err := limits()
	if err != nil || soft >= need {
		return ""
	}
	return fmt.Sprintf("the open-file limit is %d (hard limit %d), and this run needs about %d (a socket per request in flight); requests beyond it fail with connect errors: raise it (ulimit -n %d, or LimitNOFILE= for a service) or lower --concurrency",
		soft, hard, need, need)
}
