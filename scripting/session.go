package scripting

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/prompt"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/session"
	"github.com/llmload/llmload/engine/load/trace"
)

// SessionSpec is what a session scenario says about its sessions: who
// runs them (closed-loop users, or open-loop session starts) and what they
// say (the session function, or a replay of a trace's conversations).
// Set by Load; Program builds the session.Program the executor runs.
type SessionSpec struct {
	// Closed loop: Users at once, or a ramp of Stages from StartUsers;
	// Iterations per user (0 = until the run ends).
	Users      int
	Stages     []session.Stage
	StartUsers int
	Iterations int
	// Steered: a capacity search sets the number of users
	// (capacity.by = "users").
	Steered bool
	// Open loop: Starts is the schedule of session starts (the scenario's
	// arrivals); Trace the recorded sessions, when replayed.
	Starts pace.Schedule
	Trace  trace.SessionSource
	// Header carries the session id to the server ("" = the default, "-"
	// = none).
	Header string

	fn        *lua.LFunction // the session function; nil replays Trace
	traceDesc string
	// cumulative: the trace's input lengths include the conversation so
	// far (Mooncake), rather than the turn's new tokens (session JSONL).
	cumulative bool
}

// MaxUsers is the most users the sessions run at once.
func (sp *SessionSpec) MaxUsers() int {
	n := max(sp.Users, sp.StartUsers)
	for _, st := range sp.Stages {
		n = max(n, st.Users)
	}
	return n
}

// sessionSourceUD is a session source value in Lua
// (llm.trace.mooncake_sessions, llm.trace.sessions).
type sessionSourceUD struct {
	src        trace.SessionSource // nil in Help mode
	desc       string
	cumulative bool
	usedBy     string
}

// usersUD is a ramp of users in Lua (llm.users{...}).
type usersUD struct {
	stages []session.Stage
	start  int
}

// extendSessions adds llm.users, llm.trace.mooncake_sessions and
// llm.trace.sessions, and prepares session objects and the replay
// function.
func (s *Script) extendSessions(L *lua.LState, mod *lua.LTable) {
	mod.RawSetString("users", L.NewFunction(s.lusers))
	if tr, ok := mod.RawGetString("trace").(*lua.LTable); ok {
		tr.RawSetString("mooncake_sessions", L.NewFunction(s.ltraceMooncakeSessions))
		tr.RawSetString("sessions", L.NewFunction(s.ltraceSessions))
	}
	s.sessionMT = s.sessionMetatable(L)
	s.answerMT = s.answerMetatable(L)
	fn, err := L.Load(strings.NewReader(replaySource), "=replay")
	if err != nil {
		panic("scripting: the replay session function does not compile: " + err.Error())
	}
	s.replayFn = fn
}

// sessionScenario finishes llm.scenario{...} for a session scenario and
// pushes it. A session scenario has no source, request function or
// request arrivals: its sessions say what is sent.
func (s *Script) sessionScenario(L *lua.LState, fn string, sc *Scenario, f *sessionFields, src *sourceUD, sch *scheduleUD, request *lua.LFunction, line int) int {
	switch {
	case src != nil:
		s.raisef(L, "%s: a session scenario takes no source (its session function, or sessions = llm.trace.mooncake_sessions(path), says what is sent)", fn)
	case request != nil:
		s.raisef(L, "%s: a session scenario takes no request function; s:chat{...} in the session function sends requests", fn)
	}
	owner := fmt.Sprintf("scenario %q", sc.Name)
	if sc.Name == "" {
		owner = fmt.Sprintf("the scenario at line %d", line)
	}
	if sch != nil {
		if sch.usedBy != "" {
			s.raisef(L, "%s: this arrival schedule is already used by %s; call llm.arrivals again for each scenario", fn, sch.usedBy)
		}
		sch.usedBy = owner
	}
	s.finishSessions(L, fn, sc, f, sch, owner)
	if sc.Session.Starts != nil {
		sc.Schedule = sc.Session.Starts
	}
	ud := L.NewUserData()
	ud.Value = &scenarioUD{sc: sc}
	ud.Metatable = s.mt.scenario
	L.Push(ud)
	return 1
}

// sessionScenarioFields are the llm.scenario fields of session scenarios.
var sessionScenarioFields = []string{"session", "users", "iterations", "sessions", "session_header"}

