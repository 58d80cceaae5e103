package scripting

import (
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/engine/shared/didyoumean"
)

// The sources of docs/scripting.md#sources beyond llm.trace.azure and the
// synthetic ones: llm.trace.burstgpt, mooncake, csv and jsonl, a Lua
// function as a source (llm.source(f), or a function given as a
// scenario's source), and the source methods :limit, :skip, :window,
// :shard, :filter and :map.
//
// The methods wrap the Go source in another; :filter, :map and function
// sources call into the script's Lua state from the planner goroutine,
// under the script's lock (Script.mu), the one the request function's
// Mapper takes, since the state is single-threaded. They lock only around
// the Lua call, never around the inner source's Next, so that stacked Lua
// stages do not deadlock.

// extendSources adds the trace readers to llm.trace, llm.source, and the
// source methods to the metatable of source values.
func (s *Script) extendSources(L *lua.LState, mod *lua.LTable) {
	if tr, ok := mod.RawGetString("trace").(*lua.LTable); ok {
		tr.RawSetString("burstgpt", L.NewFunction(s.ltraceBurstGPT))
		tr.RawSetString("mooncake", L.NewFunction(s.ltraceMooncake))
		tr.RawSetString("csv", L.NewFunction(s.ltraceCSV))
		tr.RawSetString("jsonl", L.NewFunction(s.ltraceJSONL))
	}
	mod.RawSetString("source", L.NewFunction(s.lsource))
	// The script's directory, so a scenario can name data shipped beside
	// it wherever llmload runs.
	mod.RawSetString("script_dir", lua.LString(filepath.Dir(s.Path)))
	methods := L.NewTable()
	for name, f := range map[string]lua.LGFunction{
		"limit": s.lsrcLimit, "skip": s.lsrcSkip, "window": s.lsrcWindow, "shard": s.lsrcShard,
		"filter": s.lsrcFilter, "map": s.lsrcMap,
	} {
		methods.RawSetString(name, L.NewFunction(f))
	}
	s.mt.source.RawSetString("__index", methods)
}

// traceOpts reads the option table of an llm.trace.* call: skip_bad is
// common to all; each reader names its own other fields and handles them
// in field (which returns false for a key it does not know).
func (s *Script) traceOpts(L *lua.LState, fn string, arg int, required bool, known []string,
	field func(key string, v lua.LValue) bool) trace.Options {
	opt := trace.Options{SkipBad: s.env.SkipBad}
	known = append([]string{"skip_bad"}, known...)
	t, ok := L.Get(arg).(*lua.LTable)
	if !ok {
		if L.Get(arg) != lua.LNil || required {
			s.raisef(L, "%s: argument %d must be a table of options {%s = ...}, got %s", fn, arg,
				strings.Join(known, " = ..., "), describe(L.Get(arg)))
		}
		return opt
	}
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		key, isStr := k.(lua.LString)
		switch {
		case isStr && key == "skip_bad":
			opt.SkipBad = s.toBool(L, fn, "skip_bad", v)
		case isStr && field(string(key), v):
		default:
			s.unknownField(L, fn, k, known)
		}
	}
	return opt
}

// tracePath reads the path argument of an llm.trace.* call. The path is
// not checked here: see allowedPath, called only when the file is opened.
func (s *Script) tracePath(L *lua.LState, fn, what string) string {
	path, ok := L.Get(1).(lua.LString)
	if !ok || path == "" {
		s.raisef(L, "%s takes the path of %s, got %s", fn, what, describe(L.Get(1)))
	}
	return string(path)
}

// allowedPath returns the path to open for a trace a script names, or
// raises an error when the script may not read it (outside the working
// directory, the script's directory and --allow-read; /proc, /sys, /dev).
func (s *Script) allowedPath(L *lua.LState, fn, path string) string {
	resolved, err := s.guard.Check(path)
	if err != nil {
		s.raise(L, true, fmt.Errorf("%s: %w", fn, err))
	}
	return resolved
}

// openedSource pushes the source a reader's open function returned, or
// raises its error (which names the file and the problem).
func (s *Script) openedSource(L *lua.LState, src trace.Source, err error, desc string) int {
	if err != nil {
		s.raise(L, true, err)
	}
	return s.newSource(L, src, desc)
}

