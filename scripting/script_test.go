package scripting

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/internal/testenv"
)

const azureConv = "scenarios/azure_conv.lua"

// inRoot runs the test from the module root, so that script paths (and so
// error messages) are the relative ones a user types.
func inRoot(t testing.TB) {
	t.Helper()
	t.Chdir(testenv.ModuleRoot(t))
}

// lineOf is the 1-based line of the first line of file containing substr.
func lineOf(t *testing.T, file, substr string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, substr) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line containing %q", file, substr)
	return 0
}

func mustLoad(t *testing.T, path string, env Env) *Script {
	t.Helper()
	s, err := Load(path, env)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// checkMapsRows reads n rows from the scenario's source and checks that the
// mapper turns each into the chat request the scenario file asks for.
func checkMapsRows(t *testing.T, sc *Scenario, n int) []trace.Row {
	t.Helper()
	var rows []trace.Row
	for i := 0; i < n; i++ {
		row, err := sc.Source.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		sp, err := sc.Mapper.Map(row)
		if err != nil {
			t.Fatalf("Map(row %d): %v", i, err)
		}
		want := openai.Spec{Endpoint: request.Chat, PromptTokens: row.ContextTokens, MaxTokens: row.GeneratedTokens, IgnoreEOS: true}
		if !reflect.DeepEqual(sp, want) {
			t.Fatalf("Map(%+v) = %+v, want %+v", row, sp, want)
		}
		rows = append(rows, row)
	}
	return rows
}

func TestAzureConvSynthetic(t *testing.T) {
	inRoot(t)
	s := mustLoad(t, azureConv, Env{Seed: 7})
	if got := len(s.Scenarios); got != 1 {
		t.Fatalf("%d scenarios, want 1", got)
	}
	sc := s.Scenarios[0]
	if sc.Name != "azure-conv" || sc.Concurrency != 16 || sc.OnFull != "queue" || sc.Source == nil || sc.Schedule == nil {
		t.Fatalf("scenario = %+v", sc)
	}
	if sc.Line != lineOf(t, azureConv, "return llm.scenario") {
		t.Errorf("Line = %d, want the line of llm.scenario", sc.Line)
	}
	if _, ok := sc.Mapper.(*luaMapper); !ok {
		t.Errorf("Mapper is %T, want the script's request function", sc.Mapper)
	}
	rows := checkMapsRows(t, sc, 50)
	if len(rows) != 50 {
		t.Fatalf("synthetic source gave %d rows, want 50", len(rows))
	}
	// The synthetic rows depend on --seed only.
	s2 := mustLoad(t, azureConv, Env{Seed: 7})
	rows2 := checkMapsRows(t, s2.Scenarios[0], 50)
	if !reflect.DeepEqual(rows, rows2) {
		t.Errorf("same seed gave different rows")
	}
}

func TestAzureConvCSV(t *testing.T) {
	inRoot(t)
	const fixture = "scripting/testdata/azure_small.csv"
	s := mustLoad(t, azureConv, Env{Args: map[string]string{"csv": fixture, "speedup": "2"}})
	sc := s.Scenarios[0]
	rows := checkMapsRows(t, sc, 100)
	if len(rows) != 5 {
		t.Fatalf("read %d rows of the fixture, want 5", len(rows))
	}
	if rows[1].ContextTokens != 396 || rows[1].GeneratedTokens != 109 || rows[1].Line != 3 {
		t.Errorf("second row = %+v", rows[1])
	}
	// speedup 2 halves the gaps.
	for _, r := range rows {
		got, want := sc.Schedule.Due(r.At), (r.At-rows[0].At)/2
		if d := got - want; d < -1 || d > 1 {
			t.Errorf("Due(%v) = %v, want %v", r.At, got, want)
		}
	}
	if sc.Arrivals != "replay{speedup=2}" {
		t.Errorf("Arrivals = %q", sc.Arrivals)
	}
	if got := s.Options[1].Value; got != 2.0 {
		t.Errorf("speedup value = %v (%T), want 2.0", got, got)
	}
}

func TestAzureConvSharedCSV(t *testing.T) {
	csv := testenv.SharedData(t, "azure2023/AzureLLMInferenceTrace_conv.csv")
	inRoot(t)
	s := mustLoad(t, azureConv, Env{Args: map[string]string{"csv": csv}})
	rows := checkMapsRows(t, s.Scenarios[0], 1000)
	if len(rows) != 1000 {
		t.Fatalf("read %d rows, want 1000", len(rows))
	}
	if rows[0].ContextTokens != 374 || rows[0].GeneratedTokens != 44 {
		t.Errorf("first row = %+v, want 374 context / 44 generated tokens", rows[0])
	}
}

func TestHelpListsOptions(t *testing.T) {
	inRoot(t)
	// Help mode must not open the trace: a missing file is fine.
	s := mustLoad(t, azureConv, Env{Help: true, Args: map[string]string{"csv": "no/such/file.csv"}})
	want := []Option{
		{Name: "csv", Flag: "--csv", Help: "Azure trace CSV; empty = synthetic azure-conv-like traffic", Type: "string",
			Default: "", Value: "no/such/file.csv", Line: lineOf(t, azureConv, "csv = {")},
		{Name: "speedup", Flag: "--speedup", Help: "divide inter-arrival gaps by this", Type: "number",
			Default: 1.0, Value: 1.0, Line: lineOf(t, azureConv, "speedup = {")},
	}
	if !reflect.DeepEqual(s.Options, want) {
		t.Errorf("Options =\n%+v\nwant\n%+v", s.Options, want)
	}
	if s.Scenarios[0].Source != nil {
		t.Errorf("Help mode opened the trace")
	}
	// Without Help the same missing file is an error at the call's line,
	// and the cause stays visible to errors.Is.
	_, err := Load(azureConv, Env{Args: map[string]string{"csv": "no/such/file.csv"}})
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a not-exist error", err)
	}
	prefix := fmt.Sprintf("%s:%d: llm.trace.azure: no/such/file.csv:", azureConv, lineOf(t, azureConv, "llm.trace.azure("))
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("err = %q, want prefix %q", err, prefix)
	}
}

