// Package pathguard decides which files a scenario script may open: those
// under a few allowed directories (the working directory, the script's
// directory, and what the command line adds with --allow-read), and never
// anything under /proc, /sys or /dev, whose files hold the process's
// environment, keys and devices. Paths are judged after resolving symbolic
// links, so a link inside an allowed directory cannot point out of it.
package pathguard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// denied are the trees no script may read, whatever is allowed: the kernel's
// views of processes (/proc/self/environ holds every secret in the
// environment), of the system, and the devices.
var denied = []string{"/proc", "/sys", "/dev"}

// ErrOutside is wrapped by the errors of Check for a path outside the
// allowed directories or inside a denied one.
var ErrOutside = errors.New("outside the directories a scenario may read")

// Guard holds the resolved allowed directories. It is immutable after New,
// so any number of goroutines may call Check at once.
type Guard struct {
	roots []string        // absolute, symlink-free, cleaned
	files map[string]bool // single files allowed, resolved the same way
}

// New resolves the allowed directories (relative ones against the working
// directory). A directory that does not exist is an error naming it, so a
// mistyped --allow-read is found at once.
func New(dirs ...string) (*Guard, error) {
	g := &Guard{}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		r, err := resolve(d)
		if err != nil {
			return nil, fmt.Errorf("--allow-read %s: %w", d, err)
		}
		if isDenied(r) {
			return nil, fmt.Errorf("--allow-read %s: %s is never readable by scenarios (it holds the environment and devices)", d, r)
		}
		g.roots = append(g.roots, r)
	}
	return g, nil
}

// WithFiles returns a Guard that also allows each of paths that is a
// regular file outside /proc, /sys and /dev: the values the user typed on
// the command line for a scenario's options (--csv /data/trace.csv), since
// naming a file there is consent to its being read. Other values (numbers,
// names, missing files) are ignored: they are not files.
func (g *Guard) WithFiles(paths ...string) *Guard {
	out := &Guard{roots: g.roots, files: map[string]bool{}}
	for f := range g.files {
		out.files[f] = true
	}
	for _, p := range paths {
		r, err := resolve(p)
		if err != nil || isDenied(r) {
			continue
		}
		if st, err := os.Stat(r); err == nil && st.Mode().IsRegular() {
			out.files[r] = true
		}
	}
	return out
}

// Check resolves path (relative to the working directory, symbolic links
// followed) and returns the resolved path when it lies under an allowed
// directory and not under /proc, /sys or /dev. The caller opens the
// returned path, not the given one, so that what was checked is what is
// read. Errors name the path as given and say how to allow it.
func (g *Guard) Check(path string) (string, error) {
	r, err := resolve(path)
	if err != nil {
		return "", err
	}
	if isDenied(r) {
		return "", fmt.Errorf("%s: %w: scenarios may never read /proc, /sys or /dev", path, ErrOutside)
	}
	if g.files[r] {
		return r, nil
	}
	for _, root := range g.roots {
		if within(r, root) {
			return r, nil
		}
	}
	shown := path
	if r != path {
		shown = fmt.Sprintf("%s (which is %s)", path, r)
	}
	return "", fmt.Errorf("%s: %w (the working directory and the script's directory); to read it, add --allow-read %s to the command line",
		shown, ErrOutside, filepath.Dir(r))
}

// Roots returns the allowed directories, resolved.
func (g *Guard) Roots() []string { return append([]string(nil), g.roots...) }

func resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	// Judge the lexical path too: /proc/self is itself a link, so the
	// resolved path may no longer start with /proc.
	if isDenied(abs) {
		return abs, nil
	}
	r, err := filepath.EvalSymlinks(abs)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return "", fmt.Errorf("%s: %w; check the path", p, pe.Err)
		}
		return "", err
	}
	return r, nil
}

func isDenied(p string) bool {
	for _, d := range denied {
		if within(p, d) {
			return true
		}
	}
	return false
}

// within reports whether p is dir or below it (both absolute and clean).
func within(p, dir string) bool {
	if p == dir || dir == "/" {
		return true
	}
	return strings.HasPrefix(p, dir+string(filepath.Separator))
}