// ltraceBurstGPT implements llm.trace.burstgpt(path [, {skip_bad, keep_failed, fields}]).
func (s *Script) ltraceBurstGPT(L *lua.LState) int {
	const fn = "llm.trace.burstgpt"
	s.loadTime(L, fn)
	path := s.tracePath(L, fn, "a BurstGPT trace CSV")
	b := trace.BurstGPTOptions{KeepFields: true}
	opt := s.traceOpts(L, fn, 2, false, []string{"keep_failed", "fields"}, func(k string, v lua.LValue) bool {
		switch k {
		case "keep_failed":
			b.KeepFailed = s.toBool(L, fn, k, v)
		case "fields":
			b.KeepFields = s.toBool(L, fn, k, v)
		default:
			return false
		}
		return true
	})
	desc := "burstgpt trace " + path
	if s.env.Help {
		return s.newSource(L, nil, desc)
	}
	r, err := trace.OpenBurstGPT(s.allowedPath(L, fn, path), b, opt)
	return s.openedSource(L, r, err, desc)
}

// ltraceMooncake implements llm.trace.mooncake(path [, {skip_bad, block_size}]).
func (s *Script) ltraceMooncake(L *lua.LState) int {
	const fn = "llm.trace.mooncake"
	s.loadTime(L, fn)
	path := s.tracePath(L, fn, "a Mooncake trace (JSON lines)")
	var m trace.MooncakeOptions
	opt := s.traceOpts(L, fn, 2, false, []string{"block_size"}, func(k string, v lua.LValue) bool {
		if k != "block_size" {
			return false
		}
		m.BlockSize = int(s.toInt(L, fn, k, v, 1))
		return true
	})
	desc := "mooncake trace " + path
	if s.env.Help {
		return s.newSource(L, nil, desc)
	}
	r, err := trace.OpenMooncake(s.allowedPath(L, fn, path), m, opt)
	return s.openedSource(L, r, err, desc)
}

// timeUnits are the values of time_unit.
var timeUnits = map[string]time.Duration{"s": time.Second, "ms": time.Millisecond, "us": time.Microsecond, "ns": time.Nanosecond}

func (s *Script) toTimeUnit(L *lua.LState, fn string, v lua.LValue) time.Duration {
	str, _ := v.(lua.LString)
	u, ok := timeUnits[string(str)]
	if !ok {
		s.fieldErr(L, fn, "time_unit", `"s", "ms", "us" or "ns"`, v)
	}
	return u
}

// ltraceCSV implements llm.trace.csv(path, {timestamp = "col",
// context_tokens = "col", generated_tokens = "col", time_unit = "s",
// fields = bool, skip_bad = bool}).
func (s *Script) ltraceCSV(L *lua.LState) int {
	const fn = "llm.trace.csv"
	s.loadTime(L, fn)
	path := s.tracePath(L, fn, "a CSV trace with a header row")
	cfg := trace.CSVConfig{KeepFields: true}
	opt := s.traceOpts(L, fn, 2, true, []string{"timestamp", "context_tokens", "generated_tokens", "time_unit", "fields"},
		func(k string, v lua.LValue) bool {
			switch k {
			case "timestamp":
				cfg.Timestamp = s.columnName(L, fn, k, v)
			case "context_tokens":
				cfg.ContextTokens = s.columnName(L, fn, k, v)
			case "generated_tokens":
				cfg.GeneratedTokens = s.columnName(L, fn, k, v)
			case "time_unit":
				cfg.TimeUnit = s.toTimeUnit(L, fn, v)
			case "fields":
				cfg.KeepFields = s.toBool(L, fn, k, v)
			default:
				return false
			}
			return true
		})
	desc := "csv trace " + path
	if s.env.Help {
		return s.newSource(L, nil, desc)
	}
	r, err := trace.OpenCSV(s.allowedPath(L, fn, path), cfg, opt)
	return s.openedSource(L, r, err, desc)
}