func TestOptionErrors(t *testing.T) {
	inRoot(t)
	for _, tc := range []struct {
		args map[string]string
		want string
	}{
		{map[string]string{"foo": "1"}, "unknown option --foo for scenarios/azure_conv.lua; its options are: --csv, --speedup"},
		{map[string]string{"speedup": "fast"},
			fmt.Sprintf(`--speedup: "fast" is not a number (scenarios/azure_conv.lua:%d)`, lineOf(t, azureConv, "speedup = {"))},
		{map[string]string{"speedup": "NaN"},
			fmt.Sprintf(`--speedup: "NaN" is not a number (scenarios/azure_conv.lua:%d)`, lineOf(t, azureConv, "speedup = {"))},
		{map[string]string{"speedup": "0"},
			fmt.Sprintf(`scenarios/azure_conv.lua:%d: llm.arrivals.replay: speedup must be a number > 0, got number 0`, lineOf(t, azureConv, "llm.arrivals.replay"))},
	} {
		_, err := Load(azureConv, Env{Args: tc.args})
		if err == nil || err.Error() != tc.want {
			t.Errorf("Load(%v):\n got %v\nwant %s", tc.args, err, tc.want)
		}
	}
}

// script writes src to a file in a temporary directory and returns its path.
func script(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.lua")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const head = "local llm = require('llmload')\n"

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		env       Env
		want      string // after "PATH:"
	}{
		{"syntax", head + "local x = = 1\n", Env{}, "2: syntax error near '=' (column 11)"},
		{"syntax at EOF", head + "if true then\n", Env{}, " syntax error: unexpected end of file (a missing 'end', ')' or '}'?)"},
		{"runtime", head + "local t\nlocal y = t.x\n", Env{}, "3: attempt to index a non-table object(nil) with key 'x'"},
		{"error()", head + "error('boom')\n", Env{}, "2: boom"},
		{"error(table)", head + "error({})\n", Env{}, " error raised with a table value (use error(\"message\"))"},
		{"no return", head + "local x = 1\n", Env{}, " the script returned nil; it must end with return llm.scenario{...} (or a list of them)"},
		{"bad list", head + "return {llm.scenario{source = llm.synth.azure_conv()}, 3}\n", Env{},
			" the returned list's item 2 is number 3; every item must be llm.scenario{...}"},
		{"unknown chat field", head + "local s = llm.chat{prompt_tokens = 1,\n max_token = 2}\n", Env{},
			"2: llm.chat: unknown field max_token (did you mean max_tokens?) (fields: prompt_tokens, messages, max_tokens, min_tokens, ignore_eos, temperature, model, extra, headers, tags, hash_ids, block_size)"},
		{"wrong type", head + "local s = llm.chat{prompt_tokens = 1, max_tokens = '12'}\n", Env{},
			`2: llm.chat: max_tokens must be a whole number >= 0, got string "12"`},
		{"fraction", head + "local s = llm.completion{prompt_tokens = 1.5}\n", Env{},
			`2: llm.completion: prompt_tokens must be a whole number >= 0, got number 1.5`},
		{"no prompt", head + "local s = llm.chat{max_tokens = 3}\n", Env{},
			`2: llm.chat: needs prompt_tokens (a synthetic prompt of that length) or messages`},
		{"messages on completion", head + "local s = llm.completion{messages = {}}\n", Env{},
			`2: llm.completion: unknown field messages (a completion takes prompt; messages is for llm.chat)`},
		{"bad on_full", head + "return llm.scenario{source = llm.synth.azure_conv(),\n on_full = 'block'}\n", Env{},
			`2: llm.scenario: on_full must be "queue" or "drop", got "block"`},
		{"unknown scenario field", head + "return llm.scenario{source = llm.synth.azure_conv(), concurency = 4}\n", Env{},
			`2: llm.scenario: unknown field concurency (did you mean concurrency?) (fields: name, source, arrivals, concurrency, on_full, limit, duration, request, thresholds, url, model, slo, warmup, setup, on_response, on_window, teardown, session, users, iterations, sessions, session_header, capacity)`},
		{"no source", head + "return llm.scenario{name = 'a'}\n", Env{},
			`2: llm.scenario: source is required (llm.trace.azure(path) or llm.synth.azure_conv())`},
		{"concurrency 0", head + "return llm.scenario{source = llm.synth.azure_conv(), concurrency = 0}\n", Env{},
			`2: llm.scenario: concurrency must be a whole number >= 1, got number 0`},
		{"bad duration", head + "return llm.scenario{source = llm.synth.azure_conv(), duration = '5 minutes'}\n", Env{},
			`2: llm.scenario: duration: "5 minutes" is not a duration (use "30s", "1m30s" or seconds)`},
		{"bad threshold", head + "return llm.scenario{source = llm.synth.azure_conv(), thresholds = {'ttft p95 < 1s', 5}}\n", Env{},
			`2: llm.scenario: thresholds[2] must be a string like "ttft p95 < 2s" or a table {"ttft p95 < 2s", abort_on_fail = true}, got number 5`},
		{"bad url", head + "return llm.scenario{source = llm.synth.azure_conv(), url = 'localhost:8000'}\n", Env{},
			`2: llm.scenario: url "localhost:8000" must be an http:// or https:// URL`},
		{"shared source", head + "local src = llm.synth.azure_conv()\nreturn {llm.scenario{name = 'a', source = src},\n llm.scenario{name = 'b', source = src}}\n", Env{},
			`4: llm.scenario: this source is already read by scenario "a"; a source is a stream, so open another for each scenario`},
		{"duplicate names", head + "return {llm.scenario{name = 'a', source = llm.synth.azure_conv()},\n llm.scenario{name = 'a', source = llm.synth.azure_conv()}}\n", Env{},
			`3: scenario name "a" is already used by the scenario at line 2; names must be unique`},
		{"unnamed in list", head + "return {llm.scenario{source = llm.synth.azure_conv()},\n llm.scenario{name = 'a', source = llm.synth.azure_conv()}}\n", Env{},
			`2: llm.scenario: name is required when the script returns several scenarios`},
		{"require other", head + "local os = require('os')\n", Env{},
			`2: require("os"): scenarios may only require "llmload" (other modules and files are not available in the sandbox)`},
		{"no io", head + "io.open('/etc/passwd')\n", Env{}, `2: attempt to index a non-table object(nil) with key 'open'`},
		{"no dofile", head + "dofile('/etc/passwd')\n", Env{}, `2: attempt to call a non-function object`},
		{"options in request", head + "return llm.scenario{source = llm.synth.azure_conv(),\n request = function(row) return llm.options{} end}\n", Env{}, ""},
		{"reserved option", head + "local o = llm.options{limit = 5}\n", Env{Reserved: []string{"limit", "url"}},
			`2: llm.options: option limit would shadow the engine flag --limit; rename it`},
		{"strict options", head + "local o = llm.options{speedup = 5}\nlocal x = o.sppedup\n", Env{},
			`3: no option sppedup; declared: speedup`},
		{"option without default", head + "local o = llm.options{csv = {help = 'x'}}\n", Env{},
			`2: llm.options: csv needs a default; its type (string, number or boolean) is the option's type`},
		{"unknown option field", head + "local o = llm.options{csv = {defualt = '', help = 'x'}}\n", Env{},
			`2: llm.options: csv has unknown field string "defualt" (did you mean default?) (fields: default, help)`},
		{"boolean option", head + "local o = llm.options{dry = false}\n", Env{Args: map[string]string{"dry": "maybe"}},
			`--dry: "maybe" is not a boolean (true or false) (PATH:2)`},
		{"string.rep bomb", head + "local s = string.rep('x', 1e10)\n", Env{},
			`2: string.rep: the result would be 10000000000 bytes; at most 67108864 are allowed`},
		{"runaway", head + "while true do end\n", Env{LoadTimeout: 50 * time.Millisecond},
			`2: the script was stopped after 50ms (an endless loop?); scripts must finish quickly`},
		{"runaway with pcall", head + "while true do pcall(function() while true do end end) end\n", Env{LoadTimeout: 50 * time.Millisecond},
			`2: the script was stopped after 50ms (an endless loop?); scripts must finish quickly`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := script(t, tc.src)
			s, err := Load(p, tc.env)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Load succeeded, want error %q", tc.want)
			}
			want := p + ":" + tc.want
			if strings.Contains(tc.want, "PATH") {
				want = strings.ReplaceAll(tc.want, "PATH", p)
			}
			if err.Error() != want {
				t.Errorf("error:\n got %s\nwant %s", err, want)
			}
		})
	}
}

