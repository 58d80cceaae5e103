package pathguard

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	allowed, other := t.TempDir(), t.TempDir()
	in, out := filepath.Join(allowed, "in.csv"), filepath.Join(other, "out.csv")
	write(t, in)
	write(t, out)
	link := filepath.Join(allowed, "link.csv")
	if err := os.Symlink(out, link); err != nil {
		t.Fatal(err)
	}
	procLink := filepath.Join(allowed, "env")
	if err := os.Symlink("/proc/self/environ", procLink); err != nil {
		t.Fatal(err)
	}
	g, err := New(allowed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Check(in); err != nil {
		t.Errorf("a file in the allowed directory: %v", err)
	}
	for _, p := range []string{out, link, procLink, "/proc/self/environ", "/sys/kernel/hostname", "/dev/null"} {
		_, err := g.Check(p)
		if !errors.Is(err, ErrOutside) {
			t.Errorf("Check(%s) = %v, want ErrOutside", p, err)
		}
	}
	if _, err := g.Check(link); err == nil || !strings.Contains(err.Error(), "--allow-read "+other) {
		t.Errorf("the error should say which --allow-read allows it: %v", err)
	}
	// Allowing the other directory allows the file and the link to it,
	// but /proc stays denied even when / is allowed.
	g2, err := New(allowed, other)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{out, link} {
		if _, err := g2.Check(p); err != nil {
			t.Errorf("Check(%s) with --allow-read: %v", p, err)
		}
	}
	g3, err := New("/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g3.Check("/proc/self/environ"); !errors.Is(err, ErrOutside) {
		t.Errorf("/proc with / allowed: %v", err)
	}
	if _, err := g3.Check(procLink); !errors.Is(err, ErrOutside) {
		t.Errorf("a link to /proc with / allowed: %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New("/proc"); err == nil {
		t.Error("--allow-read /proc accepted")
	}
	if _, err := New(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "--allow-read") {
		t.Errorf("a missing directory: %v", err)
	}
}

func TestRelativeToWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	write(t, "rel.csv")
	g, err := New(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Check("rel.csv"); err != nil {
		t.Error(err)
	}
	if _, err := g.Check("../"); !errors.Is(err, ErrOutside) {
		t.Errorf("the parent directory: %v", err)
	}
}

func TestWithFiles(t *testing.T) {
	allowed, other := t.TempDir(), t.TempDir()
	named, unnamed := filepath.Join(other, "named.csv"), filepath.Join(other, "unnamed.csv")
	write(t, named)
	write(t, unnamed)
	g, err := New(allowed)
	if err != nil {
		t.Fatal(err)
	}
	g2 := g.WithFiles(named, "12", other, "/proc/self/environ")
	if _, err := g2.Check(named); err != nil {
		t.Errorf("a file named on the command line: %v", err)
	}
	for _, p := range []string{unnamed, "/proc/self/environ"} {
		if _, err := g2.Check(p); !errors.Is(err, ErrOutside) {
			t.Errorf("Check(%s) = %v, want ErrOutside", p, err)
		}
	}
	if _, err := g.Check(named); !errors.Is(err, ErrOutside) {
		t.Errorf("WithFiles changed the original guard: %v", err)
	}
}