// ltraceJSONL implements llm.trace.jsonl(path [, {timestamp = "key",
// context_tokens = "key", generated_tokens = "key", hash_ids = "key",
// time_unit = "s", block_size = n, fields = bool, skip_bad = bool}]).
func (s *Script) ltraceJSONL(L *lua.LState) int {
	const fn = "llm.trace.jsonl"
	s.loadTime(L, fn)
	path := s.tracePath(L, fn, "a JSON-lines trace")
	cfg := trace.JSONLConfig{KeepFields: true}
	opt := s.traceOpts(L, fn, 2, false, []string{"timestamp", "context_tokens", "generated_tokens", "hash_ids", "time_unit", "block_size", "fields"},
		func(k string, v lua.LValue) bool {
			switch k {
			case "timestamp":
				cfg.Timestamp = s.columnName(L, fn, k, v)
			case "context_tokens":
				cfg.ContextTokens = s.columnName(L, fn, k, v)
			case "generated_tokens":
				cfg.GeneratedTokens = s.columnName(L, fn, k, v)
			case "hash_ids":
				cfg.HashIDs = s.columnName(L, fn, k, v)
			case "time_unit":
				cfg.TimeUnit = s.toTimeUnit(L, fn, v)
			case "block_size":
				cfg.BlockSize = int(s.toInt(L, fn, k, v, 1))
			case "fields":
				cfg.KeepFields = s.toBool(L, fn, k, v)
			default:
				return false
			}
			return true
		})
	desc := "jsonl trace " + path
	if s.env.Help {
		return s.newSource(L, nil, desc)
	}
	r, err := trace.OpenJSONL(s.allowedPath(L, fn, path), cfg, opt)
	return s.openedSource(L, r, err, desc)
}

// columnName reads the name of a CSV column or JSON key.
func (s *Script) columnName(L *lua.LState, fn, field string, v lua.LValue) string {
	str, ok := v.(lua.LString)
	if !ok || str == "" {
		s.fieldErr(L, fn, field, "the name of a column (or key) of the trace", v)
	}
	return string(str)
}

// --- source methods ---

// selfSource reads the source a method is called on, and takes it over:
// the source returned by the method reads it, so the script may not use
// it again (a source is a stream).
func (s *Script) selfSource(L *lua.LState, method string) *sourceUD {
	s.loadTime(L, "source:"+method)
	var u *sourceUD
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		u, _ = ud.Value.(*sourceUD)
	}
	if u == nil {
		s.raisef(L, "source:%s must be called on a source with a colon (src:%s(...)), got %s", method, method, describe(L.Get(1)))
	}
	if u.usedBy != "" {
		s.raisef(L, "source:%s: this source is already read by %s; a source is a stream, so open another", method, u.usedBy)
	}
	return u
}

// wrapSource pushes a new source reading inner through wrap (not called
// when inner has no Go source: a trace file in Help mode). desc is the
// method call, e.g. "limit(5)"; the method's arguments have been checked,
// so inner is taken over only by calls that succeed.
func (s *Script) wrapSource(L *lua.LState, inner *sourceUD, desc string, wrap func(trace.Source) trace.Source) int {
	_, line := callerPos(L)
	inner.usedBy = fmt.Sprintf(":%s at line %d", desc[:strings.IndexByte(desc, '(')]+"()", line)
	src := inner.src
	inner.src = nil // the wrapper owns it now: closed once, through the wrapper
	if src != nil {
		src = wrap(src)
	}
	return s.newSource(L, src, inner.desc+":"+desc)
}

func (s *Script) lsrcLimit(L *lua.LState) int {
	u := s.selfSource(L, "limit")
	n := s.toInt(L, "source:limit", "n", L.Get(2), 0)
	return s.wrapSource(L, u, fmt.Sprintf("limit(%d)", n), func(src trace.Source) trace.Source { return trace.Limit(src, n) })
}

func (s *Script) lsrcSkip(L *lua.LState) int {
	u := s.selfSource(L, "skip")
	n := s.toInt(L, "source:skip", "n", L.Get(2), 0)
	return s.wrapSource(L, u, fmt.Sprintf("skip(%d)", n), func(src trace.Source) trace.Source { return trace.Skip(src, n) })
}