// TestRequestFunction covers Map: errors inside request() are located in
// the script, wrong return values are named, and a runaway request() is
// stopped without poisoning later calls.
func TestRequestFunction(t *testing.T) {
	p := script(t, head+`
local n = 0
return {
  llm.scenario{name = "ok", source = llm.synth.azure_conv(), request = function(row)
    n = n + 1
    return llm.completion{prompt_tokens = row.context_tokens + n, max_tokens = 3,
      tags = {line = row.line, n = n}, extra = {top_p = 0.5, stop = {"a", "b"}, logprobs = llm.null},
      headers = {["X-Test"] = "1"}, temperature = 0.7, min_tokens = 2, model = "m2"}
  end},
  llm.scenario{name = "bad", source = llm.synth.azure_conv(), request = function(row)
    if row.line == 1 then return {} end
    if row.line == 2 then return llm.chat{prompt_tokens = 1, max_tokens = -1} end
    if row.line == 3 then while true do end end
    local t = nil
    return t.x
  end},
}
`)
	s := mustLoad(t, p, Env{CallTimeout: 50 * time.Millisecond})
	ok, bad := s.Scenarios[0].Mapper, s.Scenarios[1].Mapper
	temp := 0.7
	for i := 1; i <= 3; i++ {
		sp, err := ok.Map(trace.Row{ContextTokens: 10, GeneratedTokens: 99, Line: 40 + i})
		if err != nil {
			t.Fatal(err)
		}
		want := openai.Spec{Endpoint: request.Completions, Model: "m2", PromptTokens: 10 + i, MaxTokens: 3, MinTokens: 2,
			Temperature: &temp, Extra: map[string]any{"top_p": 0.5, "stop": []any{"a", "b"}, "logprobs": nil},
			Headers: map[string]string{"X-Test": "1"}, Tags: map[string]string{"line": fmt.Sprint(40 + i), "n": fmt.Sprint(i)}}
		if !reflect.DeepEqual(sp, want) {
			t.Errorf("Map = %+v\nwant %+v", sp, want)
		}
	}
	fnLine := lineOf(t, p, `name = "bad"`)
	for _, tc := range []struct {
		line int
		want string
	}{
		{1, fmt.Sprintf(`%s:%d: request function of scenario "bad" returned a table; it must return llm.chat{...} or llm.completion{...}`, p, fnLine)},
		{2, fmt.Sprintf(`%s:%d: llm.chat: max_tokens must be a whole number >= 0, got number -1`, p, fnLine+2)},
		{3, fmt.Sprintf(`%s:%d: request function of scenario "bad" was stopped after 50ms (an endless loop?); scripts must finish quickly`, p, fnLine+3)},
		{4, fmt.Sprintf(`%s:%d: attempt to index a non-table object(nil) with key 'x'`, p, fnLine+5)},
	} {
		_, err := bad.Map(trace.Row{Line: tc.line})
		if err == nil || err.Error() != tc.want {
			t.Errorf("row %d:\n got %v\nwant %s", tc.line, err, tc.want)
		}
	}
	// After a stopped call the state still works.
	if _, err := ok.Map(trace.Row{ContextTokens: 1}); err != nil {
		t.Errorf("Map after a stopped call: %v", err)
	}
}

