package scripting

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/shared/didyoumean"
)

// optionSet collects the options a script declares and gives them the
// command-line values.
type optionSet struct {
	s      *Script
	args   map[string]string // by flag name without "--", "_" spelled "-"
	list   []Option
	byName map[string]int
}

func newOptionSet(s *Script, args map[string]string) *optionSet {
	o := &optionSet{s: s, args: map[string]string{}, byName: map[string]int{}}
	for k, v := range args {
		o.args[flagName(k)] = v
	}
	return o
}

// flagName is the flag spelling of an option name: "max_rows" -> "max-rows".
func flagName(name string) string {
	return strings.ReplaceAll(strings.TrimLeft(name, "-"), "_", "-")
}

var optionNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// lopts implements llm.options{name = {default = v, help = "..."}, ...}.
// A bare value is shorthand for {default = value}. It returns a table of
// the values; reading an undeclared option from it is an error, so that a
// typo does not silently read nil.
func (s *Script) lopts(L *lua.LState) int {
	if !s.loading {
		s.raisef(L, "llm.options must be called while the script loads, not from a request function")
	}
	spec, ok := L.Get(1).(*lua.LTable)
	if !ok || L.GetTop() != 1 {
		s.raisef(L, "llm.options takes one table: llm.options{ name = {default = ..., help = \"...\"} }")
	}
	L.Push(s.opts.declare(L, spec))
	return 1
}

// declare adds the options in spec and returns the table of their values.
func (o *optionSet) declare(L *lua.LState, spec *lua.LTable) *lua.LTable {
	s := o.s
	_, callLine := callerPos(L)
	values := L.NewTable()
	var names []string
	for k, v := spec.Next(lua.LNil); k != lua.LNil; k, v = spec.Next(k) {
		name, ok := k.(lua.LString)
		if !ok {
			s.raisef(L, "llm.options: keys must be option names, got %s", describe(k))
		}
		names = append(names, string(name))
		opt := o.parseDecl(L, string(name), v)
		opt.Line = o.declLine(opt.Name, callLine)
		val, err := o.value(&opt)
		if err != nil {
			s.raise(L, false, err)
		}
		o.byName[opt.Name] = len(o.list)
		o.list = append(o.list, opt)
		values.RawSetString(opt.Name, val)
	}
	// Strict reads: opt.sppedup is an error, not nil.
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		key := L.Get(2)
		s.raisef(L, "no option %s; declared: %s", lua.LVAsString(key), strings.Join(names, ", "))
		return 0
	}))
	L.SetMetatable(values, mt)
	return values
}

// parseDecl reads one option declaration.
func (o *optionSet) parseDecl(L *lua.LState, name string, v lua.LValue) Option {
	s := o.s
	if !optionNameRE.MatchString(name) {
		s.raisef(L, "llm.options: option name %q must be lower case letters, digits and _ (it becomes the flag --%s)", name, flagName(name))
	}
	flag := flagName(name)
	if flag == "help" || slices.Contains(s.env.Reserved, flag) {
		s.raisef(L, "llm.options: option %s would shadow the engine flag --%s; rename it", name, flag)
	}
	if prev, dup := o.byName[name]; dup {
		s.raisef(L, "llm.options: option %s is already declared at line %d", name, o.list[prev].Line)
	}
	opt := Option{Name: name, Flag: "--" + flag}
	var def lua.LValue
	switch d := v.(type) {
	case *lua.LTable:
		def = lua.LNil
		for k, fv := d.Next(lua.LNil); k != lua.LNil; k, fv = d.Next(k) {
			switch lua.LVAsString(k) {
			case "default":
				def = fv
			case "help":
				h, ok := fv.(lua.LString)
				if !ok {
					s.raisef(L, "llm.options: %s.help must be a string, got %s", name, describe(fv))
				}
				opt.Help = string(h)
			default:
				s.raisef(L, "llm.options: %s has unknown field %s%s (fields: default, help)",
					name, describe(k), didyoumean.Suggest(lua.LVAsString(k), []string{"default", "help"}))
			}
		}
		if def == lua.LNil {
			s.raisef(L, "llm.options: %s needs a default; its type (string, number or boolean) is the option's type", name)
		}
	default:
		def = v
	}
	switch d := def.(type) {
	case lua.LString:
		opt.Type, opt.Default = "string", string(d)
	case lua.LNumber:
		opt.Type, opt.Default = "number", float64(d)
	case lua.LBool:
		opt.Type, opt.Default = "boolean", bool(d)
	default:
		s.raisef(L, "llm.options: %s: default must be a string, number or boolean, got %s", name, describe(def))
	}
	return opt
}

// value is the option's value for the script: the command-line value when
// one was given, else the default.
func (o *optionSet) value(opt *Option) (lua.LValue, error) {
	opt.Value = opt.Default
	raw, given := o.args[strings.TrimPrefix(opt.Flag, "--")]
	if !given {
		return scalarToLua(opt.Default), nil
	}
	v, err := parseOptionValue(opt.Type, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %q %v (%s:%d)", opt.Flag, raw, err, o.s.Path, opt.Line)
	}
	opt.Value = v
	return scalarToLua(v), nil
}

// parseOptionValue parses a command-line value as an option of type typ.
// The error completes the sentence `"value" ...`.
func parseOptionValue(typ, raw string) (any, error) {
	switch typ {
	case "number":
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("is not a number")
		}
		return f, nil
	case "boolean":
		switch strings.ToLower(strings.TrimSpace(raw)) {
		case "true", "1", "yes", "on", "t":
			return true, nil
		case "false", "0", "no", "off", "f":
			return false, nil
		}
		return nil, fmt.Errorf("is not a boolean (true or false)")
	case "string":
		return raw, nil
	}
	return nil, fmt.Errorf("has unknown option type %s", typ)
}

// declLine finds the line declaring option name: gopher-lua knows only the
// line of the llm.options call, so the source around it is searched for
// "name =" (falling back to the call line).
func (o *optionSet) declLine(name string, callLine int) int {
	if callLine <= 0 || callLine > len(o.s.lines) {
		return callLine
	}
	re := regexp.MustCompile(`(^|[\s{,;])` + regexp.QuoteMeta(name) + `\s*=[^=]|\[\s*["']` + regexp.QuoteMeta(name) + `["']\s*\]\s*=`)
	// Depending on the layout the call's line is that of the opening or of
	// the closing brace, so look both ways, nearest first.
	for d := 0; d < 200; d++ {
		for _, ln := range []int{callLine + d, callLine - d} {
			if ln < 1 || ln > len(o.s.lines) {
				continue
			}
			if re.MatchString(o.s.lines[ln-1]) {
				return ln
			}
		}
	}
	return callLine
}

// checkArgs reports command-line values for options the script does not
// declare.
func (o *optionSet) checkArgs() error {
	var unknown []string
	for k := range o.args {
		found := false
		for _, opt := range o.list {
			if opt.Flag == "--"+k {
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	var flags []string
	for _, opt := range o.list {
		flags = append(flags, opt.Flag)
	}
	known := "it declares no options"
	if len(flags) > 0 {
		known = "its options are: " + strings.Join(flags, ", ")
	}
	return fmt.Errorf("unknown option --%s for %s; %s", unknown[0], o.s.Path, known)
}
