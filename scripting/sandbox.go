package scripting

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// maxRep bounds string.rep: one call is a single VM instruction, so the
// time limit cannot stop it, and a script must not be able to ask for
// gigabytes in one go.
const maxRep = 64 << 20

// openLibs opens the sandboxed standard library and the llmload module.
// Without AllowUnsafe a script gets base (minus dofile, loadfile, module
// and the debugging _printregs), string, table and math; require knows only
// "llmload". In every mode print goes to Env.Print, math.random is seeded
// from Env.Seed (the same seed sends the same requests) and string.rep is
// bounded.
func (s *Script) openLibs() error {
	L := s.ls
	type lib struct {
		name string
		open lua.LGFunction
	}
	libs := []lib{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	}
	if s.env.AllowUnsafe {
		libs = append([]lib{{lua.LoadLibName, lua.OpenPackage}}, libs...)
		libs = append(libs,
			lib{lua.IoLibName, lua.OpenIo},
			lib{lua.OsLibName, lua.OpenOs},
			lib{lua.DebugLibName, lua.OpenDebug},
			lib{lua.CoroutineLibName, lua.OpenCoroutine},
		)
	}
	for _, l := range libs {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(l.open), NRet: 0, Protect: true}, lua.LString(l.name)); err != nil {
			return fmt.Errorf("%s: opening Lua library %q: %w", s.Path, l.name, err)
		}
	}

	g := L.G.Global
	g.RawSetString("_printregs", lua.LNil)
	g.RawSetString("print", L.NewFunction(s.lprint))
	mod := s.newModule(L)
	if s.env.AllowUnsafe {
		L.PreloadModule("llmload", func(L *lua.LState) int {
			L.Push(mod)
			return 1
		})
	} else {
		for _, name := range []string{"dofile", "loadfile", "module"} {
			g.RawSetString(name, lua.LNil)
		}
		g.RawSetString("require", L.NewFunction(func(L *lua.LState) int {
			name := L.CheckString(1)
			if name != "llmload" {
				s.raisef(L, "require(%q): scenarios may only require \"llmload\" (other modules and files are not available in the sandbox)", name)
			}
			L.Push(mod)
			return 1
		}))
	}

	math := L.GetGlobal("math").(*lua.LTable)
	math.RawSetString("random", L.NewFunction(s.lrandom))
	math.RawSetString("randomseed", L.NewFunction(s.lrandomseed))
	str := L.GetGlobal("string").(*lua.LTable)
	str.RawSetString("rep", L.NewFunction(s.lrep))
	return nil
}

// lprint is print writing to Env.Print.
func (s *Script) lprint(L *lua.LState) int {
	var b strings.Builder
	for i := 1; i <= L.GetTop(); i++ {
		if i > 1 {
			b.WriteByte('\t')
		}
		b.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	b.WriteByte('\n')
	_, _ = s.env.Print.Write([]byte(b.String()))
	return 0
}

// lrandom is Lua 5.1's math.random on the script's seeded generator.
func (s *Script) lrandom(L *lua.LState) int {
	switch L.GetTop() {
	case 0:
		L.Push(lua.LNumber(s.rng.Float64()))
		return 1
	case 1:
		n := L.CheckInt64(1)
		if n < 1 {
			s.raisef(L, "math.random(%d): the upper bound must be at least 1", n)
		}
		L.Push(lua.LNumber(s.rng.Int64N(n) + 1))
		return 1
	}
	lo, hi := L.CheckInt64(1), L.CheckInt64(2)
	if lo > hi || hi-lo+1 <= 0 {
		s.raisef(L, "math.random(%d, %d): the interval is empty or too large", lo, hi)
	}
	L.Push(lua.LNumber(lo + s.rng.Int64N(hi-lo+1)))
	return 1
}

// lrandomseed reseeds math.random, reproducibly.
func (s *Script) lrandomseed(L *lua.LState) int {
	seed := uint64(int64(L.CheckNumber(1)))
	s.pcg.Seed(seed, rngStream)
	return 0
}

// lrep is string.rep(s, n) with a bound on the result's size.
func (s *Script) lrep(L *lua.LState) int {
	str := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || str == "" {
		L.Push(lua.LString(""))
		return 1
	}
	if int64(len(str))*int64(n) > maxRep {
		s.raisef(L, "string.rep: the result would be %d bytes; at most %d are allowed", int64(len(str))*int64(n), maxRep)
	}
	L.Push(lua.LString(strings.Repeat(str, n)))
	return 1
}