func TestScenarioFields(t *testing.T) {
	p := script(t, head+`
return {
  llm.scenario{name = "a", source = llm.synth.azure_conv{seed = 3, rate = 2},
    arrivals = llm.arrivals.constant{rate = 4}, limit = 100, duration = "1m30s",
    thresholds = {"ttft p95 < 2s", " error_rate < 1% "}, url = "http://127.0.0.1:8000", model = "llama"},
  llm.scenario{name = "b", source = llm.synth.azure_conv(), arrivals = llm.arrivals.poisson{rate = 2.5, seed = 9},
    duration = 45, on_full = "drop"},
}
`)
	s := mustLoad(t, p, Env{Seed: 5})
	a, b := s.Scenarios[0], s.Scenarios[1]
	if a.Limit != 100 || a.Duration != 90*time.Second || a.URL != "http://127.0.0.1:8000" || a.Model != "llama" ||
		len(a.Thresholds) != 2 || a.Thresholds[0].Expr != "ttft p95 < 2s" || a.Thresholds[1].Expr != "error_rate < 1%" || a.Arrivals != "constant{rate=4}" ||
		a.Concurrency != 0 || a.OnFull != "" {
		t.Errorf("a = %+v", a)
	}
	if b.Duration != 45*time.Second || b.OnFull != "drop" || b.Arrivals != "poisson{rate=2.5, seed=9}" {
		t.Errorf("b = %+v", b)
	}
	// No request function: the default mapping.
	if _, ok := a.Mapper.(DefaultMapper); !ok {
		t.Fatalf("Mapper = %T, want DefaultMapper", a.Mapper)
	}
	sp, err := a.Mapper.Map(trace.Row{ContextTokens: 12, GeneratedTokens: 34})
	want := openai.Spec{Endpoint: request.Chat, PromptTokens: 12, MaxTokens: 34, IgnoreEOS: true}
	if err != nil || !reflect.DeepEqual(sp, want) {
		t.Errorf("default Map = %+v, %v; want %+v", sp, err, want)
	}
}

