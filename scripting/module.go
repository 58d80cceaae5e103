package scripting

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/trace"
)

// sourceUD is a source value in Lua (llm.trace.*, llm.synth.*).
type sourceUD struct {
	src    trace.Source // nil for a trace file in Help mode
	desc   string
	usedBy string // the scenario that took it, for messages
}

// scheduleUD is an arrival schedule value in Lua (llm.arrivals.*).
type scheduleUD struct {
	sch    pace.Schedule
	desc   string
	usedBy string
}

// scenarioUD is the value of llm.scenario{...}.
type scenarioUD struct {
	sc *Scenario
}

type metatables struct {
	spec, source, schedule, scenario, null *lua.LTable
}

// newModule builds the llmload module table.
func (s *Script) newModule(L *lua.LState) *lua.LTable {
	newMT := func(tostring lua.LGFunction) *lua.LTable {
		mt := L.NewTable()
		mt.RawSetString("__tostring", L.NewFunction(tostring))
		mt.RawSetString("__metatable", lua.LString("llmload")) // getmetatable cannot tamper with it
		return mt
	}
	tostring := func(f func(v any) string) *lua.LTable {
		return newMT(func(L *lua.LState) int {
			L.Push(lua.LString(f(L.CheckUserData(1).Value)))
			return 1
		})
	}
	s.mt.spec = newMT(specString)
	s.mt.spec.RawSetString("__index", L.NewFunction(s.specIndex))
	s.mt.source = tostring(func(v any) string { return "source: " + v.(*sourceUD).desc })
	s.mt.schedule = tostring(func(v any) string { return "llm.arrivals." + v.(*scheduleUD).desc })
	s.mt.scenario = tostring(func(v any) string { return "scenario " + v.(*scenarioUD).sc.Name })
	s.mt.null = tostring(func(any) string { return "llm.null" })

	fns := func(m map[string]lua.LGFunction) *lua.LTable {
		t := L.NewTable()
		for k, f := range m {
			t.RawSetString(k, L.NewFunction(f))
		}
		return t
	}
	mod := fns(map[string]lua.LGFunction{
		"options":    s.lopts,
		"chat":       s.lchat,
		"completion": s.lcompletion,
		"scenario":   s.lscenario,
	})
	mod.RawSetString("trace", fns(map[string]lua.LGFunction{"azure": s.ltraceAzure}))
	mod.RawSetString("synth", fns(map[string]lua.LGFunction{"azure_conv": s.lsynth("azure_conv", trace.SynthAzureConv)}))
	mod.RawSetString("arrivals", fns(map[string]lua.LGFunction{
		"replay":   s.larrivalsReplay,
		"constant": s.larrivalsConstant,
		"poisson":  s.larrivalsPoisson,
		"gamma":    s.larrivalsGamma,
	}))
	s.extendModule(L, mod)   // arrivals.stages/custom, synth.azure_code, counter, trend, set_rate (ext.go)
	s.extendSources(L, mod)  // trace.burstgpt/mooncake/csv/jsonl, llm.source, source methods (sources.go)
	s.extendSessions(L, mod) // llm.users, trace.mooncake_sessions/sessions, session objects (session.go)
	null := L.NewUserData()
	null.Value = nullValue{}
	null.Metatable = s.mt.null
	mod.RawSetString("null", null)
	mod.RawSetString("seed", lua.LNumber(s.env.Seed))
	mod.RawSetString("help", lua.LBool(s.env.Help))
	return mod
}

// loadTime refuses module functions that open things while the run is
// already going (from a request function).
func (s *Script) loadTime(L *lua.LState, fn string) {
	if !s.loading {
		s.raisef(L, "%s must be called while the script loads, not from a request function", fn)
	}
}

func (s *Script) newSource(L *lua.LState, src trace.Source, desc string) int {
	u := &sourceUD{src: src, desc: desc}
	s.sources = append(s.sources, u)
	ud := L.NewUserData()
	ud.Value = u
	ud.Metatable = s.mt.source
	L.Push(ud)
	return 1
}

