package scripting

import (
	"fmt"
	"math"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/load/pace"
)

var stagesFields = []string{"start_rate", "poisson", "seed"}

// larrivalsStages implements llm.arrivals.stages{ {rate = r, duration = d},
// ..., start_rate = r0, poisson = false, seed = n }: k6's ramping arrival
// rate, each stage ramping linearly from the previous rate to its own.
func (s *Script) larrivalsStages(L *lua.LState) int {
	const fn = "llm.arrivals.stages"
	t := s.argTable(L, fn, false)
	var (
		start   float64
		poisson bool
		seed    = s.env.Seed
		seedSet bool
		stages  []pace.Stage
	)
	n := t.Len()
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		if i, isNum := k.(lua.LNumber); isNum && float64(i) == math.Trunc(float64(i)) && i >= 1 && int(i) <= n {
			continue // a stage, read in order below
		}
		switch key, _ := k.(lua.LString); key {
		case "start_rate":
			start = s.toNumber(L, fn, "start_rate", v, false)
		case "poisson":
			poisson = s.toBool(L, fn, "poisson", v)
		case "seed":
			seed, seedSet = s.toSeed(L, fn, v), true
		default:
			if _, isStr := k.(lua.LString); !isStr {
				s.raisef(L, "%s: stages are a list {{rate = 10, duration = \"30s\"}, ...}; got key %s", fn, describe(k))
			}
			s.unknownField(L, fn, k, stagesFields)
		}
	}
	if n == 0 {
		s.raisef(L, "%s needs at least one stage: %s{ {rate = 10, duration = \"30s\"}, ... }", fn, fn)
	}
	if seedSet && !poisson {
		s.raisef(L, "%s: seed only matters with poisson = true", fn)
	}
	var desc strings.Builder
	fmt.Fprintf(&desc, "stages{start_rate=%g", start)
	for i := 1; i <= n; i++ {
		st := s.stage(L, fn, i, t.RawGetInt(i))
		stages = append(stages, st)
		fmt.Fprintf(&desc, ", {rate=%g, duration=%v}", st.Rate, st.Duration)
	}
	if poisson {
		fmt.Fprintf(&desc, ", poisson=true, seed=%d", seed)
	}
	desc.WriteString("}")
	var sch pace.Schedule
	var err error
	if poisson {
		sch, err = pace.StagesPoisson(start, stages, seed)
	} else {
		sch, err = pace.Stages(start, stages)
	}
	if err != nil { // the checks above cover pace's; keep its words if not
		s.raisef(L, "%s: %v", fn, err)
	}
	return s.newSchedule(L, sch, desc.String())
}

// stage reads one {rate = r, duration = d} (k6's target is accepted for
// rate).
func (s *Script) stage(L *lua.LState, fn string, i int, v lua.LValue) pace.Stage {
	field := fmt.Sprintf("stage %d", i)
	t, ok := v.(*lua.LTable)
	if !ok {
		s.fieldErr(L, fn, field, `a table {rate = 10, duration = "30s"}`, v)
	}
	var st pace.Stage
	var haveRate, haveDur bool
	for k, val := t.Next(lua.LNil); k != lua.LNil; k, val = t.Next(k) {
		switch key, _ := k.(lua.LString); key {
		case "rate", "target":
			if haveRate {
				s.raisef(L, "%s: %s sets its rate twice (rate and target are the same field)", fn, field)
			}
			st.Rate, haveRate = s.toNumber(L, fn, field+" "+string(key), val, false), true
		case "duration":
			st.Duration, haveDur = s.toDuration(L, fn, field+" duration", val), true
		default:
			s.unknownField(L, fn+": "+field, k, []string{"rate", "duration"})
		}
	}
	if !haveRate || !haveDur {
		s.raisef(L, "%s: %s needs rate and duration: {rate = 10, duration = \"30s\"}", fn, field)
	}
	return st
}

// larrivalsCustom implements llm.arrivals.custom(function(n, t) ... end):
// the function returns the gap in seconds before arrival n (0, 1, ...),
// whose predecessor was due at t seconds, or nil to end the schedule. It
// runs on the planner goroutine under the script's lock.
func (s *Script) larrivalsCustom(L *lua.LState) int {
	const fn = "llm.arrivals.custom"
	f, ok := L.Get(1).(*lua.LFunction)
	if !ok {
		s.raisef(L, "%s takes a function(n, t) returning the next gap in seconds (or nil to end), got %s", fn, describe(L.Get(1)))
	}
	ud := &scheduleUD{desc: fmt.Sprintf("custom(function at line %d)", f.Proto.LineDefined)}
	ud.sch = pace.NewFunc(func(n int64, at time.Duration) (time.Duration, bool, error) {
		return s.callGap(f, ud, n, at)
	})
	lud := L.NewUserData()
	lud.Value = ud
	lud.Metatable = s.mt.schedule
	L.Push(lud)
	return 1
}