// sessionFields collects the session fields of one llm.scenario call.
type sessionFields struct {
	fn         *lua.LFunction
	users      int
	ramp       *usersUD
	iterations int
	src        *sessionSourceUD
	header     string
	any        bool
}

// sessionField reads one of sessionScenarioFields; false for other keys.
func (s *Script) sessionField(L *lua.LState, fn string, f *sessionFields, key string, v lua.LValue) bool {
	switch key {
	case "session":
		lf, ok := v.(*lua.LFunction)
		if !ok {
			s.fieldErr(L, fn, key, "a function(s) that talks to the server through s:chat{...}", v)
		}
		f.fn = lf
	case "users":
		if ud, ok := v.(*lua.LUserData); ok {
			if r, ok := ud.Value.(*usersUD); ok {
				f.ramp = r
				break
			}
		}
		if _, ok := v.(lua.LNumber); !ok {
			s.fieldErr(L, fn, key, "a number of users, or llm.users{ {users = n, duration = d}, ... }", v)
		}
		f.users = int(s.toInt(L, fn, key, v, 1))
	case "iterations":
		f.iterations = int(s.toInt(L, fn, key, v, 1))
	case "sessions":
		ud, _ := v.(*lua.LUserData)
		if ud != nil {
			f.src, _ = ud.Value.(*sessionSourceUD)
		}
		if f.src == nil {
			s.fieldErr(L, fn, key, "a session source (llm.trace.mooncake_sessions(path) or llm.trace.sessions(path))", v)
		}
	case "session_header":
		f.header = s.toString(L, fn, key, v)
	default:
		return false
	}
	f.any = true
	return true
}

// finishSessions checks the session fields of a scenario and sets
// sc.Session. sch is the scenario's arrivals (nil when not given): with
// users there must be none; without, they are the session starts.
func (s *Script) finishSessions(L *lua.LState, fn string, sc *Scenario, f *sessionFields, sch *scheduleUD, owner string) {
	if !f.any {
		return
	}
	sp := &SessionSpec{Iterations: f.iterations, Header: f.header, fn: f.fn}
	if f.src != nil {
		if f.src.usedBy != "" {
			s.raisef(L, "%s: these sessions are already read by %s; open the trace again for each scenario", fn, f.src.usedBy)
		}
		f.src.usedBy = owner
		sp.Trace, sp.traceDesc, sp.cumulative = f.src.src, f.src.desc, f.src.cumulative
	}
	if f.fn == nil && f.src == nil {
		s.raisef(L, "%s: a session scenario needs session = function(s) ... end, or sessions = llm.trace.mooncake_sessions(path) to replay", fn)
	}
	steered := sc.Capacity != nil // checkCapacity made it by users
	closed := f.users > 0 || f.ramp != nil || steered
	switch {
	case steered:
		sp.Steered = true
	case closed && sch != nil:
		s.raisef(L, "%s: give users (closed loop: each user runs sessions one after another) or arrivals (open loop: sessions start on a schedule), not both", fn)
	case closed && f.src != nil:
		s.raisef(L, "%s: recorded sessions start when the trace says: use arrivals = llm.arrivals.replay{...} (or another schedule), not users", fn)
	case f.users > 0:
		sp.Users = f.users
	case f.ramp != nil:
		sp.Stages, sp.StartUsers = f.ramp.stages, f.ramp.start
	case sch != nil:
		sp.Starts = sch.sch
		sc.Arrivals = sch.desc
	case f.src != nil:
		sp.Starts, sc.Arrivals = pace.Replay(1), "replay{speedup=1}"
	default:
		s.raisef(L, "%s: a session scenario needs users = n (closed loop) or arrivals = llm.arrivals.poisson{rate = r} (session starts)", fn)
	}
	if f.iterations > 0 && !closed {
		s.raisef(L, "%s: iterations counts the sessions of each user; it needs users", fn)
	}
	if closed && sc.Concurrency == 0 {
		sc.Concurrency = sp.MaxUsers() // every user may have a request out
		if steered {
			sc.Concurrency = int(math.Ceil(sc.Capacity.Search.Max))
		}
	}
	sc.Session = sp
}

