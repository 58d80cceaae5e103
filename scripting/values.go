package scripting

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/shared/didyoumean"
)

// describe names a Lua value for error messages: its type, and the value
// itself when short.
func describe(v lua.LValue) string {
	switch v := v.(type) {
	case *lua.LNilType:
		return "nil"
	case lua.LBool:
		return "boolean " + v.String()
	case lua.LNumber:
		return "number " + v.String()
	case lua.LString:
		s := string(v)
		if len(s) > 40 {
			s = s[:37] + "..."
		}
		return "string " + strconv.Quote(s)
	case *lua.LTable:
		return "a table"
	case *lua.LFunction:
		return "a function"
	case *lua.LUserData:
		switch u := v.Value.(type) {
		case *openai.Spec:
			return "a request spec (llm." + endpointFunc(u) + ")"
		case *sourceUD:
			return "a source (" + u.desc + ")"
		case *scheduleUD:
			return "an arrival schedule (llm.arrivals." + u.desc + ")"
		case *scenarioUD:
			return "a scenario"
		case nullValue:
			return "llm.null"
		}
		return "a userdata"
	}
	return "a " + v.Type().String()
}

// fieldErr reports a bad field value of a module function's table argument.
func (s *Script) fieldErr(L *lua.LState, fn, field, want string, got lua.LValue) {
	s.raisef(L, "%s: %s must be %s, got %s", fn, field, want, describe(got))
}

// unknownField reports a key that fn does not know.
func (s *Script) unknownField(L *lua.LState, fn string, key lua.LValue, known []string) {
	name, ok := key.(lua.LString)
	if !ok {
		s.raisef(L, "%s: fields are named, got key %s (fields: %s)", fn, describe(key), strings.Join(known, ", "))
	}
	s.raisef(L, "%s: unknown field %s%s (fields: %s)", fn, string(name), didyoumean.Suggest(string(name), known), strings.Join(known, ", "))
}

// argTable returns the table argument of fn{...}; an absent argument is an
// empty table when optional.
func (s *Script) argTable(L *lua.LState, fn string, optional bool) *lua.LTable {
	switch v := L.Get(1).(type) {
	case *lua.LTable:
		return v
	case *lua.LNilType:
		if optional {
			return nil
		}
	}
	s.raisef(L, "%s takes a table: %s{ ... }, got %s", fn, fn, describe(L.Get(1)))
	return nil
}

// toInt reads a whole number >= min.
func (s *Script) toInt(L *lua.LState, fn, field string, v lua.LValue, min int64) int64 {
	n, ok := v.(lua.LNumber)
	f := float64(n)
	if !ok || f != math.Trunc(f) || f < float64(min) || f > 1<<53 {
		s.fieldErr(L, fn, field, fmt.Sprintf("a whole number >= %d", min), v)
	}
	return int64(f)
}

// toNumber reads a finite number > 0 (positive) or >= 0.
func (s *Script) toNumber(L *lua.LState, fn, field string, v lua.LValue, positive bool) float64 {
	n, ok := v.(lua.LNumber)
	f := float64(n)
	bad := !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || (positive && f == 0)
	if bad {
		want := "a number >= 0"
		if positive {
			want = "a number > 0"
		}
		s.fieldErr(L, fn, field, want, v)
	}
	return f
}

func (s *Script) toString(L *lua.LState, fn, field string, v lua.LValue) string {
	str, ok := v.(lua.LString)
	if !ok {
		s.fieldErr(L, fn, field, "a string", v)
	}
	return string(str)
}

func (s *Script) toBool(L *lua.LState, fn, field string, v lua.LValue) bool {
	b, ok := v.(lua.LBool)
	if !ok {
		s.fieldErr(L, fn, field, "true or false", v)
	}
	return bool(b)
}

// toSeed reads a seed: a whole number >= 0.
func (s *Script) toSeed(L *lua.LState, fn string, v lua.LValue) uint64 {
	return uint64(s.toInt(L, fn, "seed", v, 0))
}

// toStringMap reads {key = "value", ...}; numbers and booleans are
// accepted as values and formatted as Lua prints them.
func (s *Script) toStringMap(L *lua.LState, fn, field string, v lua.LValue) map[string]string {
	t, ok := v.(*lua.LTable)
	if !ok {
		s.fieldErr(L, fn, field, "a table of strings {name = \"value\"}", v)
	}
	m := make(map[string]string)
	for k, val := t.Next(lua.LNil); k != lua.LNil; k, val = t.Next(k) {
		key, ok := k.(lua.LString)
		if !ok {
			s.fieldErr(L, fn, field+" key", "a string", k)
		}
		switch val.(type) {
		case lua.LString, lua.LNumber, lua.LBool:
			m[string(key)] = val.String()
		default:
			s.fieldErr(L, fn, field+"."+string(key), "a string", val)
		}
	}
	return m
}

// nullValue is the Go side of llm.null, JSON null in extra fields.
type nullValue struct{}

// toJSON converts v with luaToGo, raising its error as fn's.
func (s *Script) toJSON(L *lua.LState, fn, path string, v lua.LValue) any {
	x, err := luaToGo(v, path, 0)
	if err != nil {
		s.raisef(L, "%s: %v", fn, err)
	}
	return x
}

// parseDuration reads "1m30s" (Go syntax) or bare seconds ("90", "0.5").
func parseDuration(str string) (time.Duration, error) {
	str = strings.TrimSpace(str)
	if f, err := strconv.ParseFloat(str, 64); err == nil {
		return secondsDuration(f)
	}
	d, err := time.ParseDuration(str)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use \"30s\", \"1m30s\" or seconds)", str)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", str)
	}
	return d, nil
}

func secondsDuration(f float64) (time.Duration, error) {
	if math.IsNaN(f) || f < 0 || f > float64(math.MaxInt64)/float64(time.Second) {
		return 0, fmt.Errorf("%v seconds is not a duration >= 0", f)
	}
	return time.Duration(f * float64(time.Second)), nil
}
