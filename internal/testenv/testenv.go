// Package testenv finds the things tests need outside the repository: the
// shared sample data (../shared/data beside the checkout), external
// tools, and free loopback ports for the servers they start. On a user's fresh clone they are missing and the test skips with a
// one-line reason; under CI=true a missing one is a failure, so CI can never
// pass by skipping.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ModuleRoot returns the directory holding go.mod, walking up from the
// current directory (go test runs each package in its own directory).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// InCI reports whether the test runs under CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// SharedData returns the absolute path of rel inside ../shared/data (for
// example "azure2023/AzureLLMInferenceTrace_conv.csv"). When the file is
// missing the test is skipped, or fails under CI=true. LLMLOAD_SHARED_DATA
// overrides the directory.
func SharedData(t testing.TB, rel string) string {
	t.Helper()
	dir := os.Getenv("LLMLOAD_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join(filepath.Dir(ModuleRoot(t)), "shared", "data")
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		missing(t, "shared sample data "+p+" not found (clone beside ../shared, or set LLMLOAD_SHARED_DATA)")
	}
	return p
}

// Tool returns the path of an executable on PATH, skipping (or failing
// under CI=true) when it is absent.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name+" not on PATH (install it to run this test)")
	}
	return p
}

// Missing skips the test for reason, or fails it under CI=true: for a
// prerequisite found some other way than Tool or SharedData (an engine that
// must answer, a file at a fixed path).
func Missing(t testing.TB, reason string) {
	t.Helper()
	missing(t, reason)
}

func missing(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true but %s", reason)
	}
	t.Skip(reason)
}

// FreeLoopbackAddr asks the kernel for a free port on 127.0.0.1 and
// returns it as host:port, for a server the test starts in another
// process. Another process could take it before that server binds it; the
// server then fails to start, which its test reports.
func FreeLoopbackAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