// lusers implements llm.users{ {users = n, duration = d}, ..., start = n0 }:
// a ramp of closed-loop users, as k6's ramping-vus stages.
func (s *Script) lusers(L *lua.LState) int {
	const fn = "llm.users"
	t := s.argTable(L, fn, false)
	r := &usersUD{}
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		if _, ok := k.(lua.LNumber); ok {
			continue
		}
		if lua.LVAsString(k) != "start" {
			s.unknownField(L, fn, k, []string{"start"})
		}
		r.start = int(s.toInt(L, fn, "start", v, 0))
	}
	n := t.Len()
	if n == 0 {
		s.raisef(L, "%s: needs at least one stage {users = n, duration = \"30s\"}", fn)
	}
	for i := 1; i <= n; i++ {
		field := fmt.Sprintf("stage %d", i)
		st, ok := t.RawGetInt(i).(*lua.LTable)
		if !ok {
			s.fieldErr(L, fn, field, `a table {users = n, duration = "30s"}`, t.RawGetInt(i))
		}
		var stage session.Stage
		hasDur := false
		for k, v := st.Next(lua.LNil); k != lua.LNil; k, v = st.Next(k) {
			switch lua.LVAsString(k) {
			case "users":
				stage.Users = int(s.toInt(L, fn, field+": users", v, 0))
			case "duration":
				stage.Duration, hasDur = s.toDuration(L, fn, field+": duration", v), true
			default:
				s.unknownField(L, fn+": "+field, k, []string{"users", "duration"})
			}
		}
		if !hasDur {
			s.raisef(L, "%s: %s needs a duration", fn, field)
		}
		r.stages = append(r.stages, stage)
	}
	ud := L.NewUserData()
	ud.Value = r
	L.Push(ud)
	return 1
}

// ltraceMooncakeSessions implements llm.trace.mooncake_sessions(path [,
// {block_size, min_shared_blocks, output_token_time, skip_bad}]).
func (s *Script) ltraceMooncakeSessions(L *lua.LState) int {
	const fn = "llm.trace.mooncake_sessions"
	s.loadTime(L, fn)
	path := s.tracePath(L, fn, "a Mooncake trace (JSON lines)")
	var m trace.MooncakeSessionOptions
	m.Options = s.traceOpts(L, fn, 2, false, []string{"block_size", "min_shared_blocks", "output_token_time"}, func(k string, v lua.LValue) bool {
		switch k {
		case "block_size":
			m.BlockSize = int(s.toInt(L, fn, k, v, 1))
		case "min_shared_blocks":
			m.MinSharedBlocks = int(s.toInt(L, fn, k, v, 1))
		case "output_token_time":
			m.OutputTokenTime = s.toDuration(L, fn, k, v)
		default:
			return false
		}
		return true
	})
	desc := "mooncake sessions " + path
	if s.env.Help {
		return s.newSessionSource(L, nil, desc, true)
	}
	src, err := trace.MooncakeSessions(s.allowedPath(L, fn, path), m)
	if err != nil {
		s.raise(L, true, err)
	}
	return s.newSessionSource(L, src, desc, true)
}

// ltraceSessions implements llm.trace.sessions(path [, {skip_bad}]): the
// session JSONL format (docs/traces.md).
func (s *Script) ltraceSessions(L *lua.LState) int {
	const fn = "llm.trace.sessions"
	s.loadTime(L, fn)
	path := s.tracePath(L, fn, "a session trace (JSON lines)")
	opt := s.traceOpts(L, fn, 2, false, nil, func(string, lua.LValue) bool { return false })
	desc := "sessions " + path
	if s.env.Help {
		return s.newSessionSource(L, nil, desc, false)
	}
	src, err := trace.SessionsJSONL(s.allowedPath(L, fn, path), opt)
	if err != nil {
		s.raise(L, true, err)
	}
	return s.newSessionSource(L, src, desc, false)
}

func (s *Script) newSessionSource(L *lua.LState, src trace.SessionSource, desc string, cumulative bool) int {
	ss := &sessionSourceUD{src: src, desc: desc, cumulative: cumulative}
	if src != nil {
		s.sessionSources = append(s.sessionSources, src)
	}
	ud := L.NewUserData()
	ud.Value = ss
	L.Push(ud)
	return 1
}

// TextSource writes the synthetic text of a user's turn
// (openai.Builder.Text). Called only from the session driver.
type TextSource interface {
	Text(tokens int, key string, n int64) string
}

// SessionProgram returns the session.Program of a session scenario of
// the script: its session function (or the trace replay) run in a Lua
// coroutine per session. text writes synthetic user messages; seed seeds
// each session's random think times (with the session id, so a session
// draws the same times in every run whatever the order sessions
// interleave in).
func (s *Script) SessionProgram(sc *Scenario, text TextSource, seed uint64) session.Program {
	return &luaProgram{s: s, sp: sc.Session, sc: sc, text: text, seed: seed,
		what: fmt.Sprintf("session function of scenario %q", sc.Name)}
}

