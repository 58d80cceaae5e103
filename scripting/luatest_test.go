package scripting

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// TestLuaFiles runs the Lua test files testdata/*_test.lua: every global
// function named Test_* is a subtest, and fails when it raises an error
// (assert, error). A file's leading "-- args: --name=value ..." comment
// lines are the command-line option values its top level sees.
//
// Besides the llmload module the functions get a global llmtest table:
//
//	llmtest.options(args, spec)    llm.options(spec) as if args ({name = "value"}) were on the command line
//	llmtest.expect_error(want, f, ...)  f(...) must fail with a message containing want
func TestLuaFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*_test.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*_test.lua files (%v)", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			env := Env{Args: headerArgs(t, file), Seed: 1, CallTimeout: 10 * time.Second, Reserved: []string{"limit"}}
			s, err := load(file, env, false)
			if err != nil {
				t.Fatalf("loading: %v", err)
			}
			defer s.Close()
			s.ls.SetGlobal("llmtest", llmtestModule(s))

			var names []string
			g := s.ls.G.Global
			for k, v := g.Next(lua.LNil); k != lua.LNil; k, v = g.Next(k) {
				if name, ok := k.(lua.LString); ok && strings.HasPrefix(string(name), "Test_") && v.Type() == lua.LTFunction {
					names = append(names, string(name))
				}
			}
			if len(names) == 0 {
				t.Fatalf("%s defines no global Test_* function", file)
			}
			slices.Sort(names)
			for _, name := range names {
				t.Run(name, func(t *testing.T) {
					// Test functions build sources and scenarios, which
					// only the script's top level may do.
					s.loading = true
					defer func() { s.loading = false }()
					if _, err := s.call(g.RawGetString(name).(*lua.LFunction), name); err != nil {
						t.Error(err)
					}
				})
			}
		})
	}
}

// headerArgs reads the "-- args: --a=1 --b=x" lines at the top of file.
func headerArgs(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	args := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "-- args:")
		if !ok {
			break
		}
		for _, a := range strings.Fields(rest) {
			k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			if !ok {
				t.Fatalf("%s: header argument %q is not --name=value", file, a)
			}
			args[k] = v
		}
	}
	return args
}

func llmtestModule(s *Script) *lua.LTable {
	L := s.ls
	m := L.NewTable()
	m.RawSetString("options", L.NewFunction(func(L *lua.LState) int {
		argsT := L.CheckTable(1)
		spec := L.CheckTable(2)
		args := map[string]string{}
		argsT.ForEach(func(k, v lua.LValue) { args[k.String()] = v.String() })
		L.Push(newOptionSet(s, args).declare(L, spec))
		return 1
	}))
	m.RawSetString("expect_error", L.NewFunction(func(L *lua.LState) int {
		want := L.CheckString(1)
		fn := L.CheckFunction(2)
		nargs := L.GetTop() - 2
		L.Push(fn)
		for i := 3; i <= 2+nargs; i++ {
			L.Push(L.Get(i))
		}
		if err := L.PCall(nargs, 0, nil); err == nil {
			L.RaiseError("expected an error containing %q, got none", want)
		} else if msg := err.(*lua.ApiError).Object.String(); !strings.Contains(msg, want) {
			L.RaiseError("expected an error containing %q, got %q", want, msg)
		}
		return 0
	}))
	return m
}