// lsrcWindow implements src:window(from, to): rows from `from` to `to`
// seconds into the trace (to = nil: to the end).
func (s *Script) lsrcWindow(L *lua.LState) int {
	const fn = "source:window"
	u := s.selfSource(L, "window")
	from := s.toSeconds(L, fn, "from", L.Get(2))
	var to time.Duration
	if L.Get(3) != lua.LNil {
		to = s.toSeconds(L, fn, "to", L.Get(3))
		if to <= from {
			s.raisef(L, "%s: to (%gs) must be after from (%gs); leave it out to read to the end", fn, to.Seconds(), from.Seconds())
		}
	}
	desc := fmt.Sprintf("window(%g, %g)", from.Seconds(), to.Seconds())
	return s.wrapSource(L, u, desc, func(src trace.Source) trace.Source { return trace.Window(src, from, to) })
}

func (s *Script) toSeconds(L *lua.LState, fn, field string, v lua.LValue) time.Duration {
	f := s.toNumber(L, fn, field+" (seconds)", v, false)
	d, err := secondsDuration(f)
	if err != nil {
		s.raisef(L, "%s: %s: %v", fn, field, err)
	}
	return d
}

// lsrcShard implements src:shard(i, n): every n-th row from the i-th,
// counting from 0, so that clients 0..n-1 replay disjoint parts.
func (s *Script) lsrcShard(L *lua.LState) int {
	const fn = "source:shard"
	u := s.selfSource(L, "shard")
	i := s.toInt(L, fn, "i", L.Get(2), 0)
	n := s.toInt(L, fn, "n", L.Get(3), 1)
	if i >= n {
		s.raisef(L, "%s: i must be below n (shards are numbered 0 to n-1), got i = %d, n = %d", fn, i, n)
	}
	return s.wrapSource(L, u, fmt.Sprintf("shard(%d, %d)", i, n), func(src trace.Source) trace.Source { return trace.Shard(src, i, n) })
}

// luaFunc reads a function argument and the line it is defined at.
func (s *Script) luaFunc(L *lua.LState, fn string, arg int, want string) *lua.LFunction {
	f, ok := L.Get(arg).(*lua.LFunction)
	if !ok || f.Proto == nil {
		s.raisef(L, "%s takes %s, got %s", fn, want, describe(L.Get(arg)))
	}
	return f
}

func (s *Script) lsrcFilter(L *lua.LState) int {
	u := s.selfSource(L, "filter")
	f := s.luaFunc(L, "source:filter", 2, "a function(row) returning true for the rows to keep")
	return s.wrapSource(L, u, "filter()", func(src trace.Source) trace.Source {
		return &luaStage{Reports: trace.Reports{Inner: src}, s: s, src: src, fn: f, filter: true, rt: s.newRowTable(),
			what: fmt.Sprintf("filter function (%s:%d)", s.Path, f.Proto.LineDefined)}
	})
}

func (s *Script) lsrcMap(L *lua.LState) int {
	u := s.selfSource(L, "map")
	f := s.luaFunc(L, "source:map", 2, "a function(row) returning the row to use, as a table")
	return s.wrapSource(L, u, "map()", func(src trace.Source) trace.Source {
		return &luaStage{Reports: trace.Reports{Inner: src}, s: s, src: src, fn: f, rt: s.newRowTable(),
			what: fmt.Sprintf("map function (%s:%d)", s.Path, f.Proto.LineDefined)}
	})
}

// lsource implements llm.source(f): a Lua function as a source.
func (s *Script) lsource(L *lua.LState) int {
	const fn = "llm.source"
	s.loadTime(L, fn)
	f := s.luaFunc(L, fn, 1, "a function(i) returning the i-th row as a table, or nil after the last")
	return s.newSource(L, s.funcSource(f), fmt.Sprintf("function at %s:%d", s.Path, f.Proto.LineDefined))
}

// funcSourceValue turns a function given as a scenario's source into a
// source value; other values are returned as they are.
func (s *Script) funcSourceValue(L *lua.LState, v lua.LValue) lua.LValue {
	f, ok := v.(*lua.LFunction)
	if !ok || f.Proto == nil {
		return v
	}
	s.newSource(L, s.funcSource(f), fmt.Sprintf("function at %s:%d", s.Path, f.Proto.LineDefined))
	ud := L.Get(-1)
	L.Pop(1)
	return ud
}

func (s *Script) funcSource(f *lua.LFunction) trace.Source {
	return &luaFuncSource{s: s, fn: f, what: fmt.Sprintf("source function (%s:%d)", s.Path, f.Proto.LineDefined)}
}

// --- Go sources that call Lua ---

// luaStage is a :filter or :map over another source. Its Lua function
// gets one row table, reused from call to call.
//
// Not safe for concurrent use (one planner owns a source); each call of
// the function takes the script's lock.
type luaStage struct {
	trace.Reports // the inner source's skip counts, passed on
	s             *Script
	src           trace.Source
	fn            *lua.LFunction
	filter        bool
	what          string
	rt            *rowTable
	err           error
	n             int64 // rows read
}

func (st *luaStage) Next() (trace.Row, error) {
	if st.err != nil {
		return trace.Row{}, st.err
	}
	for {
		row, err := st.src.Next()
		if err != nil {
			return trace.Row{}, err // the inner source's error is its own, and sticky
		}
		st.n++
		out, keep, err := st.call(row)
		if err != nil {
			st.err = err
			return trace.Row{}, err
		}
		if keep {
			return out, nil
		}
	}
}

// call runs the function on row under the script's lock.
func (st *luaStage) call(row trace.Row) (trace.Row, bool, error) {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	t := st.rt.fill(s.ls, row)
	ret, err := s.call(st.fn, st.what, t)
	if err != nil {
		return trace.Row{}, false, fmt.Errorf("%s, %s: %w", st.what, rowName(row, st.n), err)
	}
	if st.filter {
		return row, lua.LVAsBool(ret), nil
	}
	rt, ok := ret.(*lua.LTable)
	if !ok {
		return trace.Row{}, false, fmt.Errorf("%s, %s: returned %s; it must return the row as a table (use :filter to drop rows)",
			st.what, rowName(row, st.n), describe(ret))
	}
	out, err := tableRow(rt, row)
	if err != nil {
		return trace.Row{}, false, fmt.Errorf("%s, %s: the returned row %w", st.what, rowName(row, st.n), err)
	}
	return out, true, nil
}

func (st *luaStage) Close() error { return st.src.Close() }

// rowName says which row an error is about: its trace line, or its
// position in the stream for rows without one.
func rowName(row trace.Row, n int64) string {
	if row.Line > 0 {
		return fmt.Sprintf("row at line %d of the trace", row.Line)
	}
	return fmt.Sprintf("row %d", n)
}

// luaFuncSource calls fn(i) for i = 1, 2, ... until it returns nil.
//
// Not safe for concurrent use (one planner owns a source); each call of
// the function takes the script's lock.
type luaFuncSource struct {
	s    *Script
	fn   *lua.LFunction
	what string
	i    int64
	err  error
}

func (f *luaFuncSource) Next() (trace.Row, error) {
	if f.err != nil {
		return trace.Row{}, f.err
	}
	row, err := f.call()
	if err != nil {
		f.err = err
	}
	return row, err
}

func (f *luaFuncSource) call() (trace.Row, error) {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	f.i++
	ret, err := s.call(f.fn, f.what, lua.LNumber(f.i))
	if err != nil {
		return trace.Row{}, fmt.Errorf("%s, call %d: %w", f.what, f.i, err)
	}
	switch v := ret.(type) {
	case *lua.LNilType:
		return trace.Row{}, io.EOF
	case *lua.LTable:
		row, err := tableRow(v, trace.Row{})
		if err != nil {
			return trace.Row{}, fmt.Errorf("%s, call %d: the returned row %w", f.what, f.i, err)
		}
		return row, nil
	}
	return trace.Row{}, fmt.Errorf("%s, call %d: returned %s; it must return a row table {timestamp = s, context_tokens = n, generated_tokens = n} or nil after the last row",
		f.what, f.i, describe(ret))
}

