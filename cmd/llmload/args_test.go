package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSplitArgs(t *testing.T) {
	var f runFlags
	fs := newRunFlagSet(&f)
	cases := []struct {
		name    string
		args    []string
		script  string
		engine  []string
		options map[string]string
		err     string
	}{
		{
			name:    "seed command line",
			args:    strings.Fields("scenarios/azure_conv.lua --csv conv.csv --url http://h:8000/v1/chat/completions --model m --speedup 10 --concurrency 16 --timeout 120 --limit 10000 --log-every 1 --sample-interval 5"),
			script:  "scenarios/azure_conv.lua",
			engine:  []string{"--url=http://h:8000/v1/chat/completions", "--model=m", "--concurrency=16", "--timeout=120", "--limit=10000", "--log-every=1", "--sample-interval=5"},
			options: map[string]string{"csv": "conv.csv", "speedup": "10"},
		},
		{
			name:    "equals form and bool flags",
			args:    []string{"x.lua", "--skip-bad-rows", "--speedup=2.5", "-limit=3", "--verbose"},
			script:  "x.lua",
			engine:  []string{"--skip-bad-rows", "--limit=3"},
			options: map[string]string{"speedup": "2.5", "verbose": "true"},
		},
		{
			name:    "script option followed by a flag is true",
			args:    []string{"x.lua", "--dry", "--limit", "5"},
			script:  "x.lua",
			engine:  []string{"--limit=5"},
			options: map[string]string{"dry": "true"},
		},
		{name: "help", args: []string{"x.lua", "--help"}, script: "x.lua", engine: []string{"--help"}, options: map[string]string{}},
		{name: "two scripts", args: []string{"a.lua", "b.lua"}, err: `unexpected argument "b.lua"`},
		{name: "missing value", args: []string{"a.lua", "--limit"}, err: "flag --limit needs a value"},
		{name: "duplicate option", args: []string{"a.lua", "--csv", "a", "--csv", "b"}, err: "option --csv given twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			script, engine, options, err := splitArgs(fs, c.args)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want it to contain %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if script != c.script || !reflect.DeepEqual(engine, c.engine) || !reflect.DeepEqual(options, c.options) {
				t.Fatalf("got %q %q %v, want %q %q %v", script, engine, options, c.script, c.engine, c.options)
			}
		})
	}
}

func TestSeedFlagsParse(t *testing.T) {
	var f runFlags
	fs := newRunFlagSet(&f)
	_, engine, _, err := splitArgs(fs, strings.Fields("s.lua --timeout 120 --log-every 1 --sample-interval 0.5 --stall-timeout 1m"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse(engine); err != nil {
		t.Fatal(err)
	}
	if f.timeout != 120*time.Second || f.logEvery != time.Second || f.sampleInterval != 500*time.Millisecond || f.stallTimeout != time.Minute {
		t.Fatalf("durations: %v %v %v %v", f.timeout, f.logEvery, f.sampleInterval, f.stallTimeout)
	}
	if err := fs.Parse([]string{"--timeout=soon"}); err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Fatalf("bad duration accepted: %v", err)
	}
}

func TestLoadSettings(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "llmload.toml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := write("url = \"http://127.0.0.1:9\"\nmodel = \"m\"\ntimeout = 90\nstall_timeout = \"15s\"\nconcurrency = 4\n")
	s, err := loadSettings(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if s.URL != "http://127.0.0.1:9" || s.Model != "m" || s.Timeout.Duration != 90*time.Second || s.StallTimeout.Duration != 15*time.Second || s.Concurrency != 4 {
		t.Fatalf("settings = %+v", s)
	}

	p = write("metrics_addr = \"127.0.0.1:9464\"\nmetrics_linger = \"5s\"\nserver_metrics = \"off\"\n")
	if s, err = loadSettings(p, true); err != nil || s.MetricsAddr != "127.0.0.1:9464" || s.MetricsLinger.Duration != 5*time.Second || s.ServerMetrics != "off" {
		t.Fatalf("settings = %+v, %v", s, err)
	}

	p = write("url = \"x\"\nspeed = 3\n")
	if _, err := loadSettings(p, true); err == nil || !strings.Contains(err.Error(), "unknown key speed") || !strings.Contains(err.Error(), p) ||
		!strings.Contains(err.Error(), "gpu_metrics, gpu_ids, metrics_addr, metrics_linger") {
		t.Fatalf("unknown key: err = %v", err)
	}
	p = write("url = \n")
	if _, err := loadSettings(p, true); err == nil || !strings.Contains(err.Error(), p+":1") {
		t.Fatalf("syntax error: err = %v", err)
	}
	p = write("api_key_env = \"LLMLOAD_TEST_SURELY_UNSET\"\n")
	if _, err := loadSettings(p, true); err == nil || !strings.Contains(err.Error(), "LLMLOAD_TEST_SURELY_UNSET") {
		t.Fatalf("unset env: err = %v", err)
	}
	if _, err := loadSettings(filepath.Join(dir, "absent.toml"), false); err != nil {
		t.Fatalf("implicit missing file: %v", err)
	}
	if _, err := loadSettings(filepath.Join(dir, "absent.toml"), true); err == nil {
		t.Fatal("explicit missing file accepted")
	}
}