// luaProgram runs the session function: one coroutine (a gopher-lua
// thread sharing the script's globals) per session, resumed under the
// script's lock. s:chat and s:think yield to the executor; everything
// else runs inside the step.
type luaProgram struct {
	s    *Script
	sp   *SessionSpec
	sc   *Scenario
	text TextSource
	seed uint64
	what string
}

// sessionRegistrySize is the registry (data stack) a session's coroutine
// starts with: enough for a session function and the llmload calls it
// makes, which never go deep; a deeper one grows it (RegistryGrowStep at
// a time, up to the main state's RegistryMaxSize).
const sessionRegistrySize = 128

// luaSession is one session's Lua side.
type luaSession struct {
	co      *lua.LState
	obj     *lua.LUserData // the s of function(s)
	sess    *session.Session
	history []openai.Message
	step    session.Step // what the last yield asked for
	sent    bool         // the last step was a Send (Next gets its answer)
	keep    bool         // s:chat used the history: the answer joins it
	rng     *rand.Rand
	texts   int64  // synthetic messages written so far: each gets its own text
	textKey string // their stream's name: scenario/session id, made once
	p       *luaProgram
}

// Begin implements session.Program.
func (p *luaProgram) Begin(sess *session.Session) (session.Step, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return session.Step{}, fmt.Errorf("%s: script is closed", s.Path)
	}
	// A thread takes its state's options: a coroutine starts with a
	// registry (data stack) of sessionRegistrySize slots, not the main
	// state's, and grows it as deeply as it calls. 5,000 sessions at the
	// main state's 1,024 slots hold 80 MB of mostly empty stacks.
	opts := s.ls.Options
	s.ls.Options.RegistrySize = sessionRegistrySize
	co, cancel := s.ls.NewThread()
	s.ls.Options = opts
	if cancel != nil {
		// The thread's own child context would stay registered with the
		// call context until cancelled; each resume sets the call context.
		cancel()
	}
	ls := &luaSession{co: co, sess: sess, p: p,
		rng: rand.New(rand.NewPCG(p.seed, prompt.StreamID(sess.ID, 0)))}
	ls.obj = co.NewUserData()
	ls.obj.Value = ls
	ls.obj.Metatable = s.sessionMT
	sess.Data = ls
	fn := p.sp.fn
	if fn == nil {
		fn = s.replayFn
	}
	return ls.resume(fn, ls.obj)
}

// Next implements session.Program.
func (p *luaProgram) Next(sess *session.Session, res *request.Result) (session.Step, error) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return session.Step{}, fmt.Errorf("%s: script is closed", s.Path)
	}
	ls := sess.Data.(*luaSession)
	var arg lua.LValue = lua.LNil
	if ls.sent && res != nil {
		ls.remember(res)
		arg = ls.p.s.newAnswer(ls.co, res)
	}
	return ls.resume(nil, arg)
}

// Stop implements session.Program.
func (p *luaProgram) Stop(sess *session.Session) {
	if ls, ok := sess.Data.(*luaSession); ok {
		ls.history, ls.co, ls.obj = nil, nil, nil
	}
	sess.Data = nil
}

// resume runs the coroutine to its next yield (or its end) under the
// call deadline and turns the outcome into a Step. s.mu is held.
func (ls *luaSession) resume(fn *lua.LFunction, arg lua.LValue) (session.Step, error) {
	s := ls.p.s
	ls.step, ls.sent = session.Step{Kind: session.End}, false
	s.raised = nil
	s.armCall()
	ls.co.SetContext(s.callCtx)
	st, err, _ := s.ls.Resume(ls.co, fn, arg)
	s.disarmCall()
	if st == lua.ResumeError {
		return session.Step{}, s.luaError(err, s.callCtx, s.env.CallTimeout, ls.p.what)
	}
	if st == lua.ResumeOK {
		return session.Step{Kind: session.End}, nil
	}
	ls.sent = ls.step.Kind == session.Send
	return ls.step, nil
}

// remember appends a successful answer to the conversation, when s:chat
// sent the conversation: the text and the tool calls, not the reasoning
// (servers drop it from later turns).
func (ls *luaSession) remember(res *request.Result) {
	if !ls.keep || res.Failed() || res.Answer == nil {
		return
	}
	ls.history = append(ls.history, openai.Message{Role: "assistant", Content: res.Answer.Text, ToolCalls: res.Answer.ToolCalls})
}

