package scripting

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseDuration checks that duration values never panic, never come
// out negative, and that plain seconds and Go durations mean what they say.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30s", "1m30s", "90", "0.5", "-1", "1e3", "NaN", "inf", "", " 2h ", "1.5.5", "9223372036s", "1e300"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(strings.TrimSpace(s))) && !strings.Contains(err.Error(), "seconds") {
				t.Fatalf("error %q does not quote the value %q", err, s)
			}
			return
		}
		if d < 0 {
			t.Fatalf("parseDuration(%q) = %v < 0", s, d)
		}
		if secs, perr := strconv.ParseFloat(strings.TrimSpace(s), 64); perr == nil {
			if want := secs * float64(time.Second); math.Abs(float64(d)-want) > 1+want*1e-9 {
				t.Fatalf("parseDuration(%q) = %v, want %v seconds", s, d, secs)
			}
		} else if gd, gerr := time.ParseDuration(strings.TrimSpace(s)); gerr != nil || gd != d {
			t.Fatalf("parseDuration(%q) = %v, but time.ParseDuration says %v, %v", s, d, gd, gerr)
		}
	})
}

// FuzzOptionValue checks command-line option parsing by type: a number
// option only ever gets finite numbers, a boolean only true or false, a
// string the value verbatim.
func FuzzOptionValue(f *testing.F) {
	for _, s := range []string{"1", "2.5", "-3e2", "fast", "", "true", "OFF", "NaN", "0x10", " 7 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if v, err := parseOptionValue("number", raw); err == nil {
			n, ok := v.(float64)
			if !ok || math.IsNaN(n) || math.IsInf(n, 0) {
				t.Fatalf("number %q -> %v (%T)", raw, v, v)
			}
		}
		if v, err := parseOptionValue("boolean", raw); err == nil {
			if _, ok := v.(bool); !ok {
				t.Fatalf("boolean %q -> %v (%T)", raw, v, v)
			}
		}
		if v, err := parseOptionValue("string", raw); err != nil || v != raw {
			t.Fatalf("string %q -> %v, %v", raw, v, err)
		}
	})
}

// FuzzLoad feeds arbitrary scripts to Load: it must never panic or hang,
// and every error must be an *Error located in the script's file.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		head + "return llm.scenario{source = llm.synth.azure_conv()}",
		head + "local o = llm.options{a = 1}\nreturn llm.scenario{name = 'x', source = llm.synth.azure_conv(), request = function(r) return llm.chat{prompt_tokens = r.context_tokens} end}",
		head + "return {llm.scenario{name='a', source=llm.synth.azure_conv(), duration='1s', thresholds={'x'}}}",
		"local x = = 1", "while true do end", "error({})", "return 1", "#!shebang\nreturn nil",
		"local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x",
		"return llm.chat{extra = {1, {2, {3}}}}", "return string.rep('ab', 1e9)", "x = ('a'):rep(10):byte(-100, 100)",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src string) {
		p := filepath.Join(dir, "fuzz.lua")
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Load(p, Env{LoadTimeout: 200 * time.Millisecond, Print: discard{}})
		if err == nil {
			if len(s.Scenarios) == 0 {
				t.Fatal("Load succeeded without scenarios")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.File != p {
			t.Fatalf("error %v (%T) is not an *Error located in %s", err, err, p)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