func TestDefaultNameAndArrivals(t *testing.T) {
	p := script(t, head+"return llm.scenario{source = llm.synth.azure_conv()}\n")
	s := mustLoad(t, p, Env{})
	sc := s.Scenarios[0]
	if sc.Name != "x" || sc.Arrivals != "replay{speedup=1}" {
		t.Errorf("name %q arrivals %q; want the file's name and replay at speed 1", sc.Name, sc.Arrivals)
	}
	if d0, d1 := sc.Schedule.Due(time.Second), sc.Schedule.Due(4*time.Second); d0 != 0 || d1 != 3*time.Second {
		t.Errorf("default schedule: rows at 1s and 4s due at %v and %v, want 0s and 3s", d0, d1)
	}
}

func TestSandboxPrintRandomUnsafe(t *testing.T) {
	p := script(t, head+`
print("hello", 1, nil, true)
draws = {}
for i = 1, 5 do draws[i] = math.random(1000) end
return llm.scenario{source = llm.synth.azure_conv()}
`)
	var out bytes.Buffer
	draws := func(seed uint64) []float64 {
		s := mustLoad(t, p, Env{Seed: seed, Print: &out})
		tbl := s.ls.GetGlobal("draws").(*lua.LTable)
		var d []float64
		for i := 1; i <= 5; i++ {
			d = append(d, float64(tbl.RawGetInt(i).(lua.LNumber)))
		}
		return d
	}
	a, b, c := draws(1), draws(1), draws(2)
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) {
		t.Errorf("math.random draws: seed 1 %v and %v, seed 2 %v; want equal for equal seeds only", a, b, c)
	}
	if got := out.String(); !strings.HasPrefix(got, "hello\t1\tnil\ttrue\n") {
		t.Errorf("print wrote %q", got)
	}

	// AllowUnsafe opens os and io, and require goes through package.
	p = script(t, `local llm = require("llmload")
assert(os.getenv ~= nil and io.open ~= nil and loadfile ~= nil)
return llm.scenario{source = llm.synth.azure_conv()}
`)
	mustLoad(t, p, Env{AllowUnsafe: true})
	if _, err := Load(p, Env{}); err == nil || !strings.Contains(err.Error(), "attempt to index a non-table object(nil) with key 'getenv'") {
		t.Errorf("sandboxed os.getenv: err = %v", err)
	}
}