// sessionMethods are the methods of a session object.
var sessionMethods = []string{"chat", "think", "user", "system", "assistant", "tool", "text", "history", "clear"}

// sessionMetatable builds the metatable of session objects: fields id,
// user, iteration, turn, trace; the methods above.
func (s *Script) sessionMetatable(L *lua.LState) *lua.LTable {
	mt := L.NewTable()
	methods := map[string]lua.LGFunction{
		"chat": s.lsChat, "think": s.lsThink,
		"user": s.lsMessage("user"), "system": s.lsMessage("system"), "assistant": s.lsMessage("assistant"),
		"tool": s.lsTool, "text": s.lsText, "history": s.lsHistory, "clear": s.lsClear,
	}
	mtab := L.NewTable()
	for name, f := range methods {
		mtab.RawSetString(name, L.NewFunction(f))
	}
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		ls := s.selfSession(L, "session")
		key := L.CheckString(2)
		if m := mtab.RawGetString(key); m != lua.LNil {
			L.Push(m)
			return 1
		}
		switch key {
		case "id":
			L.Push(lua.LString(ls.sess.ID))
		case "user":
			L.Push(lua.LNumber(ls.sess.User))
		case "iteration":
			L.Push(lua.LNumber(ls.sess.Iteration))
		case "turn":
			L.Push(lua.LNumber(ls.sess.Turn))
		case "trace":
			L.Push(ls.traceTable())
		default:
			s.unknownField(L, "session", lua.LString(key), append([]string{"id", "user", "iteration", "turn", "trace"}, sessionMethods...))
		}
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		s.raisef(L, "session: fields are read-only; keep your own state in local variables of the session function")
		return 0
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		ls := s.selfSession(L, "tostring")
		L.Push(lua.LString(fmt.Sprintf("session %s (user %d, turn %d, %d messages)", ls.sess.ID, ls.sess.User, ls.sess.Turn, len(ls.history))))
		return 1
	}))
	mt.RawSetString("__metatable", lua.LString("llmload"))
	return mt
}

func (s *Script) selfSession(L *lua.LState, fn string) *luaSession {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if ls, ok := ud.Value.(*luaSession); ok && ls.co != nil {
			return ls
		}
	}
	s.raisef(L, "%s: call it as a method of the session: s:%s(...)", fn, fn)
	return nil
}

// sessionChatFields are the fields s:chat takes: llm.chat's, and tools.
var sessionChatFields = append(append([]string(nil), chatFields...), "tools", "tool_choice")

// lsChat implements s:chat{...}: send the conversation (or the messages
// given), wait for the whole answer, add it to the conversation and
// return it.
func (s *Script) lsChat(L *lua.LState) int {
	const fn = "s:chat"
	ls := s.selfSession(L, "chat")
	t, ok := L.Get(2).(*lua.LTable)
	if !ok {
		if L.Get(2) != lua.LNil {
			s.fieldErr(L, fn, "argument", "a table {max_tokens = n, ...} or nothing", L.Get(2))
		}
		t = L.NewTable()
	}
	tools, choice := t.RawGetString("tools"), t.RawGetString("tool_choice")
	rest := t
	if tools != lua.LNil || choice != lua.LNil {
		// llm.chat's fields without the tools, which specFromTable does
		// not take. Only then: a table per turn is garbage of every step.
		rest = L.NewTable()
		for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
			switch lua.LVAsString(k) {
			case "tools", "tool_choice":
			default:
				if _, isStr := k.(lua.LString); !isStr {
					s.unknownField(L, fn, k, sessionChatFields)
				}
				rest.RawSet(k, v)
			}
		}
	}
	sp := s.specFromTable(L, fn, rest, request.Chat, sessionChatFields, false)
	ls.keep = sp.PromptTokens == 0 && len(sp.Messages) == 0
	if ls.keep {
		if len(ls.history) == 0 {
			s.raisef(L, "%s: the conversation is empty; add a message first (s:user{tokens = 200} or s:user(\"text\"))", fn)
		}
		// No copy: the executor builds the request from the spec before
		// this session runs again, and the conversation only ever grows by
		// appending (s:clear shortens it, and later appends reuse the
		// array, but only after that). The capped slice keeps any append
		// made through the spec off the conversation's array.
		sp.Messages = ls.history[:len(ls.history):len(ls.history)]
	}
	for _, f := range [...]struct {
		key string
		v   lua.LValue
	}{{"tools", tools}, {"tool_choice", choice}} {
		if f.v == lua.LNil {
			continue
		}
		if sp.Extra == nil {
			sp.Extra = map[string]any{}
		}
		sp.Extra[f.key] = s.toJSON(L, fn, f.key, f.v)
	}
	ls.step = session.Step{Kind: session.Send, Spec: *sp}
	return L.Yield()
}

