package scripting

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/trace"
)

// rowsOf reads src to the end (at most 1000 rows).
func rowsOf(t *testing.T, src trace.Source) ([]trace.Row, error) {
	t.Helper()
	var rows []trace.Row
	for range 1000 {
		row, err := src.Next()
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
	t.Fatal("source does not end")
	return nil, nil
}

// loadIn loads src as scripting/x.lua's content, run from the package
// directory so testdata paths resolve.
func loadIn(t *testing.T, src string, env Env) *Script {
	t.Helper()
	return mustLoad(t, script(t, src), env)
}

func TestBurstGPTSource(t *testing.T) {
	s := loadIn(t, head+`
return {
  llm.scenario{name = "default", source = llm.trace.burstgpt("testdata/burstgpt_small.csv")},
  llm.scenario{name = "all", source = llm.trace.burstgpt("testdata/burstgpt_small.csv", {keep_failed = true})
    :filter(function(row) return row.fields.Model == "GPT-4" end),
    request = function(row)
      local n = row.failed and 1 or row.generated_tokens
      return llm.chat{prompt_tokens = row.context_tokens, max_tokens = n,
        tags = {model = row.fields.Model, log = row.fields["Log Type"], failed = row.failed}}
    end},
}
`, Env{})
	rows, err := rowsOf(t, s.Scenarios[0].Source)
	if err != io.EOF || len(rows) != 4 {
		t.Fatalf("%d rows, %v; want the 4 rows that did not fail", len(rows), err)
	}
	if fr, ok := s.Scenarios[0].Source.(trace.FailedReporter); !ok || fr.FailedSkipped() != 1 {
		t.Fatal("the failed row is not counted")
	}
	if rows[2].At != 5500*time.Millisecond || rows[2].ContextTokens != 1500 || rows[2].Fields["Log Type"] != "Conversation log" {
		t.Fatalf("row 3: %+v", rows[2])
	}
	// The default request carries no ignore_eos without a max_tokens.
	sp, _ := s.Scenarios[0].Mapper.Map(trace.Row{ContextTokens: 5})
	if sp.IgnoreEOS || sp.MaxTokens != 0 {
		t.Fatalf("default spec for a failed row: %+v", sp)
	}

	all := s.Scenarios[1]
	rows, err = rowsOf(t, all.Source)
	if err != io.EOF || len(rows) != 2 || !rows[0].Failed || rows[1].Failed {
		t.Fatalf("GPT-4 rows: %+v, %v", rows, err)
	}
	sp, err = all.Mapper.Map(rows[0])
	want := map[string]string{"model": "GPT-4", "log": "API log", "failed": "true"}
	if err != nil || sp.MaxTokens != 1 || !reflect.DeepEqual(sp.Tags, want) {
		t.Fatalf("Map(failed row) = %+v, %v", sp, err)
	}
}

func TestMooncakeSourceAndHashIDs(t *testing.T) {
	s := loadIn(t, head+`
return {
  llm.scenario{name = "default", source = llm.trace.mooncake("testdata/mooncake_small.jsonl", {block_size = 16})},
  llm.scenario{name = "lua", source = llm.trace.mooncake("testdata/mooncake_small.jsonl"),
    request = function(row)
      return llm.chat{prompt_tokens = row.context_tokens, max_tokens = row.generated_tokens,
        hash_ids = row.hash_ids, tags = {blocks = #row.hash_ids}}
    end},
}
`, Env{})
	def := s.Scenarios[0]
	rows, err := rowsOf(t, def.Source)
	if err != io.EOF || len(rows) != 4 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	if rows[2].At != 1250*time.Millisecond || !reflect.DeepEqual(rows[2].HashIDs, []int{0, 1, 4}) || rows[2].BlockSize != 16 {
		t.Fatalf("row 3: %+v", rows[2])
	}
	sp, err := def.Mapper.Map(rows[2])
	wantSpec := openai.Spec{Endpoint: request.Chat, PromptTokens: 1400, MaxTokens: 90, IgnoreEOS: true, HashIDs: []int{0, 1, 4}, BlockSize: 16}
	if err != nil || !reflect.DeepEqual(sp, wantSpec) {
		t.Fatalf("default Map = %+v, %v; want %+v", sp, err, wantSpec)
	}

	// A request function passes row.hash_ids on. The row table's list is
	// reused, so a longer row's ids must not leak into a shorter one.
	lua := s.Scenarios[1]
	for _, row := range []trace.Row{
		{ContextTokens: 1100, GeneratedTokens: 4, HashIDs: []int{0, 1, 2}, BlockSize: 32},
		{ContextTokens: 300, GeneratedTokens: 4, HashIDs: []int{5}},
		{ContextTokens: 300, GeneratedTokens: 4},
	} {
		sp, err := lua.Mapper.Map(row)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(sp.HashIDs, row.HashIDs) || sp.Tags["blocks"] != fmt.Sprint(len(row.HashIDs)) || sp.BlockSize != row.BlockSize {
			t.Fatalf("Map(%+v) = %+v", row, sp)
		}
	}
}

func TestCSVAndJSONLSources(t *testing.T) {
	s := loadIn(t, head+`
return {
  llm.scenario{name = "csv", source = llm.trace.csv("testdata/requests_small.csv",
    {timestamp = "when_ms", time_unit = "ms", context_tokens = "prompt", generated_tokens = "answer"}),
    request = function(row) return llm.chat{prompt_tokens = row.context_tokens, max_tokens = 1, tags = {user = row.fields.user}} end},
  llm.scenario{name = "jsonl", source = llm.trace.jsonl("testdata/requests_small.jsonl")
    :map(function(row)
      local f = row.fields
      return {timestamp = f.t, context_tokens = f.usage["in"], generated_tokens = f.usage.out, fields = {user = f.user}}
    end)},
}
`, Env{})
	rows, err := rowsOf(t, s.Scenarios[0].Source)
	if err != io.EOF || len(rows) != 3 || rows[1].At != 250*time.Millisecond || rows[2].ContextTokens != 64 {
		t.Fatalf("csv rows %+v, %v", rows, err)
	}
	if sp, err := s.Scenarios[0].Mapper.Map(rows[2]); err != nil || sp.Tags["user"] != "carol, jr" {
		t.Fatalf("%+v %v", sp, err)
	}
	rows, err = rowsOf(t, s.Scenarios[1].Source)
	want := []trace.Row{
		{At: 1500 * time.Millisecond, ContextTokens: 300, GeneratedTokens: 20, Line: 1, Fields: map[string]any{"user": "alice"}},
		{At: 2 * time.Second, ContextTokens: 800, GeneratedTokens: 60, Line: 2, Fields: map[string]any{"user": "bob"}},
		{At: 4250 * time.Millisecond, ContextTokens: 50, GeneratedTokens: 7, Line: 3, Fields: map[string]any{"user": "carol"}},
	}
	if err != io.EOF || !reflect.DeepEqual(rows, want) {
		t.Fatalf("jsonl rows\n%+v\nwant\n%+v (%v)", rows, want, err)
	}
}

func TestFunctionSourceAndMethods(t *testing.T) {
	s := loadIn(t, head+`
local function gen(i)
  if i > 10 then return nil end
  return {timestamp = i, context_tokens = 100 * i, generated_tokens = i, hash_ids = {i % 2}}
end
return {
  llm.scenario{name = "plain", source = gen},
  llm.scenario{name = "chain", source = llm.source(gen):skip(1):window(1, 5):shard(1, 2)
    :filter(function(row) return row.context_tokens ~= 500 end)
    :map(function(row) row.generated_tokens = row.generated_tokens * 2; return row end):limit(10)},
}
`, Env{})
	rows, err := rowsOf(t, s.Scenarios[0].Source)
	if err != io.EOF || len(rows) != 10 || rows[9].At != 10*time.Second || rows[9].ContextTokens != 1000 ||
		!reflect.DeepEqual(rows[3].HashIDs, []int{0}) {
		t.Fatalf("%+v %v", rows, err)
	}
	// skip(1) leaves rows 2..10 (t = 2..10 s); window(1, 5) keeps t in
	// [3, 7) s; shard(1, 2) keeps every second from the second: 4 and 6 s.
	rows, err = rowsOf(t, s.Scenarios[1].Source)
	var got [][2]int
	for _, r := range rows {
		got = append(got, [2]int{r.ContextTokens, r.GeneratedTokens})
	}
	if err != io.EOF || !reflect.DeepEqual(got, [][2]int{{400, 8}, {600, 12}}) {
		t.Fatalf("rows %v, %v", got, err)
	}
}

func TestLuaSourceErrors(t *testing.T) {
	p := script(t, head+`
return {
  llm.scenario{name = "a", source = function(i) if i == 2 then return {context_tokens = 1} end
    return {context_tokens = 1, generated_tokens = 1} end},
  llm.scenario{name = "b", source = function(i) return 5 end},
  llm.scenario{name = "c", source = llm.synth.azure_conv():map(function(row) return nil end)},
  llm.scenario{name = "d", source = llm.synth.azure_conv():filter(function(row) local x = nil; return x.y end)},
  llm.scenario{name = "e", source = llm.synth.azure_conv():map(function(row) row.contxt_tokens = 1; return row end)},
  llm.scenario{name = "f", source = llm.synth.azure_conv():filter(function(row) while true do end end)},
  llm.scenario{name = "g", source = function(i) return {context_tokens = 1, generated_tokens = 1, hash_ids = {1.5}} end},
}
`)
	// Only f's endless loop should meet the time limit, however slow the
	// machine: the others' calls are tiny, the limit generous.
	limit := time.Second
	s := mustLoad(t, p, Env{CallTimeout: limit})
	line := func(substr string) int { return lineOf(t, p, substr) }
	for i, want := range []string{
		fmt.Sprintf("source function (%s:%d), call 2: the returned row has no generated_tokens", p, line(`name = "a"`)),
		fmt.Sprintf("source function (%s:%d), call 1: returned number 5; it must return a row table", p, line(`name = "b"`)),
		fmt.Sprintf("map function (%s:%d), row 1: returned nil; it must return the row as a table (use :filter to drop rows)", p, line(`name = "c"`)),
		fmt.Sprintf("filter function (%s:%d), row 1: %s:%d: attempt to index a non-table object(nil) with key 'y'", p, line(`name = "d"`), p, line(`name = "d"`)),
		"row 1: the returned row has an unknown field contxt_tokens (did you mean context_tokens?)",
		"row 1: " + p + fmt.Sprintf(":%d: filter function (%s:%d) was stopped after 1s (an endless loop?)", line(`name = "f"`), p, line(`name = "f"`)),
		"the returned row has hash_ids[1] = number 1.5; want a whole number >= 0",
	} {
		sc := s.Scenarios[i]
		if sc.Name == "a" {
			if _, err := sc.Source.Next(); err != nil {
				t.Fatal(err)
			}
		}
		_, err := sc.Source.Next()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("scenario %s:\n got %v\nwant %s", sc.Name, err, want)
		}
		if _, again := sc.Source.Next(); again == nil || again.Error() != err.Error() {
			t.Errorf("scenario %s: the error is not sticky: %v", sc.Name, again)
		}
	}
	// A stopped call does not poison later ones.
	if _, err := s.Scenarios[0].Mapper.Map(trace.Row{ContextTokens: 1, GeneratedTokens: 1}); err != nil {
		t.Fatal(err)
	}
}

