// Package scripting loads Lua scenario files: it embeds gopher-lua, provides
// the "llmload" Lua module (options, trace sources, arrival schedules,
// request specs, scenarios) in a sandbox, and turns what a script returns
// into Scenarios the runner executes. Each scenario's Mapper calls the
// script's request function to turn a trace row into an openai.Spec.
//
// The user-facing reference is docs/scripting.md.
package scripting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/llmload/llmload/engine/guard/pathguard"
	"github.com/llmload/llmload/engine/load/capacity"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/trace"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/engine/results/threshold"
)

// Default time limits for script code; Env overrides them.
const (
	DefaultLoadTimeout = 10 * time.Second
	DefaultCallTimeout = time.Second
)

// rngStream is the second PCG seed word of math.random, so that it does
// not draw the same numbers as engine generators seeded with the same seed.
const rngStream = 0x6c6c6d6c6f6164

// Env is what the engine tells a script when loading it.
type Env struct {
	// Args are the command-line values of the script's own options, by
	// option name without the leading "--" ("speedup", "max-rows"; "_" and
	// "-" are interchangeable). A key the script does not declare is an
	// error.
	Args map[string]string
	// SkipBad is the engine's --skip-bad-rows: the default of skip_bad for
	// trace readers the script opens.
	SkipBad bool
	// Seed is the run's --seed: the default seed of synthetic sources and
	// random arrivals, and the seed of Lua's math.random.
	Seed uint64
	// Help loads the script only to list its options: trace files are not
	// opened (a missing file is not an error) and Scenario.Source may be
	// nil for them.
	Help bool
	// AllowRead are directories, beyond the working directory and the
	// script's own, under which llm.trace.* may open files (the command
	// line's --allow-read). /proc, /sys and /dev are never readable; see
	// engine/guard/pathguard.
	AllowRead []string
	// AllowUnsafe opens Lua's io, os, package (require of Lua files),
	// coroutine and debug libraries and dofile/loadfile. Off by default:
	// scenarios are shared and run by people who did not write them.
	AllowUnsafe bool
	// Reserved are engine flag names (without "--") that a script option
	// may not take, so that no option shadows an engine flag.
	Reserved []string
	// Print receives the output of Lua's print; nil means os.Stderr, so
	// that stdout stays for results.
	Print io.Writer
	// LoadTimeout bounds the script body (default DefaultLoadTimeout);
	// CallTimeout bounds each call of a request function (default
	// DefaultCallTimeout). A script that runs longer is stopped with an
	// error.
	LoadTimeout time.Duration
	CallTimeout time.Duration
}

// Option is one option a script declares with llm.options{}. It becomes
// the command-line flag Flag.
type Option struct {
	Name    string // the Lua key, e.g. "max_rows"
	Flag    string // the command-line flag, e.g. "--max-rows"
	Help    string
	Type    string // "string", "number" or "boolean": the type of Default
	Default any    // string, float64 or bool
	Value   any    // the value the script saw: Default, or the Env.Args value parsed
	Line    int    // where the option is declared
}

// Script is a loaded scenario file. Its fields are set by Load and only
// read afterwards. Its Lua state belongs to the scenarios' Mappers, which
// serialise their calls on it; Close may be called once every Mapper call
// has returned or concurrently (it waits for the running one). Close
// releases the sources and the Lua state.
type Script struct {
	Path      string
	Options   []Option
	Scenarios []*Scenario

	mu      sync.Mutex // serialises Mapper calls and Close on L
	env     Env
	ls      *lua.LState
	lines   []string // the source, for declaration lines
	opts    *optionSet
	sources []*sourceUD
	loading bool
	closed  bool
	pcg     *rand.PCG // math.random's generator, seeded from Env.Seed
	rng     *rand.Rand
	mt      metatables

	sessionMT      *lua.LTable    // session objects (session.go)
	answerMT       *lua.LTable    // the answers s:chat returns (answer.go)
	replayFn       *lua.LFunction // the session function of trace replays
	sessionSources []trace.SessionSource
	guard          *pathguard.Guard // the files llm.trace.* may open
	x              extState         // arrivals, hooks, custom metrics (ext.go)

	// The Go error behind the last Lua error a module function raised.
	raised    error
	raisedMsg string
	raisedPos bool

	// Calls of request functions run under callCtx; deadline cancels it
	// when one call runs longer than CallTimeout. Reusing one context and
	// one timer keeps Map free of per-call allocations for the deadline.
	callCtx  context.Context
	deadline callDeadline

	// intrMu guards callCancel and longCall, which Interrupt reads from
	// another goroutine while a call holds mu.
	intrMu     sync.Mutex
	callCancel context.CancelCauseFunc
	longCall   bool // the call running now has a limit above CallTimeout (setup, teardown)
}

// ErrInterrupted is the cause of a script call that Interrupt stopped.
var ErrInterrupted = errors.New("interrupted")

// Load runs the scenario file at path and returns its options and
// scenarios. Errors locate the problem in the script (path:line) or name
// the option. On error nothing stays open.
func Load(path string, env Env) (*Script, error) {
	return load(path, env, true)
}

// load is Load; wantScenarios false accepts a script that returns nothing
// (Lua test files).
func load(path string, env Env, wantScenarios bool) (_ *Script, err error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if env.LoadTimeout <= 0 {
		env.LoadTimeout = DefaultLoadTimeout
	}
	if env.CallTimeout <= 0 {
		env.CallTimeout = DefaultCallTimeout
	}
	if env.Print == nil {
		env.Print = os.Stderr
	}
	// A "#!" first line is allowed, as lua(1) allows it; blank it so line
	// numbers stay those of the file.
	if bytes.HasPrefix(src, []byte("#")) {
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			src = append([]byte(nil), src[i:]...)
		} else {
			src = nil
		}
	}
	s := &Script{
		Path:  path,
		env:   env,
		lines: strings.Split(string(src), "\n"),
		pcg:   rand.NewPCG(env.Seed, rngStream),
	}
	s.rng = rand.New(s.pcg)
	if !env.Help {
		// A scenario is code from someone else: it reads traces beside
		// itself or the user's, not the user's keys (docs/scripting.md).
		// Files the user named as option values (--csv /data/x.csv) are
		// theirs to give.
		g, err := pathguard.New(append([]string{".", filepath.Dir(path)}, env.AllowRead...)...)
		if err != nil {
			return nil, err
		}
		s.guard = g.WithFiles(slices.Collect(maps.Values(env.Args))...)
	}
	s.opts = newOptionSet(s, env.Args)
	// Each session runs in a coroutine (a thread of this state): a small
	// registry that grows and a call stack that grows keep thousands of
	// sessions cheap.
	s.ls = lua.NewState(lua.Options{SkipOpenLibs: true, RegistrySize: 1024, RegistryMaxSize: 1 << 20, MinimizeStackMemory: true})
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.openLibs(); err != nil {
		return nil, err
	}

	fn, err := s.compile(src)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), env.LoadTimeout)
	defer cancel()
	s.ls.SetContext(ctx)
	s.loading = true
	s.raised = nil
	s.ls.Push(fn)
	err = s.ls.PCall(0, 1, nil)
	s.loading = false
	if err != nil {
		return nil, s.luaError(err, ctx, env.LoadTimeout, "the script")
	}
	ret := s.ls.Get(-1)
	s.ls.Pop(1)

	s.Options = s.opts.list
	if err := s.opts.checkArgs(); err != nil {
		return nil, err
	}
	if wantScenarios {
		if err := s.collect(ret); err != nil {
			return nil, err
		}
	}
	s.newCallContext()
	return s, nil
}

// Close closes every source the script opened and the Lua state. The
// Script and its Mappers must not be used afterwards.
func (s *Script) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, src := range s.sources {
		if src.src != nil {
			if err := src.src.Close(); err != nil {
				errs = append(errs, fmt.Errorf("%s: closing %s: %w", s.Path, src.desc, err))
			}
		}
	}
	for _, src := range s.sessionSources {
		if err := src.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: closing sessions: %w", s.Path, err))
		}
	}
	s.deadline.stop()
	if s.callCancel != nil {
		s.callCancel(nil)
	}
	s.ls.Close()
	return errors.Join(errs...)
}

// collect turns the script's return value into Scenarios.
func (s *Script) collect(ret lua.LValue) error {
	var uds []*scenarioUD
	switch v := ret.(type) {
	case *lua.LUserData:
		if sc, ok := v.Value.(*scenarioUD); ok {
			uds = append(uds, sc)
		}
	case *lua.LTable:
		n := v.Len()
		for i := 1; i <= n; i++ {
			ud, ok := v.RawGetInt(i).(*lua.LUserData)
			sc, isSc := (*scenarioUD)(nil), false
			if ok {
				sc, isSc = ud.Value.(*scenarioUD)
			}
			if !isSc {
				return &Error{File: s.Path, Msg: fmt.Sprintf(
					"the returned list's item %d is %s; every item must be llm.scenario{...}", i, describe(v.RawGetInt(i)))}
			}
			uds = append(uds, sc)
		}
	}
	if len(uds) == 0 {
		return &Error{File: s.Path, Msg: fmt.Sprintf(
			"the script returned %s; it must end with return llm.scenario{...} (or a list of them)", describe(ret))}
	}
	seen := map[string]int{}
	for i, ud := range uds {
		sc := ud.sc
		if sc.Name == "" {
			if len(uds) > 1 {
				return &Error{File: s.Path, Line: sc.Line, Msg: "llm.scenario: name is required when the script returns several scenarios"}
			}
			sc.Name = defaultName(s.Path)
		}
		if line, dup := seen[sc.Name]; dup {
			return &Error{File: s.Path, Line: sc.Line, Msg: fmt.Sprintf(
				"scenario name %q is already used by the scenario at line %d; names must be unique", sc.Name, line)}
		}
		seen[sc.Name] = sc.Line
		for _, prev := range uds[:i] {
			if prev == ud {
				return &Error{File: s.Path, Line: sc.Line, Msg: "the same scenario is returned twice"}
			}
		}
		s.Scenarios = append(s.Scenarios, sc)
	}
	return nil
}

// defaultName is the file's base name without ".lua".
func defaultName(path string) string {
	base := path
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	return strings.TrimSuffix(base, ".lua")
}

// compile parses and compiles the script. gopher-lua's compiler reports
// errors by panicking; any panic that escapes it is still the script's
// problem, not a reason to crash the CLI.
func (s *Script) compile(src []byte) (fn *lua.LFunction, err error) {
	defer func() {
		if r := recover(); r != nil {
			fn, err = nil, &Error{File: s.Path, Msg: fmt.Sprintf("the Lua compiler failed: %v", r)}
		}
	}()
	fn, err = s.ls.Load(bytes.NewReader(src), s.Path)
	if err != nil {
		return nil, s.syntaxError(err)
	}
	return fn, nil
}

// syntaxError reformats gopher-lua's compile errors as file:line: message.
func (s *Script) syntaxError(err error) error {
	var api *lua.ApiError
	if errors.As(err, &api) && api.Cause != nil {
		err = api.Cause
	}
	var perr *parse.Error
	if errors.As(err, &perr) {
		if perr.Pos.Line == parse.EOF {
			if perr.Message == "syntax error" {
				return &Error{File: s.Path, Msg: "syntax error: unexpected end of file (a missing 'end', ')' or '}'?)"}
			}
			return &Error{File: s.Path, Msg: perr.Message + " at end of file"}
		}
		near := ""
		if perr.Token != "" {
			near = fmt.Sprintf(" near '%s'", perr.Token)
		}
		return &Error{File: s.Path, Line: perr.Pos.Line, Msg: fmt.Sprintf("%s%s (column %d)", perr.Message, near, perr.Pos.Column)}
	}
	var cerr *lua.CompileError
	if errors.As(err, &cerr) {
		return &Error{File: s.Path, Line: cerr.Line, Msg: cerr.Message}
	}
	return &Error{File: s.Path, Msg: strings.TrimSpace(err.Error()), Err: err}
}

// newCallContext makes the context calls run under; the deadline cancels
// it when a call runs past its limit (armCall).
func (s *Script) newCallContext() {
	ctx, cancel := context.WithCancelCause(context.Background())
	s.intrMu.Lock()
	s.callCtx, s.callCancel = ctx, cancel
	s.intrMu.Unlock()
	s.ls.SetContext(ctx)
}

// armCall starts the deadline of one call of script code after loading.
func (s *Script) armCall() { s.armCallFor(s.env.CallTimeout) }

// armCallFor starts a deadline of limit for one call of script code. A
// call allowed more than CallTimeout (setup, teardown) can be stopped
// early by Interrupt.
func (s *Script) armCallFor(limit time.Duration) {
	if s.callCtx.Err() != nil {
		// The previous call was stopped; a cancelled context cannot be
		// reused, and the state must not stay poisoned for later calls.
		s.newCallContext()
	}
	// Only this goroutine writes longCall, so it reads it without the
	// lock; Interrupt reads it under the lock. A request or session step
	// (the common call) changes nothing and takes no lock.
	if long := limit > s.env.CallTimeout; long != s.longCall {
		s.intrMu.Lock()
		s.longCall = long
		s.intrMu.Unlock()
	}
	s.deadline.start(limit, s.callCancel)
}

// disarmCall ends the deadline started by armCall.
func (s *Script) disarmCall() {
	s.deadline.done()
	if s.longCall {
		s.intrMu.Lock()
		s.longCall = false
		s.intrMu.Unlock()
	}
}

// Interrupt stops the script code running now if it may run longer than
// a request function (Env.CallTimeout): a setup or teardown hook stuck in a
// loop ends at once with ErrInterrupted instead of at Env.LoadTimeout.
// Calls bounded by CallTimeout (request functions, on_response, sessions)
// are left to finish: they end soon anyway, and interrupting them would
// turn a stop into a script error. Later calls run normally. Interrupt is
// safe for concurrent use with everything else (the run's Ctrl-C handler
// calls it).
func (s *Script) Interrupt() {
	s.intrMu.Lock()
	defer s.intrMu.Unlock()
	if s.longCall && s.callCancel != nil {
		s.callCancel(ErrInterrupted)
	}
}

// call runs fn(args...) under the call deadline and returns its first
// result. what names the function in errors.
func (s *Script) call(fn *lua.LFunction, what string, args ...lua.LValue) (lua.LValue, error) {
	if s.closed {
		return lua.LNil, errors.New(s.Path + ": script is closed")
	}
	L := s.ls
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	s.raised = nil
	s.armCall()
	err := L.PCall(len(args), 1, nil)
	s.disarmCall()
	if err != nil {
		return lua.LNil, s.luaError(err, s.callCtx, s.env.CallTimeout, what)
	}
	ret := L.Get(-1)
	L.Pop(1)
	return ret, nil
}

// Scenario is one llm.scenario{...} the script returned. Zero values mean
// "not set by the scenario": the engine's flags, settings file and
// defaults fill them.
type Scenario struct {
	Name        string
	Source      trace.Source // nil only when loaded with Env.Help for a trace file
	Schedule    pace.Schedule
	Arrivals    string // description of Schedule, e.g. "replay{speedup=10}"
	Concurrency int
	OnFull      string // "queue", "drop" or ""
	Limit       int64
	Duration    time.Duration
	Thresholds  []threshold.Threshold // parsed at load; checked by the engine after the run
	SLO         record.SLO            // objectives for goodput; zero = none
	// Warm-up left out of the summary: the first WarmupRequests requests,
	// or those scheduled before WarmupDuration (record.Config).
	WarmupRequests int64
	WarmupDuration time.Duration
	Hooks          *Hooks // setup, on_response, on_window, teardown; never nil
	URL, Model     string
	Line           int // line of llm.scenario{...} in the script
	Mapper         Mapper
	// Session is set for session scenarios (session, users, sessions):
	// the executor runs them instead of Source and Mapper, which are nil.
	Session *SessionSpec
	// Capacity is set for capacity searches (capacity = {...}): its steps
	// send Source's rows, and Schedule is not used.
	Capacity *capacity.Config
}