// lsThink implements s:think(x): wait before the next step. x is seconds,
// a duration string ("1.5s"), or a random draw: {mean = m} (exponential),
// {min = a, max = b} (uniform), {median = m, sigma = s} (log-normal).
func (s *Script) lsThink(L *lua.LState) int {
	const fn = "s:think"
	ls := s.selfSession(L, "think")
	v := L.Get(2)
	var d time.Duration
	if t, ok := v.(*lua.LTable); ok {
		d = s.drawThink(L, fn, t, ls.rng)
	} else {
		d = s.toDuration(L, fn, "time", v)
	}
	ls.step = session.Step{Kind: session.Wait, Wait: d}
	return L.Yield()
}

// drawThink draws a think time from {mean}, {min, max} or {median, sigma}.
func (s *Script) drawThink(L *lua.LState, fn string, t *lua.LTable, rng *rand.Rand) time.Duration {
	num := func(k string) (float64, bool) {
		v := t.RawGetString(k)
		if v == lua.LNil {
			return 0, false
		}
		return s.toNumber(L, fn, k, v, false), true
	}
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		switch lua.LVAsString(k) {
		case "mean", "min", "max", "median", "sigma":
		default:
			s.unknownField(L, fn, k, []string{"mean", "min", "max", "median", "sigma"})
		}
	}
	var sec float64
	if mean, ok := num("mean"); ok {
		sec = rng.ExpFloat64() * mean
	} else if median, ok := num("median"); ok {
		sigma, _ := num("sigma")
		sec = median * math.Exp(sigma*rng.NormFloat64())
	} else {
		lo, okLo := num("min")
		hi, okHi := num("max")
		if !okLo || !okHi || hi < lo {
			s.raisef(L, "%s: give {mean = m} (exponential), {min = a, max = b} (uniform) or {median = m, sigma = s} (log-normal), in seconds", fn)
		}
		sec = lo + rng.Float64()*(hi-lo)
	}
	d, err := secondsDuration(sec)
	if err != nil {
		s.raisef(L, "%s: %v", fn, err)
	}
	return d
}

// lsMessage implements s:user(...), s:system(...), s:assistant(...): add
// a message to the conversation: a string, or {tokens = n} for synthetic
// text of n tokens (the same in every run with the same --prompt-seed).
func (s *Script) lsMessage(role string) lua.LGFunction {
	fn := "s:" + role
	return func(L *lua.LState) int {
		ls := s.selfSession(L, role)
		ls.history = append(ls.history, openai.Message{Role: role, Content: s.messageText(L, fn, ls, L.Get(2))})
		return 0
	}
}

// lsTool implements s:tool(call, result): the answer to a tool call (a
// call table of r.tool_calls, or its id) as a "tool" message.
func (s *Script) lsTool(L *lua.LState) int {
	const fn = "s:tool"
	ls := s.selfSession(L, "tool")
	var id string
	switch c := L.Get(2).(type) {
	case *lua.LTable:
		id = lua.LVAsString(c.RawGetString("id"))
	case lua.LString:
		id = string(c)
	}
	if id == "" {
		s.fieldErr(L, fn, "call", "a tool call of r.tool_calls (or its id)", L.Get(2))
	}
	ls.history = append(ls.history, openai.Message{Role: "tool", ToolCallID: id, Content: s.messageText(L, fn, ls, L.Get(3))})
	return 0
}

// lsText implements s:text{tokens = n}: synthetic text, without adding it
// to the conversation.
func (s *Script) lsText(L *lua.LState) int {
	ls := s.selfSession(L, "text")
	L.Push(lua.LString(s.messageText(L, "s:text", ls, L.Get(2))))
	return 1
}