func (f *luaFuncSource) Close() error {
	if f.err == nil {
		f.err = errors.New(f.what + ": Next after Close")
	}
	return nil
}

// --- rows as Lua tables ---

// rowTable is one Lua table that carries row after row to a Lua function
// (and its hash_ids list), so that a call allocates only what the row's
// fields need.
type rowTable struct {
	t       *lua.LTable
	hashIDs *lua.LTable
	hashLen int
}

func (s *Script) newRowTable() *rowTable {
	rt := &rowTable{t: s.ls.CreateTable(0, 9), hashIDs: s.ls.CreateTable(0, 0)}
	rt.t.RawSetString("hash_ids", rt.hashIDs)
	return rt
}

// fill sets the table's fields from row and returns it: timestamp
// (seconds), context_tokens, generated_tokens, line, hash_ids (a list,
// empty for rows without), failed, block_size (nil when 0) and fields (a
// table of the trace's other columns, nil when the reader keeps none).
func (rt *rowTable) fill(L *lua.LState, row trace.Row) *lua.LTable {
	t := rt.t
	t.RawSetString("timestamp", lua.LNumber(row.At.Seconds()))
	t.RawSetString("context_tokens", lua.LNumber(row.ContextTokens))
	t.RawSetString("generated_tokens", lua.LNumber(row.GeneratedTokens))
	t.RawSetString("line", lua.LNumber(row.Line))
	t.RawSetString("failed", lua.LBool(row.Failed))
	if row.BlockSize > 0 {
		t.RawSetString("block_size", lua.LNumber(row.BlockSize))
	} else {
		t.RawSetString("block_size", lua.LNil)
	}
	if row.Fields != nil {
		t.RawSetString("fields", goToLua(L, row.Fields))
	} else {
		t.RawSetString("fields", lua.LNil)
	}
	// The script may have replaced or emptied the list; restore it.
	t.RawSetString("hash_ids", rt.hashIDs)
	if len(row.HashIDs) > 0 || rt.hashLen > 0 {
		for i, id := range row.HashIDs {
			rt.hashIDs.RawSetInt(i+1, lua.LNumber(id))
		}
		for i := len(row.HashIDs) + 1; i <= rt.hashLen; i++ {
			rt.hashIDs.RawSetInt(i, lua.LNil)
		}
		rt.hashLen = len(row.HashIDs)
	}
	return t
}

var rowFields = []string{"timestamp", "context_tokens", "generated_tokens", "hash_ids", "block_size", "failed", "fields", "line"}

// tableRow converts a row table a script returned. context_tokens and
// generated_tokens are required; timestamp defaults to 0, line to from's.
// Errors complete the sentence "the returned row ...".
func tableRow(t *lua.LTable, from trace.Row) (trace.Row, error) {
	row := trace.Row{Line: from.Line}
	var seen [3]bool
	var err error
	t.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		key, _ := k.(lua.LString)
		switch key {
		case "timestamp":
			var f float64
			if f, err = wholeOrNumber(v, "timestamp", false); err == nil {
				if row.At, err = secondsDuration(f); err != nil {
					err = fmt.Errorf("has timestamp %v: %w", f, err)
				}
			}
			seen[0] = true
		case "context_tokens":
			row.ContextTokens, err = tokenCount(v, "context_tokens")
			seen[1] = true
		case "generated_tokens":
			row.GeneratedTokens, err = tokenCount(v, "generated_tokens")
			seen[2] = true
		case "hash_ids":
			row.HashIDs, err = hashIDList(v)
		case "block_size":
			row.BlockSize, err = tokenCount(v, "block_size")
		case "failed":
			b, ok := v.(lua.LBool)
			if !ok {
				err = fmt.Errorf("has failed = %s; want true or false", describe(v))
			}
			row.Failed = bool(b)
		case "fields":
			row.Fields, err = luaFields(v)
		case "line":
			var n int
			if n, err = tokenCount(v, "line"); err == nil {
				row.Line = n
			}
		default:
			name := lua.LVAsString(k)
			if _, isStr := k.(lua.LString); !isStr {
				name = describe(k)
			}
			err = fmt.Errorf("has an unknown field %s%s (fields: %s)", name, didyoumean.Suggest(name, rowFields), strings.Join(rowFields, ", "))
		}
	})
	if err != nil {
		return trace.Row{}, err
	}
	if !seen[1] || !seen[2] {
		missing := "context_tokens"
		if seen[1] {
			missing = "generated_tokens"
		}
		return trace.Row{}, fmt.Errorf("has no %s; a row needs context_tokens and generated_tokens (and timestamp for replay)", missing)
	}
	return row, nil
}

