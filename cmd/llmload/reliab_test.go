package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
	"github.com/llmload/llmload/scripting"
)

// runEnv runs the binary from the module root with extra environment
// variables and returns its stdout, stderr and exit code.
func runEnv(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = testenv.ModuleRoot(t)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// quick is a short run of the synthetic scenario against the built-in
// simulator.
var quick = []string{"run", "scenarios/azure_conv.lua", "--limit", "4", "--speedup", "50", "--sim-profile", "fixed",
	"--sim-ttft", "5ms", "--sim-itl", "1ms", "--server-metrics", "off", "--log-every", "0"}

// authProxy forwards to a simulator and remembers the Authorization
// headers of the requests it forwarded.
type authProxy struct {
	mu    sync.Mutex
	auths []string
	srv   *httptest.Server
}

func newAuthProxy(t *testing.T, target string) *authProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &authProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.auths = append(p.auths, r.Header.Get("Authorization"))
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *authProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.auths...)
}

// TestRunKeepsSecretsOffDisk: a key given as --api-key and one in the URL
// reach neither summary.json nor stdout; the key from LLMLOAD_API_KEY is
// sent when no flag gives one; skipped_rows is in summary.json.
func TestRunKeepsSecretsOffDisk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	proxy := newAuthProxy(t, startSim(t, ctx, "--profile", "fixed", "--ttft", "5ms", "--itl", "1ms"))
	out := t.TempDir()
	args := append(append([]string(nil), quick...), "--url", proxy.srv.URL+"/v1/chat/completions?api_key=sk-URLSECRET",
		"--api-key", "sk-FLAGSECRET", "--calibrate", "off", "--out", out)
	stdout, stderr, code := runEnv(t, nil, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	sum, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, where := range []struct{ name, text string }{{"summary.json", string(sum)}, {"stdout", stdout}, {"stderr", stderr}} {
		if strings.Contains(where.text, "SECRET") {
			t.Errorf("%s holds a secret:\n%s", where.name, where.text)
		}
	}
	var s struct {
		Meta struct {
			Args []string `json:"args"`
		} `json:"meta"`
		SkippedRows *struct {
			Malformed int64 `json:"malformed"`
		} `json:"skipped_rows"`
	}
	if err := json.Unmarshal(sum, &s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(s.Meta.Args, " "), "--api-key REDACTED") {
		t.Errorf("meta.args = %q", s.Meta.Args)
	}
	if s.SkippedRows == nil {
		t.Error("summary.json has no skipped_rows")
	}

	// No --api-key: the environment's key is sent to the user's --url.
	out2 := t.TempDir()
	before := len(proxy.seen())
	args = append(append([]string(nil), quick...), "--url", proxy.srv.URL, "--calibrate", "off", "--out", out2)
	if stdout, stderr, code := runEnv(t, []string{"LLMLOAD_API_KEY=sk-envkey", "OPENAI_API_KEY=sk-other"}, args...); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	got := proxy.seen()[before:]
	if len(got) == 0 || got[0] != "Bearer sk-envkey" {
		t.Errorf("Authorization headers with LLMLOAD_API_KEY set: %q", got)
	}
}

// TestRunRefusesBadInputFirst: each bad flag fails with exit 2 and an
// error naming it; a URL with a password gets no request at all.
func TestRunRefusesBadInputFirst(t *testing.T) {
	var n int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
	}))
	defer srv.Close()
	withPass := strings.Replace(srv.URL, "http://", "http://user:sk-PASS@", 1)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", withPass}, "--url"},
		{[]string{"--url", "http://127.0.0.1:99999"}, "--url"},
		{[]string{"--duration", "-1"}, "--duration"},
		{[]string{"--sample-interval", "0"}, "--sample-interval"},
		{[]string{"--timeout", "-5"}, "--timeout"},
		{[]string{"--sim-profile", "bogus"}, "--sim-profile"},
	} {
		args := append(append([]string(nil), quick...), tc.args...)
		args = append(args, "--out", t.TempDir())
		stdout, stderr, code := runEnv(t, nil, args...)
		if code != exitConfig || !strings.Contains(stderr, tc.want) || strings.Contains(stderr+stdout, "sk-PASS") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %s (and no secret)", tc.args, code, stderr, tc.want)
		}
		if tc.want == "--sim-profile" && strings.Contains(stderr, " --profile") {
			t.Errorf("%v: the error names the simulator's own flag: %q", tc.args, stderr)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 0 {
		t.Errorf("the server got %d requests from runs with a refused URL", n)
	}
}