// TestSourcesInHelpMode: with --help no file is opened, and the methods
// still check their arguments.
func TestSourcesInHelpMode(t *testing.T) {
	s := loadIn(t, head+`
local src = llm.trace.mooncake("no/such/file.jsonl"):limit(3):filter(function(r) return true end)
return llm.scenario{source = src}
`, Env{Help: true})
	if s.Scenarios[0].Source != nil {
		t.Fatal("a trace source in help mode has a Go source")
	}
}

// TestWrappedSourcesClose: closing the script closes the reader under a
// chain of methods once, and reading after that fails.
func TestWrappedSourcesClose(t *testing.T) {
	s, err := Load(script(t, head+`
return llm.scenario{source = llm.trace.burstgpt("`+testdataAbs(t, "burstgpt_small.csv")+`"):skip(1):filter(function() return true end)}
`), Env{})
	if err != nil {
		t.Fatal(err)
	}
	src := s.Scenarios[0].Source
	if _, err := src.Next(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Next(); err == nil {
		t.Fatal("Next after Close succeeded")
	}
}

func testdataAbs(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLuaStagesConcurrent runs two scenarios' planners at once, each
// reading a filtered, mapped source and mapping its rows through a request
// function, all in one Lua state (run with -race).
func TestLuaStagesConcurrent(t *testing.T) {
	s := loadIn(t, head+`
local seen = 0
local function src()
  return llm.synth.azure_conv():filter(function(row) seen = seen + 1; return row.context_tokens % 2 == 0 end)
    :map(function(row) row.generated_tokens = 1 + row.generated_tokens % 7; return row end):limit(200)
end
local function req(row) return llm.chat{prompt_tokens = row.context_tokens, max_tokens = row.generated_tokens} end
return {
  llm.scenario{name = "a", source = src(), request = req},
  llm.scenario{name = "b", source = src(), request = req},
}
`, Env{})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, sc := range s.Scenarios {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for {
				row, err := sc.Source.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					errs <- err
					return
				}
				sp, err := sc.Mapper.Map(row)
				if err != nil {
					errs <- err
					return
				}
				if row.ContextTokens%2 != 0 || sp.MaxTokens < 1 || sp.MaxTokens > 7 {
					errs <- fmt.Errorf("row %+v mapped to %+v", row, sp)
					return
				}
				n++
			}
			if n != 200 {
				errs <- fmt.Errorf("scenario %s: %d rows, want 200", sc.Name, n)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkLuaStages is the planner's cost per row of a :filter and a
// :map over a synthetic source (the rows' own cost included).
func BenchmarkLuaStages(b *testing.B) {
	p := b.TempDir() + "/x.lua"
	if err := writeFile(p, head+`
return llm.scenario{source = llm.synth.azure_conv()
  :filter(function(row) return row.context_tokens > 10 end)
  :map(function(row) row.generated_tokens = row.generated_tokens + 1; return row end)}
`); err != nil {
		b.Fatal(err)
	}
	s, err := Load(p, Env{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	src := s.Scenarios[0].Source
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Next(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkMapRowWithFields is BenchmarkMap for a BurstGPT row whose
// three extra columns become row.fields.
func BenchmarkMapRowWithFields(b *testing.B) {
	p := b.TempDir() + "/x.lua"
	if err := writeFile(p, head+`
return llm.scenario{source = llm.synth.azure_conv(), request = function(row)
  return llm.chat{prompt_tokens = row.context_tokens, max_tokens = row.generated_tokens, tags = {model = row.fields.Model}}
end}
`); err != nil {
		b.Fatal(err)
	}
	s, err := Load(p, Env{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	row := trace.Row{ContextTokens: 500, GeneratedTokens: 90, Line: 7,
		Fields: map[string]any{"Model": "ChatGPT", "Total tokens": "590", "Log Type": "Conversation log"}}
	m := s.Scenarios[0].Mapper
	b.ReportAllocs()
	for b.Loop() {
		if sp, err := m.Map(row); err != nil || sp.Tags["model"] != "ChatGPT" {
			b.Fatalf("%+v %v", sp, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }
