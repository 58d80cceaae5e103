package scripting

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Error is a problem in a scenario script, located at File:Line (Line is 0
// when no line is known). Err is the Go error behind it, when one caused it
// (for example a trace file that does not open), so errors.Is works through
// it.
type Error struct {
	File string
	Line int
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// raise reports err from a module function as a Lua error. withPos prefixes
// the script position of the caller (file:line:), as Lua's error() does;
// errors that carry their own location (bad option values) go without.
// The Go error is remembered so that, when the script does not catch it
// with pcall, Load or Map return it with its chain intact.
func (s *Script) raise(L *lua.LState, withPos bool, err error) {
	s.raised = err
	s.raisedPos = withPos
	level := 0
	if withPos {
		level = 1
	}
	msg := err.Error()
	if withPos {
		file, line := callerPos(L)
		if line > 0 {
			msg = fmt.Sprintf("%s:%d: %s", file, line, msg)
		}
		level = 0
	}
	s.raisedMsg = msg
	L.Error(lua.LString(msg), level)
}

// raisef is raise for a message of the module's own.
func (s *Script) raisef(L *lua.LState, format string, args ...any) {
	s.raise(L, true, fmt.Errorf(format, args...))
}

// callerPos is the file and line of the innermost Lua function on the
// stack, which is the script code that called the running Go function.
func callerPos(L *lua.LState) (string, int) {
	for level := 0; ; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			return "", 0
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil {
			return "", 0
		}
		if dbg.What == "G" || dbg.CurrentLine <= 0 {
			continue
		}
		return dbg.Source, dbg.CurrentLine
	}
}

// luaError turns the error of a protected call into an *Error (or the Go
// error a module function raised). ctx is the deadline the call ran under
// and limit its length, so that a stopped runaway script is reported as
// such rather than as "context canceled"; what names the code that ran
// ("the script", "request function of scenario x").
func (s *Script) luaError(err error, ctx context.Context, limit time.Duration, what string) error {
	raised, raisedMsg, raisedPos := s.raised, s.raisedMsg, s.raisedPos
	s.raised = nil
	var api *lua.ApiError
	if !errors.As(err, &api) {
		return &Error{File: s.Path, Msg: err.Error(), Err: err}
	}
	msg := api.Object.String()
	if _, isStr := api.Object.(lua.LString); !isStr && api.Object.Type() != lua.LTNumber {
		msg = "error raised with a " + api.Object.Type().String() + " value (use error(\"message\"))"
	}
	if raised != nil && msg == raisedMsg {
		if !raisedPos {
			return raised
		}
		file, line, rest := s.splitPos(msg)
		return &Error{File: file, Line: line, Msg: rest, Err: raised}
	}
	file, line, rest := s.splitPos(msg)
	if ctx != nil && errors.Is(context.Cause(ctx), ErrInterrupted) {
		return &Error{File: file, Line: line, Err: ErrInterrupted, Msg: what + " was interrupted (the run was stopped)"}
	}
	if ctx != nil && ctx.Err() != nil {
		return &Error{File: file, Line: line, Err: ctx.Err(), Msg: fmt.Sprintf(
			"%s was stopped after %v (an endless loop?); scripts must finish quickly", what, limit)}
	}
	return &Error{File: file, Line: line, Msg: rest}
}

// splitPos splits "file:line: message" as Lua formats positions. Messages
// from code loaded with load() carry another chunk name and stay whole.
func (s *Script) splitPos(msg string) (string, int, string) {
	msg = strings.TrimSpace(msg)
	if rest, ok := strings.CutPrefix(msg, s.Path+":"); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				return s.Path, n, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return s.Path, 0, msg
}