// ltraceAzure implements llm.trace.azure(path [, {skip_bad = bool}]).
func (s *Script) ltraceAzure(L *lua.LState) int {
	const fn = "llm.trace.azure"
	s.loadTime(L, fn)
	path, ok := L.Get(1).(lua.LString)
	if !ok || path == "" {
		s.raisef(L, "%s takes the path of an Azure trace CSV, got %s", fn, describe(L.Get(1)))
	}
	opt := trace.Options{SkipBad: s.env.SkipBad}
	if t, ok := L.Get(2).(*lua.LTable); ok {
		for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
			switch lua.LVAsString(k) {
			case "skip_bad":
				opt.SkipBad = s.toBool(L, fn, "skip_bad", v)
			default:
				s.unknownField(L, fn, k, []string{"skip_bad"})
			}
		}
	} else if L.Get(2) != lua.LNil {
		s.raisef(L, "%s: the second argument must be a table {skip_bad = true}, got %s", fn, describe(L.Get(2)))
	}
	desc := "azure trace " + string(path)
	if s.env.Help {
		return s.newSource(L, nil, desc)
	}
	r, err := trace.OpenAzure(s.allowedPath(L, fn, string(path)), opt)
	if err != nil {
		s.raise(L, true, err) // the reader's errors name the trace and the file
	}
	return s.newSource(L, r, desc)
}

func (s *Script) newSchedule(L *lua.LState, sch pace.Schedule, desc string) int {
	ud := L.NewUserData()
	ud.Value = &scheduleUD{sch: sch, desc: desc}
	ud.Metatable = s.mt.schedule
	L.Push(ud)
	return 1
}

// larrivalsReplay implements llm.arrivals.replay{speedup = x}: the
// source's own timestamps, gaps divided by speedup.
func (s *Script) larrivalsReplay(L *lua.LState) int {
	const fn = "llm.arrivals.replay"
	speedup := 1.0
	if t := s.argTable(L, fn, true); t != nil {
		for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
			switch lua.LVAsString(k) {
			case "speedup":
				speedup = s.toNumber(L, fn, "speedup", v, true)
			default:
				s.unknownField(L, fn, k, []string{"speedup"})
			}
		}
	}
	return s.newSchedule(L, pace.Replay(speedup), fmt.Sprintf("replay{speedup=%g}", speedup))
}

// rateArgs reads {rate = r, seed = n, burstiness = b} for the rate-driven
// schedules; known lists the fields fn takes besides rate.
func (s *Script) rateArgs(L *lua.LState, fn string, known ...string) (rate float64, seed uint64, burstiness float64) {
	seed, burstiness = s.env.Seed, 1
	known = append([]string{"rate"}, known...)
	t := s.argTable(L, fn, false)
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		key := lua.LVAsString(k)
		if _, isStr := k.(lua.LString); !isStr || !slices.Contains(known, key) {
			s.unknownField(L, fn, k, known)
		}
		switch key {
		case "rate":
			rate = s.toNumber(L, fn, "rate", v, true)
		case "seed":
			seed = s.toSeed(L, fn, v)
		case "burstiness":
			burstiness = s.toNumber(L, fn, "burstiness", v, true)
		}
	}
	if rate == 0 {
		s.raisef(L, "%s: rate (requests per second) is required", fn)
	}
	return rate, seed, burstiness
}

// larrivalsConstant implements llm.arrivals.constant{rate = r}.
func (s *Script) larrivalsConstant(L *lua.LState) int {
	rate, _, _ := s.rateArgs(L, "llm.arrivals.constant")
	return s.newSchedule(L, pace.Constant(rate), fmt.Sprintf("constant{rate=%g}", rate))
}

// larrivalsPoisson implements llm.arrivals.poisson{rate = r, seed = n}.
func (s *Script) larrivalsPoisson(L *lua.LState) int {
	rate, seed, _ := s.rateArgs(L, "llm.arrivals.poisson", "seed")
	return s.newSchedule(L, pace.Poisson(rate, seed), fmt.Sprintf("poisson{rate=%g, seed=%d}", rate, seed))
}

// larrivalsGamma implements llm.arrivals.gamma{rate = r, burstiness = b,
// seed = n}: gamma-distributed gaps as in vLLM's benchmark.
func (s *Script) larrivalsGamma(L *lua.LState) int {
	rate, seed, b := s.rateArgs(L, "llm.arrivals.gamma", "burstiness", "seed")
	return s.newSchedule(L, pace.Gamma(rate, b, seed), fmt.Sprintf("gamma{rate=%g, burstiness=%g, seed=%d}", rate, b, seed))
}

