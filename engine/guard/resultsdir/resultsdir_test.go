package resultsdir

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestPrepare(t *testing.T) {
	base := t.TempDir()
	if err := Prepare(filepath.Join(base, "new"), false); err != nil {
		t.Errorf("a missing directory: %v", err)
	}
	if err := Prepare(base, false); err != nil {
		t.Errorf("an empty directory: %v", err)
	}
	for _, f := range OwnFiles {
		touch(t, filepath.Join(base, f))
	}
	touch(t, filepath.Join(base, "notes.txt"))
	if err := os.Mkdir(filepath.Join(base, "requests.jsonl.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A directory named like one of ours is not removed.
	if err := os.Mkdir(filepath.Join(base, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	touch(t, filepath.Join(base, "sub", "summary.json"))

	err := Prepare(base, false)
	if err == nil || !strings.Contains(err.Error(), "--overwrite") || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a used directory: %v", err)
	}
	if got := names(t, base); len(got) != len(OwnFiles)+3 {
		t.Fatalf("the refusal deleted files: %v", got)
	}
	if err := Prepare(base, true); err != nil {
		t.Fatal(err)
	}
	want := []string{"notes.txt", "requests.jsonl.d", "sub"}
	if got := names(t, base); !slices.Equal(got, want) {
		t.Errorf("after --overwrite: %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(base, "sub", "summary.json")); err != nil {
		t.Errorf("a file in a subdirectory was removed: %v", err)
	}
}

func TestPrepareNotADirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	touch(t, f)
	if err := Prepare(f, true); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Errorf("a file as --out: %v", err)
	}
}