func wholeOrNumber(v lua.LValue, field string, whole bool) (float64, error) {
	n, ok := v.(lua.LNumber)
	f := float64(n)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || (whole && f != math.Trunc(f)) {
		want := "a number >= 0"
		if whole {
			want = "a whole number >= 0"
		}
		return 0, fmt.Errorf("has %s = %s; want %s", field, describe(v), want)
	}
	return f, nil
}

func tokenCount(v lua.LValue, field string) (int, error) {
	f, err := wholeOrNumber(v, field, true)
	if err != nil {
		return 0, err
	}
	if f > math.MaxInt32 {
		return 0, fmt.Errorf("has %s = %s; that is too large", field, describe(v))
	}
	return int(f), nil
}

func hashIDList(v lua.LValue) ([]int, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("has hash_ids = %s; want a list of whole numbers >= 0", describe(v))
	}
	n := t.Len()
	if n == 0 {
		return nil, nil
	}
	ids := make([]int, n)
	for i := 1; i <= n; i++ {
		f, err := wholeOrNumber(t.RawGetInt(i), fmt.Sprintf("hash_ids[%d]", i), true)
		if err != nil {
			return nil, err
		}
		if f > 1<<53 {
			return nil, fmt.Errorf("has hash_ids[%d] = %g; that is too large", i, f)
		}
		ids[i-1] = int(f)
	}
	return ids, nil
}

// luaFields converts a fields table back into Row.Fields.
func luaFields(v lua.LValue) (map[string]any, error) {
	if v == lua.LNil {
		return nil, nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("has fields = %s; want a table", describe(v))
	}
	x, err := luaToGo(t, "fields", 0)
	if err != nil {
		return nil, fmt.Errorf("has %w", err)
	}
	if m, ok := x.(map[string]any); ok {
		return m, nil
	}
	return map[string]any{}, nil // an empty table, or a list: no named fields
}

// toHashIDs reads the hash_ids field of llm.chat/llm.completion: a list
// of whole numbers >= 0, such as row.hash_ids.
func (s *Script) toHashIDs(L *lua.LState, fn string, v lua.LValue) []int {
	ids, err := hashIDList(v)
	if err != nil {
		s.raisef(L, "%s: hash_ids%s", fn, strings.TrimPrefix(err.Error(), "has hash_ids"))
	}
	return ids
}

// lsynth is llm.synth.<name>{seed = n, rate = r}: a synthetic source
// made by newSource (trace.SynthAzureConv, trace.SynthAzureCode).
func (s *Script) lsynth(name string, newSource func(trace.SynthConfig) trace.Source) lua.LGFunction {
	fn := "llm.synth." + name
	return func(L *lua.LState) int {
		s.loadTime(L, fn)
		cfg := trace.SynthConfig{Seed: s.env.Seed}
		if t := s.argTable(L, fn, true); t != nil {
			for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
				switch lua.LVAsString(k) {
				case "seed":
					cfg.Seed = s.toSeed(L, fn, v)
				case "rate":
					cfg.Rate = s.toNumber(L, fn, "rate", v, true)
				default:
					s.unknownField(L, fn, k, []string{"seed", "rate"})
				}
			}
		}
		desc := fmt.Sprintf("synthetic %s, seed %d", strings.ReplaceAll(name, "_", "-"), cfg.Seed)
		if cfg.Rate > 0 {
			desc += fmt.Sprintf(", %g req/s", cfg.Rate)
		}
		return s.newSource(L, newSource(cfg), desc)
	}
}
