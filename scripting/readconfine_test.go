package scripting

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadProbe writes a script that calls f (Lua source of one call) under
// pcall and raises what it returned, and loads it: the error text is what
// the script could have learnt (and sent to a server of its choosing).
func loadProbe(t *testing.T, dir, call string, env Env) string {
	t.Helper()
	path := filepath.Join(dir, "probe.lua")
	src := `local llm = require("llmload")
local ok, err = pcall(function() return ` + call + ` end)
if ok then error("OPENED") end
error("GOT:" .. tostring(err))
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := load(path, env, false)
	if err == nil {
		t.Fatal("the probe script did not fail")
	}
	return err.Error()
}

func TestTraceReadIsConfined(t *testing.T) {
	const secret = "hf_CONFINEDSECRET0987654321"
	t.Setenv("HF_TOKEN", secret)
	scriptDir, other := t.TempDir(), t.TempDir()
	outside := filepath.Join(other, "data.csv")
	if err := os.WriteFile(outside, []byte("ts,in,out\n1,"+secret+",3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(scriptDir, "link.csv")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	csv := func(p string) string {
		return `llm.trace.csv("` + p + `", {timestamp = "zzz", context_tokens = "in", generated_tokens = "out"})`
	}
	for _, tc := range []struct {
		name, call, want string
		env              Env
	}{
		{"environ", csv("/proc/self/environ"), "may never read /proc", Env{}},
		{"environ allowed /", csv("/proc/self/environ"), "may never read /proc", Env{AllowRead: []string{"/"}}},
		{"outside", csv(outside), "--allow-read " + other, Env{}},
		{"symlink out", csv(link), "--allow-read " + other, Env{}},
		{"azure outside", `llm.trace.azure("` + outside + `")`, "--allow-read", Env{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := loadProbe(t, scriptDir, tc.call, tc.env)
			if strings.Contains(msg, "CONFINED") || strings.Contains(msg, "OPENED") {
				t.Fatalf("the script read the file: %s", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want it to contain %q", msg, tc.want)
			}
		})
	}
	// Allowed: the directory on --allow-read, or the file named as an
	// option value on the command line. The reader's error (no column
	// "zzz") quotes at most a short snippet of the header, not the rows.
	for _, env := range []Env{{AllowRead: []string{other}}, {Args: map[string]string{"csv": outside}}} {
		msg := loadProbe(t, scriptDir, csv(link), env)
		if !strings.Contains(msg, `no column "zzz"`) || strings.Contains(msg, "CONFINED") {
			t.Errorf("with %+v: %s", env, msg)
		}
	}
}
