package k8s

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFinished(t *testing.T) {
	root := t.TempDir()
	dir := func(name string) string { return filepath.Join(root, name) }
	writeFile(t, filepath.Join(dir("one"), "summary.json"))
	writeFile(t, filepath.Join(dir("running"), "requests.jsonl"))
	writeFile(t, filepath.Join(dir("multi"), "a", "summary.json"))
	writeFile(t, filepath.Join(dir("multi"), "b", "summary.json"))
	writeFile(t, filepath.Join(dir("multi-running"), "a", "summary.json"))
	writeFile(t, filepath.Join(dir("multi-running"), "b", "requests.jsonl"))
	writeFile(t, filepath.Join(dir("tmp-only"), "summary.json.tmp"))
	for name, want := range map[string]bool{"one": true, "running": false, "multi": true,
		"multi-running": false, "tmp-only": false, "absent": false} {
		if got := Finished(dir(name)); got != want {
			t.Errorf("Finished(%s) = %v; want %v", name, got, want)
		}
	}
}

// Shards finish at different times; the wait returns once the last one
// has, and not before.
func TestWaitForResultsReturnsWhenAllFinished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := t.TempDir()
		dirs := []string{filepath.Join(root, "shard-0"), filepath.Join(root, "shard-1")}
		start := time.Now()
		go func() {
			time.Sleep(3 * time.Second)
			writeFile(t, filepath.Join(dirs[1], "summary.json"))
			time.Sleep(4 * time.Second)
			writeFile(t, filepath.Join(dirs[0], "summary.json"))
		}()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		missing, err := WaitForResults(ctx, dirs, 2*time.Second)
		if err != nil || missing != nil {
			t.Fatalf("missing %v, err %v", missing, err)
		}
		if took := time.Since(start); took < 7*time.Second || took > 9*time.Second {
			t.Errorf("returned after %s; want within one poll (2s) of the last shard (7s)", took)
		}
	})
}

func TestWaitForResultsTimesOutNamingTheMissing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := t.TempDir()
		dirs := []string{filepath.Join(root, "shard-0"), filepath.Join(root, "shard-1"), filepath.Join(root, "shard-2")}
		writeFile(t, filepath.Join(dirs[1], "summary.json"))
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		missing, err := WaitForResults(ctx, dirs, 5*time.Second)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err %v; want ErrTimeout", err)
		}
		if want := []string{dirs[0], dirs[2]}; !slices.Equal(missing, want) {
			t.Errorf("missing %v; want %v", missing, want)
		}
	})
}