func TestShebangKeepsLines(t *testing.T) {
	p := script(t, "#!/usr/bin/env llmload\n"+head+"error('here')\n")
	_, err := Load(p, Env{})
	if want := p + ":3: here"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

// TestConcurrentMappers runs two scenarios' Mappers from two goroutines, as
// two planners would: their calls share one Lua state and must not race
// (run with -race).
func TestConcurrentMappers(t *testing.T) {
	p := script(t, head+`
local count = 0
local function req(row)
  count = count + 1
  return llm.chat{prompt_tokens = row.context_tokens, max_tokens = count}
end
return {llm.scenario{name = "a", source = llm.synth.azure_conv(), request = req},
        llm.scenario{name = "b", source = llm.synth.azure_conv(), request = req}}
`)
	s := mustLoad(t, p, Env{})
	const n = 500
	done := make(chan []int, 2)
	for _, sc := range s.Scenarios {
		go func() {
			var counts []int
			for i := 0; i < n; i++ {
				sp, err := sc.Mapper.Map(trace.Row{ContextTokens: i + 1})
				if err != nil || sp.PromptTokens != i+1 {
					t.Errorf("Map: %+v, %v", sp, err)
				}
				counts = append(counts, sp.MaxTokens)
			}
			done <- counts
		}()
	}
	seen := map[int]bool{}
	for range 2 {
		for _, c := range <-done {
			if seen[c] {
				t.Fatalf("two calls saw count %d: calls were not serialised", c)
			}
			seen[c] = true
		}
	}
	if len(seen) != 2*n {
		t.Errorf("%d distinct counts, want %d", len(seen), 2*n)
	}
}
