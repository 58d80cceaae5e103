package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStackK8sRendersFromFlags(t *testing.T) {
	dir := t.TempDir()
	scenario := filepath.Join(dir, "conv.lua")
	trace := filepath.Join(dir, "trace.csv")
	os.WriteFile(scenario, []byte("return llm.scenario{}\n"), 0o644)
	os.WriteFile(trace, []byte("t,in,out\n"), 0o644)
	var out, errb bytes.Buffer
	before := time.Now()
	code := stackCmd([]string{"k8s", "--shards", "4", "--url", "http://vllm-router.llm:8000", "--file", trace,
		"--api-key-secret", "llm-api/token", "--run-args", "--seed 7 rate=3", "--monitor-label", "release=prom",
		"--start-delay", "90s", scenario}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	y := out.String()
	for _, want := range []string{"completionMode: Indexed", "- $(JOB_COMPLETION_INDEX)/4", "trace.csv: |", "conv.lua: |",
		"name: llm-api", "release: prom", "- rate=3", "- /etc/llmload/scenario/conv.lua"} {
		if !strings.Contains(y, want) {
			t.Errorf("manifests lack %q", want)
		}
	}
	// The start instant is now + --start-delay, in whole seconds.
	i := strings.Index(y, "- --start-at\n")
	line := strings.TrimSpace(strings.SplitN(y[i:], "\n", 3)[1])
	at, err := time.Parse(time.RFC3339, strings.Trim(strings.TrimPrefix(line, "- "), `"`))
	if err != nil {
		t.Fatalf("--start-at line %q: %v", line, err)
	}
	if at.Before(before.Add(90*time.Second)) || at.After(time.Now().Add(92*time.Second)) {
		t.Errorf("start instant %s; want 90s after %s", at, before)
	}
}

func TestStackK8sBadFlagsNameTheFlag(t *testing.T) {
	scenario := filepath.Join(t.TempDir(), "s.lua")
	os.WriteFile(scenario, []byte("return llm.scenario{}\n"), 0o644)
	cases := map[string][]string{
		"--namespace":                  {"--namespace", "LLM", "--url", "http://x:8000", scenario},
		"--url carries a user name":    {"--url", "http://me:sk-secret@x:8000", scenario},
		"want one scenario file":       {"--url", "http://x:8000"},
		"--start-at and --start-delay": {"--url", "http://x:8000", "--start-at", "2999-01-01T00:00:00Z", "--start-delay", "1m", scenario},
		"--start-at 2001":              {"--url", "http://x:8000", "--start-at", "2001-01-01T00:00:00Z", scenario},
		"--run-args: --out":            {"--url", "http://x:8000", "--run-args", "--out /x", scenario},
	}
	for want, args := range cases {
		var out, errb bytes.Buffer
		if code := stackCmd(append([]string{"k8s"}, args...), &out, &errb); code != exitConfig {
			t.Errorf("%v: exit %d; want %d", args, code, exitConfig)
		}
		if !strings.Contains(errb.String(), want) || strings.Contains(errb.String(), "sk-secret") {
			t.Errorf("%v: stderr %q; want it to name %q (and no password)", args, errb.String(), want)
		}
		if out.Len() > 0 {
			t.Errorf("%v: printed manifests despite the error", args)
		}
	}
}

func TestStackK8sWait(t *testing.T) {
	dir := t.TempDir()
	done, missing := filepath.Join(dir, "shard-0"), filepath.Join(dir, "shard-1")
	os.MkdirAll(done, 0o755)
	os.WriteFile(filepath.Join(done, "summary.json"), []byte("{}\n"), 0o644)
	var out, errb bytes.Buffer
	if code := stackCmd([]string{"k8s", "wait", "--timeout", "300ms", "--poll", "100ms", done, missing}, &out, &errb); code != exitStackFailed ||
		!strings.Contains(errb.String(), missing) {
		t.Errorf("exit %d, stderr %q; want %d naming %s", code, errb.String(), exitStackFailed, missing)
	}
	out.Reset()
	if code := stackCmd([]string{"k8s", "wait", "--allow-partial", "--timeout", "300ms", "--poll", "100ms", done, missing}, &out, &errb); code != exitOK {
		t.Errorf("--allow-partial: exit %d; want 0 (%s)", code, out.String())
	}
	if code := stackCmd([]string{"k8s", "wait", "--timeout", "1m", done}, &out, &errb); code != exitOK {
		t.Errorf("a finished shard: exit %d; want 0", code)
	}
}
