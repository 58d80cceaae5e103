package scripting

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// A typo in the request function is found at load time, with its line;
// a good function is still called once per row, and the source read once
// per row: the dry run's row and spec are the run's first.
func TestDryRun(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.lua", `local llm = require("llmload")
return llm.scenario { source = llm.synth.azure_conv(),
  request = function(row)
    return llm.chat { prompt_tokens = 10, max_token = 5 }
  end }
`)
	s := mustLoad(t, bad, Env{Seed: 1})
	err := s.DryRun(s.Scenarios[0])
	if err == nil || !strings.Contains(err.Error(), "bad.lua:4") || !strings.Contains(err.Error(), "max_tokens") {
		t.Fatalf("dry run of a typo: %v; want bad.lua:4 and a did-you-mean", err)
	}
	good := write("good.lua", `local llm = require("llmload")
calls, rows = 0, 0
return llm.scenario {
  source = function(i) rows = rows + 1; if i > 3 then return nil end; return { context_tokens = 10 + i, generated_tokens = 2 } end,
  request = function(row)
    calls = calls + 1
    return llm.chat { prompt_tokens = row.context_tokens, max_tokens = 2 }
  end }
`)
	s = mustLoad(t, good, Env{Seed: 1})
	sc := s.Scenarios[0]
	if err := s.DryRun(sc); err != nil {
		t.Fatal(err)
	}
	var got []int
	for {
		row, err := sc.Source.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sp, err := sc.Mapper.Map(row)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, sp.PromptTokens)
	}
	if len(got) != 3 || got[0] != 11 || got[2] != 13 {
		t.Fatalf("prompt lengths %v, want [11 12 13]", got)
	}
	// Three rows and the end: four reads, three calls, as without a dry run.
	for name, want := range map[string]lua.LNumber{"calls": 3, "rows": 4} {
		if v := s.ls.GetGlobal(name); v != want {
			t.Errorf("%s = %v, want %v (the dry run must not add a call or a read)", name, v, want)
		}
	}
}