// TestRunOutNeedsOverwrite: a used results directory is refused, then
// reused with --overwrite, which keeps the user's own files.
func TestRunOutNeedsOverwrite(t *testing.T) {
	out := t.TempDir()
	args := append(append([]string(nil), quick...), "--out", out)
	if stdout, stderr, code := runEnv(t, nil, args...); code != 0 {
		t.Fatalf("first run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if err := os.WriteFile(filepath.Join(out, "server.jsonl"), []byte("stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runEnv(t, nil, args...)
	if code != exitConfig || !strings.Contains(stderr, "--overwrite") {
		t.Fatalf("second run into %s: exit %d, %q; want exit 2 saying --overwrite", out, code, stderr)
	}
	if stdout, stderr, code := runEnv(t, nil, append(args, "--overwrite")...); code != 0 {
		t.Fatalf("--overwrite: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "server.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the first run's server.jsonl is still there (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(out, "notes.txt")); err != nil {
		t.Errorf("--overwrite removed the user's file: %v", err)
	}
}

// TestRunTraceConfinedAndEmpty: a scenario reading a trace outside its
// directory is refused until --allow-read names it; a trace with only a
// header sends nothing and exits 2 saying so.
func TestRunTraceConfinedAndEmpty(t *testing.T) {
	scriptDir, data := t.TempDir(), t.TempDir()
	trace := filepath.Join(data, "t.csv")
	if err := os.WriteFile(trace, []byte("TIMESTAMP,ContextTokens,GeneratedTokens\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(scriptDir, "s.lua")
	src := `local llm = require("llmload")
return llm.scenario { name = "s", source = llm.trace.azure("` + trace + `"), arrivals = llm.arrivals.replay{},
  request = function(row) return llm.chat { prompt_tokens = row.context_tokens, max_tokens = row.generated_tokens } end }
`
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"run", script, "--sim-profile", "fixed", "--server-metrics", "off", "--out", t.TempDir()}
	_, stderr, code := runEnv(t, nil, base...)
	if code != exitConfig || !strings.Contains(stderr, "--allow-read "+data) {
		t.Fatalf("outside trace: exit %d, %q; want exit 2 saying --allow-read %s", code, stderr, data)
	}
	_, stderr, code = runEnv(t, nil, append(base, "--allow-read", data)...)
	if code != exitConfig || !strings.Contains(stderr, "no request was sent") {
		t.Fatalf("header-only trace: exit %d, %q; want exit 2 saying no request was sent", code, stderr)
	}
}

// TestSettingsLimit: llmload.toml takes limit, as its keys are the flags'
// names, and a flag wins over it.
func TestSettingsLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "llmload.toml")
	if err := os.WriteFile(path, []byte("limit = 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := loadSettings(path, true)
	if err != nil {
		t.Fatal(err)
	}
	var f runFlags
	newRunFlagSet(&f)
	e, err := resolve(f, map[string]bool{}, s, &scripting.Scenario{Name: "x"})
	if err != nil || e.Limit != 7 {
		t.Fatalf("limit from llmload.toml: %d, %v", e.Limit, err)
	}
	f.limit = 3
	if e, _ := resolve(f, map[string]bool{"limit": true}, s, &scripting.Scenario{Name: "x"}); e.Limit != 3 {
		t.Errorf("--limit 3 over llmload.toml: %d", e.Limit)
	}
}

// TestHelpSpellsOptionsAsFlags: --help lists a script's ttft_slo as the
// flag --ttft-slo, the spelling errors use and the parser takes.
func TestHelpSpellsOptionsAsFlags(t *testing.T) {
	var f runFlags
	fs := newRunFlagSet(&f)
	var b bytes.Buffer
	t.Chdir(testenv.ModuleRoot(t))
	runHelp(&b, fs, "scenarios/azure_code.lua")
	if !strings.Contains(b.String(), "--ttft-slo") || strings.Contains(b.String(), "--ttft_slo") {
		t.Errorf("help:\n%s", b.String())
	}
}
