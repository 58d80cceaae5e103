package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeDocker puts an executable named docker first on PATH. It records
// each invocation's arguments (one line, fields separated by \x1f) in the
// returned log file, answers `compose version` unless noCompose, prints
// psOut for `ps`, and exits with exit for everything else.
func fakeDocker(t *testing.T, noCompose bool, psOut string, exit int) (logFile string) {
	t.Helper()
	dir := t.TempDir()
	logFile = filepath.Join(dir, "argv.log")
	psFile := filepath.Join(dir, "ps.json")
	if err := os.WriteFile(psFile, []byte(psOut), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := `echo "Docker Compose version v2.30.3"; exit 0`
	if noCompose {
		compose = `echo "docker: 'compose' is not a docker command." >&2; exit 1`
	}
	script := fmt.Sprintf(`#!/bin/sh
for a in "$@"; do printf '%%s\037' "$a"; done >> %[1]q
echo >> %[1]q
if [ "$1 $2" = "compose version" ]; then %[2]s; fi
for a in "$@"; do if [ "$a" = ps ]; then cat %[3]q; exit 0; fi; done
echo "fake docker: $*"
exit %[4]d
`, logFile, compose, psFile, exit)
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return logFile
}

// dockerCalls reads the fake docker's log: one []string per invocation.
func dockerCalls(t *testing.T, logFile string) [][]string {
	t.Helper()
	b, err := os.ReadFile(logFile)
	if err != nil {
		return nil
	}
	var calls [][]string
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		calls = append(calls, strings.Split(strings.TrimSuffix(line, "\x1f"), "\x1f"))
	}
	return calls
}

func TestStackDockerCommandLines(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my stack")
	if code, out, errs := runStack("init", "--dir", dir); code != exitOK {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	file := filepath.Join(dir, "compose.yaml")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"up", "--dir", dir}, []string{"compose", "-f", file, "up", "--detach"}},
		{[]string{"up", "--dir", dir, "--wait"}, []string{"compose", "-f", file, "up", "--detach", "--wait"}},
		{[]string{"down", "--dir", dir}, []string{"compose", "-f", file, "down"}},
		{[]string{"down", "--volumes", "--dir", dir}, []string{"compose", "-f", file, "down", "--volumes"}},
		{[]string{"logs", "--dir", dir}, []string{"compose", "-f", file, "logs", "--tail", "200"}},
		{[]string{"logs", "--dir", dir, "vllm", "--follow", "--tail", "0", "grafana"}, []string{"compose", "-f", file, "logs", "--tail", "all", "--follow", "vllm", "grafana"}},
	} {
		t.Run(strings.Join(c.args[:1], " "), func(t *testing.T) {
			log := fakeDocker(t, false, "", 0)
			code, out, errs := runStack(c.args...)
			if code != exitOK {
				t.Fatalf("%v: exit %d\n%s%s", c.args, code, out, errs)
			}
			calls := dockerCalls(t, log)
			if len(calls) != 2 || !slices.Equal(calls[0], []string{"compose", "version"}) || !slices.Equal(calls[1], c.want) {
				t.Fatalf("%v ran docker %q, want [compose version] then %q", c.args, calls, c.want)
			}
			if !strings.Contains(out, "fake docker: ") {
				t.Errorf("docker's output was not passed through: %q", out)
			}
		})
	}

	t.Run("docker fails", func(t *testing.T) {
		fakeDocker(t, false, "", 3)
		code, _, errs := runStack("up", "--dir", dir)
		if code != exitStackFailed || !strings.Contains(errs, "exit status 3") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("no compose plugin", func(t *testing.T) {
		log := fakeDocker(t, true, "", 0)
		code, _, errs := runStack("down", "--dir", dir)
		if code != exitStackFailed || !strings.Contains(errs, "docker compose (v2 plugin) not available") ||
			!strings.Contains(errs, "'compose' is not a docker command") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
		if calls := dockerCalls(t, log); len(calls) != 1 {
			t.Errorf("docker ran %q after compose version failed", calls)
		}
	})
	t.Run("no docker", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		code, _, errs := runStack("logs", "--dir", dir)
		if code != exitStackFailed || !strings.Contains(errs, "docker not found on PATH") || !strings.Contains(errs, "docs/stack.md") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("no stack", func(t *testing.T) {
		log := fakeDocker(t, false, "", 0)
		empty := t.TempDir()
		code, _, errs := runStack("up", "--dir", empty)
		if code != exitConfig || !strings.Contains(errs, "llmload stack init --dir "+empty) {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
		if calls := dockerCalls(t, log); len(calls) != 0 {
			t.Errorf("docker ran without a stack: %q", calls)
		}
	})
	t.Run("bad args", func(t *testing.T) {
		if code, _, errs := runStack("up", "--dir", dir, "now"); code != exitConfig || !strings.Contains(errs, `unexpected argument "now"`) {
			t.Errorf("up now: exit %d %q", code, errs)
		}
		if code, out, _ := runStack("down", "--help"); code != exitOK || !strings.Contains(out, "--volumes") {
			t.Errorf("down --help: exit %d %q", code, out)
		}
	})
}
