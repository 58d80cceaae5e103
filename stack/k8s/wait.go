package k8s

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Files of a results directory the wait looks at; the run writes
// summary.json last, by rename, so its presence means the run is over.
const (
	summaryFile  = "summary.json"
	requestsFile = "requests.jsonl"
)

// ErrTimeout is returned by WaitForResults when some directories were still
// unfinished when ctx's deadline passed.
var ErrTimeout = errors.New("timed out")

// WaitForResults polls dirs every poll until each holds a finished run
// (Finished), and returns nil; or, when ctx ends first, the directories
// still unfinished and an error wrapping ErrTimeout (or ctx's error when
// ctx was cancelled without a deadline). It is the merge Job's init step:
// it needs no access to the Kubernetes API, only the shared volume.
func WaitForResults(ctx context.Context, dirs []string, poll time.Duration) ([]string, error) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		missing := unfinished(dirs)
		if len(missing) == 0 {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return missing, fmt.Errorf("%w: %d of %d shard directories have no finished results: %v", ErrTimeout, len(missing), len(dirs), missing)
			}
			return missing, ctx.Err()
		case <-t.C:
		}
	}
}

func unfinished(dirs []string) []string {
	var missing []string
	for _, d := range dirs {
		if !Finished(d) {
			missing = append(missing, d)
		}
	}
	return missing
}

// Finished reports whether dir holds the results of a run that ended: its
// summary.json exists, or, for a file of several scenarios (one
// subdirectory each), at least one subdirectory has one and none has a
// requests.jsonl without it.
func Finished(dir string) bool {
	if exists(filepath.Join(dir, summaryFile)) {
		return true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	done := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		switch {
		case exists(filepath.Join(sub, summaryFile)):
			done++
		case exists(filepath.Join(sub, requestsFile)):
			return false // a scenario still running
		}
	}
	return done > 0
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
