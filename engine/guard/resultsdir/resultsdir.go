// Package resultsdir guards a run's results directory: results of two runs
// must not mix (the first run's server.jsonl beside the second's summary),
// and llmload must never delete what is not its own. A directory that
// holds anything is refused unless the user says --overwrite, and then
// only llmload's own result files are removed from it.
package resultsdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/llmload/llmload/engine/results/observe"
	"github.com/llmload/llmload/engine/results/record"
)

// OwnFiles are the files `llmload run` writes into a results directory
// (and the summary's temporary name, left by a run killed mid-write).
// --overwrite removes these and nothing else.
var OwnFiles = []string{
	record.SummaryFile, record.SummaryFile + ".tmp", record.RequestsFile, record.WindowsFile, observe.ServerFile,
}

// Prepare readies dir for a run's results. A missing or empty directory
// is fine (the recorder creates it). A directory with entries is an error
// that names them and says what to do, unless overwrite: then the
// OwnFiles in it are removed (regular files only, never a directory) and
// other entries are left alone. Prepare is not safe against a concurrent
// run writing into the same dir.
func Prepare(dir string, overwrite bool) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("--out %s: %w", dir, err)
	case len(entries) == 0:
		return nil
	}
	if !overwrite {
		names := make([]string, 0, 4)
		for _, e := range entries[:min(len(entries), 4)] {
			names = append(names, e.Name())
		}
		more := ""
		if len(entries) > len(names) {
			more = fmt.Sprintf(" and %d more", len(entries)-len(names))
		}
		return fmt.Errorf("--out %s: the results directory is not empty (it holds %s%s), and a second run's results would mix with what is there; choose another --out, or pass --overwrite to replace llmload's result files in it (%s; nothing else is deleted)",
			dir, strings.Join(names, ", "), more, strings.Join(OwnFiles[:len(OwnFiles)-1], ", ")+" and "+OwnFiles[len(OwnFiles)-1])
	}
	for _, e := range entries {
		if !slices.Contains(OwnFiles, e.Name()) || !e.Type().IsRegular() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--overwrite: %w", err)
		}
	}
	return nil
}
