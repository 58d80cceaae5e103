package compose

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestEnsureGrafanaPassword(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, EnvFile)
	line := regexp.MustCompile(`(?m)^GRAFANA_ADMIN_PASSWORD=([A-Za-z0-9]{24})$`)

	generated, err := EnsureGrafanaPassword(dir)
	if err != nil || !generated {
		t.Fatalf("first call: generated %v, %v", generated, err)
	}
	st, err := os.Stat(env)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf(".env mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	b, _ := os.ReadFile(env)
	m := line.FindSubmatch(b)
	if m == nil {
		t.Fatalf(".env without a generated password:\n%s", b)
	}
	first := string(m[1])

	// Again (init --force): the password stays.
	if generated, err := EnsureGrafanaPassword(dir); err != nil || generated {
		t.Fatalf("second call: generated %v, %v", generated, err)
	}
	if b2, _ := os.ReadFile(env); string(b2) != string(b) {
		t.Errorf(".env changed on the second call:\n%s", b2)
	}

	// A user's .env (world-readable, no final newline) keeps its lines,
	// gets a new password of its own, and becomes 0600.
	dir2 := t.TempDir()
	env2 := filepath.Join(dir2, EnvFile)
	if err := os.WriteFile(env2, []byte("HF_TOKEN=hf_x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if generated, err := EnsureGrafanaPassword(dir2); err != nil || !generated {
		t.Fatalf("user .env: generated %v, %v", generated, err)
	}
	b2, _ := os.ReadFile(env2)
	m2 := line.FindSubmatch(b2)
	if !strings.HasPrefix(string(b2), "HF_TOKEN=hf_x\n") || m2 == nil || string(m2[1]) == first {
		t.Errorf("user .env after: %q", b2)
	}
	if st, _ := os.Stat(env2); st.Mode().Perm() != 0o600 {
		t.Errorf("user .env mode %v, want 0600", st.Mode().Perm())
	}

	// A password the user set (export form too) is kept.
	dir3 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir3, EnvFile), []byte("export GRAFANA_ADMIN_PASSWORD=mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if generated, err := EnsureGrafanaPassword(dir3); err != nil || generated {
		t.Errorf("user's own password: generated %v, %v", generated, err)
	}
}
