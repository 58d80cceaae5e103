package scripting

import (
	"fmt"
	"math"
	"slices"

	lua "github.com/yuin/gopher-lua"
)

// The one conversion between Go's JSON-shaped values (string, float64,
// bool, []any, map[string]any, nil), as encoding/json and the trace
// readers make them, and Lua values: trace fields, request extra and the
// teardown summary go to Lua with goToLua; a script's fields and extra
// come back with luaToGo.

// maxJSONDepth bounds luaToGo, which also catches tables that contain
// themselves.
const maxJSONDepth = 32

// goToLua converts a JSON-shaped Go value: maps and slices become tables
// (keys set in sorted order, so pairs() walks them the same way on every
// run), nil and anything else become nil.
func goToLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case []any:
		t := L.CreateTable(len(v), 0)
		for i, e := range v {
			t.RawSetInt(i+1, goToLua(L, e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			t.RawSetString(k, goToLua(L, v[k]))
		}
		return t
	}
	return scalarToLua(v)
}

// scalarToLua converts a string, float64 or bool; anything else is nil.
func scalarToLua(v any) lua.LValue {
	switch v := v.(type) {
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	}
	return lua.LNil
}

// luaToGo converts a Lua value into a JSON-encodable Go value: a table
// with keys 1..n becomes a list, any other table an object (an empty
// table is {}), nil and llm.null become nil. path names v in errors
// ("extra", "fields.user"); depth is 0 at the top.
func luaToGo(v lua.LValue, path string, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("%s is nested more than %d deep (does a table contain itself?)", path, maxJSONDepth)
	}
	switch v := v.(type) {
	case lua.LString:
		return string(v), nil
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s must be a finite number (JSON has no NaN or infinity), got %s", path, describe(v))
		}
		return f, nil
	case lua.LBool:
		return bool(v), nil
	case *lua.LNilType:
		return nil, nil
	case *lua.LUserData:
		if _, ok := v.Value.(nullValue); ok {
			return nil, nil
		}
	case *lua.LTable:
		return luaTableToGo(v, path, depth)
	}
	return nil, fmt.Errorf("%s must be a string, number, boolean, table or llm.null, got %s", path, describe(v))
}

func luaTableToGo(t *lua.LTable, path string, depth int) (any, error) {
	n, count := t.Len(), 0
	t.ForEach(func(lua.LValue, lua.LValue) { count++ })
	if n > 0 && n == count {
		list := make([]any, n)
		for i := 1; i <= n; i++ {
			x, err := luaToGo(t.RawGetInt(i), fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			list[i-1] = x
		}
		return list, nil
	}
	keys := make([]string, 0, count)
	var bad lua.LValue
	t.ForEach(func(k, _ lua.LValue) {
		if ks, ok := k.(lua.LString); ok {
			keys = append(keys, string(ks))
		} else if bad == nil {
			bad = k
		}
	})
	if bad != nil {
		return nil, fmt.Errorf("%s mixes list items and named fields, or has a key that is not a string (%s); JSON objects need string keys", path, describe(bad))
	}
	slices.Sort(keys) // the first error is the same on every run
	obj := make(map[string]any, count)
	for _, k := range keys {
		x, err := luaToGo(t.RawGetString(k), path+"."+k, depth+1)
		if err != nil {
			return nil, err
		}
		obj[k] = x
	}
	return obj, nil
}