// messageText reads a message: a string, or {tokens = n}.
func (s *Script) messageText(L *lua.LState, fn string, ls *luaSession, v lua.LValue) string {
	switch m := v.(type) {
	case lua.LString:
		return string(m)
	case *lua.LTable:
		for k, _ := m.Next(lua.LNil); k != lua.LNil; k, _ = m.Next(k) {
			if lua.LVAsString(k) != "tokens" {
				s.unknownField(L, fn, k, []string{"tokens"})
			}
		}
		n := int(s.toInt(L, fn, "tokens", m.RawGetString("tokens"), 1))
		ls.texts++
		if ls.textKey == "" {
			ls.textKey = ls.p.sc.Name + "/" + ls.sess.ID
		}
		return ls.p.text.Text(n, ls.textKey, ls.texts)
	}
	s.fieldErr(L, fn, "text", `a string, or {tokens = n} for synthetic text`, v)
	return ""
}

// toolCallsTable is a list of tool calls as Lua sees them: {id, name,
// arguments}, for an answer and for the conversation alike.
func toolCallsTable(L *lua.LState, calls []request.ToolCall) *lua.LTable {
	t := L.CreateTable(len(calls), 0)
	for _, c := range calls {
		ct := L.CreateTable(0, 3)
		ct.RawSetString("id", lua.LString(c.ID))
		ct.RawSetString("name", lua.LString(c.Name))
		ct.RawSetString("arguments", lua.LString(c.Arguments))
		t.Append(ct)
	}
	return t
}

// lsHistory implements s:history(): a copy of the conversation as a list
// of {role, content[, tool_calls][, tool_call_id]}.
func (s *Script) lsHistory(L *lua.LState) int {
	ls := s.selfSession(L, "history")
	t := L.CreateTable(len(ls.history), 0)
	for _, m := range ls.history {
		mt := L.CreateTable(0, 3)
		mt.RawSetString("role", lua.LString(m.Role))
		mt.RawSetString("content", lua.LString(m.Content))
		if m.ToolCallID != "" {
			mt.RawSetString("tool_call_id", lua.LString(m.ToolCallID))
		}
		if len(m.ToolCalls) > 0 {
			mt.RawSetString("tool_calls", toolCallsTable(L, m.ToolCalls))
		}
		t.Append(mt)
	}
	L.Push(t)
	return 1
}

// lsClear implements s:clear([keep]): forget the conversation, keeping
// its first keep messages (a system prompt, say).
func (s *Script) lsClear(L *lua.LState) int {
	ls := s.selfSession(L, "clear")
	keep := 0
	if L.Get(2) != lua.LNil {
		keep = int(s.toInt(L, "s:clear", "keep", L.Get(2), 0))
	}
	ls.history = ls.history[:min(keep, len(ls.history))]
	return 0
}

// traceTable is s.trace: the recorded turns of a replayed session, each
// {think, input_tokens, new_tokens, output_tokens, line}; nil for
// scripted sessions. new_tokens is what the turn adds to the
// conversation: for traces whose input lengths include the conversation
// so far (Mooncake), the input less the previous turn's input and output
// (at least 1).
func (ls *luaSession) traceTable() lua.LValue {
	tr := ls.sess.Trace
	if tr == nil {
		return lua.LNil
	}
	L := ls.co
	t := L.CreateTable(len(tr.Turns), 0)
	prevIn, prevOut := 0, 0
	for i, turn := range tr.Turns {
		nt := turn.InputTokens
		if ls.p.sp.cumulative && i > 0 {
			nt = max(turn.InputTokens-prevIn-prevOut, 1)
		}
		prevIn, prevOut = turn.InputTokens, turn.OutputTokens
		tt := L.CreateTable(0, 5)
		tt.RawSetString("think", lua.LNumber(turn.Think.Seconds()))
		tt.RawSetString("input_tokens", lua.LNumber(turn.InputTokens))
		tt.RawSetString("new_tokens", lua.LNumber(max(nt, 1)))
		tt.RawSetString("output_tokens", lua.LNumber(turn.OutputTokens))
		tt.RawSetString("line", lua.LNumber(turn.Line))
		t.Append(tt)
	}
	return t
}

// replaySource is the session function of a scenario that replays
// recorded sessions without one of its own.
const replaySource = `
local s = ...
for i, t in ipairs(s.trace) do
  if i > 1 then s:think(t.think) end
  s:user{tokens = t.new_tokens}
  local r = s:chat{max_tokens = t.output_tokens, ignore_eos = t.output_tokens > 0}
  if not r.ok then return end
end
`