// callGap calls a custom arrival function for arrival n.
func (s *Script) callGap(f *lua.LFunction, ud *scheduleUD, n int64, at time.Duration) (time.Duration, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	what := "arrival function of " + ud.usedBy
	ret, err := s.call(f, what, lua.LNumber(n), lua.LNumber(at.Seconds()))
	if err != nil {
		return 0, false, err
	}
	switch v := ret.(type) {
	case *lua.LNilType:
		return 0, false, nil
	case lua.LNumber:
		g := float64(v)
		if math.IsNaN(g) || g < 0 || math.IsInf(g, 0) {
			return 0, false, &Error{File: s.Path, Line: f.Proto.LineDefined, Msg: fmt.Sprintf(
				"%s returned %v for arrival %d; a gap is a finite number of seconds >= 0", what, g, n)}
		}
		d, _ := secondsDuration(g)
		return d, true, nil
	}
	return 0, false, &Error{File: s.Path, Line: f.Proto.LineDefined, Msg: fmt.Sprintf(
		"%s returned %s for arrival %d; it must return the gap in seconds (a number) or nil to end", what, describe(ret), n)}
}

// lsetRate implements llm.set_rate(rate [, scenario]): it changes the mean
// rate of a constant, poisson or gamma schedule while the run goes, and
// returns the previous rate. Without a name it is the scenario whose hook
// is running, or the only scenario with such a schedule.
func (s *Script) lsetRate(L *lua.LState) int {
	const fn = "llm.set_rate"
	rate := s.toNumber(L, fn, "rate", L.Get(1), true)
	rs, name := s.rateSetter(L, fn, 2)
	prev := rs.Rate()
	if err := rs.SetRate(rate); err != nil {
		s.raisef(L, "%s: scenario %q: %v", fn, name, err)
	}
	L.Push(lua.LNumber(prev))
	return 1
}

// lgetRate implements llm.get_rate([scenario]).
func (s *Script) lgetRate(L *lua.LState) int {
	rs, _ := s.rateSetter(L, "llm.get_rate", 1)
	L.Push(lua.LNumber(rs.Rate()))
	return 1
}

// rateSetter finds the schedule llm.set_rate and llm.get_rate act on; the
// optional scenario name is argument arg.
func (s *Script) rateSetter(L *lua.LState, fn string, arg int) (pace.RateSetter, string) {
	if s.loading {
		s.raisef(L, "%s works while the run goes (from a hook or a request function); at load time give the rate to llm.arrivals", fn)
	}
	var sc *Scenario
	switch v := L.Get(arg).(type) {
	case lua.LString:
		for _, c := range s.Scenarios {
			if c.Name == string(v) {
				sc = c
			}
		}
		if sc == nil {
			s.raisef(L, "%s: no scenario named %q (scenarios: %s)", fn, string(v), strings.Join(s.scenarioNames(), ", "))
		}
	case *lua.LNilType:
		sc = s.x.current
		if sc == nil {
			var cands []*Scenario
			for _, c := range s.Scenarios {
				if _, ok := c.Schedule.(pace.RateSetter); ok {
					cands = append(cands, c)
				}
			}
			switch len(cands) {
			case 0:
				s.raisef(L, "%s: no scenario has an arrival schedule whose rate can change (constant, poisson or gamma)", fn)
			case 1:
				sc = cands[0]
			default:
				s.raisef(L, "%s: several scenarios could be meant; name one: %s(rate, \"%s\")", fn, fn, cands[0].Name)
			}
		}
	default:
		s.fieldErr(L, fn, "the scenario", "a scenario name", v)
	}
	rs, ok := sc.Schedule.(pace.RateSetter)
	if !ok {
		s.raisef(L, "%s: the arrivals of scenario %q (%s) have no single rate to change; use llm.arrivals.constant, poisson or gamma",
			fn, sc.Name, sc.Arrivals)
	}
	return rs, sc.Name
}

func (s *Script) scenarioNames() []string {
	out := make([]string, len(s.Scenarios))
	for i, sc := range s.Scenarios {
		out[i] = sc.Name
	}
	return out
}