var (
	scenarioFields = slices.Concat([]string{"name", "source", "arrivals", "concurrency", "on_full", "limit", "duration",
		"request", "thresholds", "url", "model"}, extScenarioFields, sessionScenarioFields, []string{"capacity"})
	scenarioNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// lscenario implements llm.scenario{...}.
func (s *Script) lscenario(L *lua.LState) int {
	const fn = "llm.scenario"
	s.loadTime(L, fn)
	t := s.argTable(L, fn, false)
	_, line := callerPos(L)
	sc := &Scenario{Line: line}
	sc.Hooks = s.newHooks(sc)
	var src *sourceUD
	var sch *scheduleUD
	var request *lua.LFunction
	var sess sessionFields
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		switch lua.LVAsString(k) {
		case "name":
			sc.Name = s.toString(L, fn, "name", v)
			if !scenarioNameRE.MatchString(sc.Name) {
				s.raisef(L, "%s: name %q must be letters, digits, '.', '_' or '-' (it names result files)", fn, sc.Name)
			}
		case "source":
			v = s.funcSourceValue(L, v) // a function(i) is a source too (sources.go)
			ud, _ := v.(*lua.LUserData)
			if ud != nil {
				src, _ = ud.Value.(*sourceUD)
			}
			if src == nil {
				s.fieldErr(L, fn, "source", "a source (llm.trace.azure(path) or llm.synth.azure_conv())", v)
			}
		case "arrivals":
			ud, _ := v.(*lua.LUserData)
			if ud != nil {
				sch, _ = ud.Value.(*scheduleUD)
			}
			if sch == nil {
				s.fieldErr(L, fn, "arrivals", "an arrival schedule (llm.arrivals.replay{...}, constant{...}, poisson{...}, gamma{...}, stages{...} or custom(f))", v)
			}
		case "concurrency":
			sc.Concurrency = int(s.toInt(L, fn, "concurrency", v, 1))
		case "on_full":
			sc.OnFull = s.toString(L, fn, "on_full", v)
			if sc.OnFull != "queue" && sc.OnFull != "drop" {
				s.raisef(L, "%s: on_full must be \"queue\" or \"drop\", got %q", fn, sc.OnFull)
			}
		case "limit":
			sc.Limit = s.toInt(L, fn, "limit", v, 0)
		case "duration":
			sc.Duration = s.toDuration(L, fn, "duration", v)
		case "request":
			f, ok := v.(*lua.LFunction)
			if !ok {
				s.fieldErr(L, fn, "request", "a function(row) returning llm.chat{...} or llm.completion{...}", v)
			}
			request = f
		case "thresholds":
			sc.Thresholds = s.toThresholds(L, fn, v)
		case "url":
			sc.URL = s.toString(L, fn, "url", v)
			if u, err := url.Parse(sc.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				s.raisef(L, "%s: url %q must be an http:// or https:// URL", fn, sc.URL)
			}
		case "model":
			sc.Model = s.toString(L, fn, "model", v)
		default:
			// slo, warmup, hooks (ext.go); session fields (session.go)
			// capacity (capacity.go)
			if !s.scenarioField(L, fn, sc, k, v) && !s.sessionField(L, fn, &sess, lua.LVAsString(k), v) &&
				!s.capacityField(L, fn, sc, lua.LVAsString(k), v) {
				s.unknownField(L, fn, k, scenarioFields)
			}
		}
	}
	s.checkCapacity(L, fn, sc, &sess, sch != nil)
	if sess.any {
		return s.sessionScenario(L, fn, sc, &sess, src, sch, request, line)
	}
	if src == nil {
		s.raisef(L, "%s: source is required (llm.trace.azure(path) or llm.synth.azure_conv())", fn)
	}
	if src.usedBy != "" {
		s.raisef(L, "%s: this source is already read by %s; a source is a stream, so open another for each scenario", fn, src.usedBy)
	}
	if sch == nil {
		sch = &scheduleUD{sch: pace.Replay(1), desc: "replay{speedup=1}"}
	} else if sch.usedBy != "" {
		s.raisef(L, "%s: this arrival schedule is already used by %s; call llm.arrivals again for each scenario", fn, sch.usedBy)
	}
	owner := fmt.Sprintf("scenario %q", sc.Name)
	if sc.Name == "" {
		owner = fmt.Sprintf("the scenario at line %d", line)
	}
	src.usedBy, sch.usedBy = owner, owner
	sc.Source, sc.Schedule, sc.Arrivals = src.src, sch.sch, sch.desc
	if request != nil {
		sc.Mapper = s.newLuaMapper(sc, request)
	} else {
		sc.Mapper = DefaultMapper{}
	}
	ud := L.NewUserData()
	ud.Value = &scenarioUD{sc: sc}
	ud.Metatable = s.mt.scenario
	L.Push(ud)
	return 1
}

// toDuration reads "30s" (or "90" seconds as a string) or a number of seconds.
func (s *Script) toDuration(L *lua.LState, fn, field string, v lua.LValue) time.Duration {
	var d time.Duration
	var err error
	switch v := v.(type) {
	case lua.LNumber:
		d, err = secondsDuration(float64(v))
	case lua.LString:
		d, err = parseDuration(string(v))
	default:
		s.fieldErr(L, fn, field, `a duration ("30s", "2m") or a number of seconds`, v)
	}
	if err != nil {
		s.raisef(L, "%s: %s: %v", fn, field, err)
	}
	return d
}
