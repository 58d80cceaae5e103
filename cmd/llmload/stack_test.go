package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/llmload/llmload/stack/compose"
)

func runStack(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = dispatch(append([]string{"stack"}, args...), &o, &e)
	return code, o.String(), e.String()
}

func TestStackInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	code, out, errs := runStack("init", "--dir", dir, "--model", "Qwen/Qwen3-8B", "--gpus", "0,1",
		"--vllm-image", "vllm/vllm-openai:v0.31.0-cu129", "--vllm-args", "--max-model-len 8192 --tensor-parallel-size 2",
		"--hf-token-env", "MY_TOKEN", "--hf-cache", "~/.cache/huggingface", "--bind", "127.0.0.1",
		"--port", "18000", "--dcgm-port", "19400", "--grafana-port", "13000", "--prometheus-port", "19090",
		"--client-metrics", "host.docker.internal:9464, 10.1.2.3:9500", "--scrape-interval", "2")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"rendered 8 files", "llmload stack up --dir " + dir, "--url http://127.0.0.1:18000",
		"--gpu-metrics http://127.0.0.1:19400/metrics", "http://127.0.0.1:13000/d/llmload-stack"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "note:") {
		t.Errorf("tensor parallel was set, yet a note:\n%s", out)
	}
	st, err := compose.ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Model != "Qwen/Qwen3-8B" || st.Port != 18000 || st.DCGMPort != 19400 || st.GrafanaPort != 13000 || st.PrometheusPort != 19090 ||
		st.Bind != "127.0.0.1" || st.ScrapeInterval != "2s" || !slices.Equal(st.ClientMetrics, []string{"host.docker.internal:9464", "10.1.2.3:9500"}) ||
		!slices.Equal(st.VLLMArgs, []string{"--max-model-len", "8192", "--tensor-parallel-size", "2"}) {
		t.Errorf("stack.json does not hold the flags: %+v", st)
	}
	yml, err := os.ReadFile(filepath.Join(dir, compose.ComposeFile))
	if err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	for _, want := range []string{`"vllm/vllm-openai:v0.31.0-cu129"`, `${MY_TOKEN:-}`, `device_ids: ["0", "1"]`,
		strconv.Quote(filepath.Join(home, ".cache/huggingface") + ":/root/.cache/huggingface")} {
		if !strings.Contains(string(yml), want) {
			t.Errorf("compose.yaml lacks %s", want)
		}
	}

	// A second init refuses to overwrite; --force does.
	if code, _, errs := runStack("init", "--dir", dir); code != exitConfig || !strings.Contains(errs, "--force") {
		t.Errorf("init over an existing stack: exit %d, %q", code, errs)
	}
	if code, out, errs := runStack("init", "--dir", dir, "--force", "--gpus", "0,1"); code != exitOK || !strings.Contains(out, "--tensor-parallel-size 2") {
		t.Errorf("init --force with two GPUs: exit %d, want a tensor-parallel note\n%s%s", code, out, errs)
	}
}

func TestStackInitErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--vllm-args", `--x 'open`}, "--vllm-args"},
		{[]string{"--vllm-args", "--port 9000"}, "--port"},
		{[]string{"--gpus", "first"}, "--gpus"},
		{[]string{"--port", "3000"}, "--port and --grafana-port are both 3000"},
		{[]string{"--client-metrics", "9464"}, "--client-metrics"},
		{[]string{"--scrape-interval", "500ms"}, "--scrape-interval"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		code, out, errs := runStack(append([]string{"init", "--dir", filepath.Join(dir, "x")}, c.args...)...)
		if code != exitConfig || !strings.Contains(errs, c.want) {
			t.Errorf("init %v: exit %d, stderr %q, want %d naming %q", c.args, code, errs, exitConfig, c.want)
		}
		if out != "" {
			t.Errorf("init %v printed %q on a bad flag", c.args, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a failed init created the directory")
	}
	code, out, _ := runStack("init", "--help")
	if code != exitOK || !strings.Contains(out, "--client-metrics") || !strings.Contains(out, "--hf-token-env") {
		t.Errorf("init --help: exit %d\n%s", code, out)
	}
	if code, _, errs := runStack("launch"); code != exitConfig || !strings.Contains(errs, `unknown command "launch"`) {
		t.Errorf("unknown stack command: exit %d %q", code, errs)
	}
}

// TestStackInitGrafanaPassword: init generates Grafana's admin password
// into DIR/.env (0600), never prints it, keeps it on init --force, and
// writes none for a stack without Grafana.
func TestStackInitGrafanaPassword(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	code, out, errs := runStack("init", "--dir", dir)
	if code != exitOK || !strings.Contains(out, "password generated into "+filepath.Join(dir, ".env")) {
		t.Fatalf("init: exit %d\n%s%s", code, out, errs)
	}
	env, err := os.ReadFile(filepath.Join(dir, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	pw := regexp.MustCompile(`GRAFANA_ADMIN_PASSWORD=(\S+)`).FindSubmatch(env)
	if pw == nil || strings.Contains(out+errs, string(pw[1])) {
		t.Fatalf("password missing from .env or printed:\n%s", out)
	}
	if st, _ := os.Stat(filepath.Join(dir, ".env")); st.Mode().Perm() != 0o600 {
		t.Errorf(".env mode %v", st.Mode().Perm())
	}
	if code, out, _ := runStack("init", "--dir", dir, "--force"); code != exitOK || !strings.Contains(out, "password kept") {
		t.Errorf("init --force: exit %d\n%s", code, out)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, ".env")); string(again) != string(env) {
		t.Errorf("init --force changed .env")
	}
	bare := filepath.Join(t.TempDir(), "bare")
	if code, out, _ := runStack("init", "--dir", bare, "--grafana=false"); code != exitOK || strings.Contains(out, "Grafana:") {
		t.Errorf("--grafana=false: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(bare, ".env")); err == nil {
		t.Error("--grafana=false wrote a .env")
	}
}
