package scripting

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/load/capacity"
)

var capacityFields = []string{"by", "arrivals", "burstiness", "seed", "start", "max", "min", "precision", "growth",
	"max_steps", "goodput", "warmup", "min_time", "min_requests", "max_time", "drain", "max_lag", "max_queue", "saturation"}

// capacityField reads llm.scenario's capacity = {...} (a capacity search,
// engine/load/capacity) into sc; it returns false for any other key.
func (s *Script) capacityField(L *lua.LState, fn string, sc *Scenario, key string, v lua.LValue) bool {
	if key != "capacity" {
		return false
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		s.fieldErr(L, fn, "capacity", `a table {by = "rate", start = 1, max = 64, precision = 0.1}`, v)
	}
	fn += ": capacity"
	c := &capacity.Config{Seed: s.env.Seed}
	haveStart, haveMax := false, false
	for k, val := t.Next(lua.LNil); k != lua.LNil; k, val = t.Next(k) {
		name, _ := k.(lua.LString)
		switch name {
		case "by":
			c.By = s.toString(L, fn, "by", val)
			if c.By != capacity.ByRate && c.By != capacity.ByConcurrency && c.By != capacity.ByUsers {
				s.raisef(L, "%s: by = %q: want \"rate\" (open loop, requests per second), \"concurrency\" (closed loop, requests in flight) or \"users\" (closed-loop session users)", fn, c.By)
			}
		case "arrivals":
			c.Arrivals = s.toString(L, fn, "arrivals", val)
			switch c.Arrivals {
			case capacity.ArrivalsPoisson, capacity.ArrivalsConstant, capacity.ArrivalsGamma:
			default:
				s.raisef(L, "%s: arrivals = %q: want \"poisson\", \"constant\" or \"gamma\"", fn, c.Arrivals)
			}
		case "burstiness":
			c.Burstiness = s.toNumber(L, fn, "burstiness", val, true)
		case "seed":
			c.Seed = s.toSeed(L, fn, val)
		case "start":
			c.Search.Start, haveStart = s.toNumber(L, fn, "start", val, true), true
		case "max":
			c.Search.Max, haveMax = s.toNumber(L, fn, "max", val, true), true
		case "min":
			c.Search.Min = s.toNumber(L, fn, "min", val, true)
		case "precision":
			c.Search.Precision = s.toNumber(L, fn, "precision", val, true)
		case "growth":
			c.Search.Growth = s.toNumber(L, fn, "growth", val, true)
			if c.Search.Growth <= 1 {
				s.raisef(L, "%s: growth = %v must be above 1 (2 doubles the level each step)", fn, c.Search.Growth)
			}
		case "max_steps":
			c.Search.MaxSteps = int(s.toInt(L, fn, "max_steps", val, 1))
		case "goodput":
			c.Goodput = s.toNumber(L, fn, "goodput", val, true)
			if c.Goodput > 1 {
				s.raisef(L, "%s: goodput = %v is a fraction of requests in (0, 1], such as 0.99", fn, c.Goodput)
			}
		case "warmup":
			c.Warmup = s.toDuration(L, fn, "warmup", val)
		case "min_time":
			c.MinTime = s.toDuration(L, fn, "min_time", val)
		case "min_requests":
			c.MinRequests = s.toInt(L, fn, "min_requests", val, 1)
		case "max_time":
			c.MaxTime = s.toDuration(L, fn, "max_time", val)
		case "drain":
			c.Drain = s.toDuration(L, fn, "drain", val)
		case "max_lag":
			c.MaxLag = s.toDuration(L, fn, "max_lag", val)
		case "max_queue":
			c.MaxQueue = s.toDuration(L, fn, "max_queue", val)
		case "saturation":
			c.Saturation.Off = !s.toBool(L, fn, "saturation", val)
		default:
			s.unknownField(L, fn, k, capacityFields)
		}
	}
	if !haveStart || !haveMax {
		s.raisef(L, "%s needs start and max: the first level and the highest one tried, e.g. {start = 1, max = 256}", fn)
	}
	if c.Search.Max < c.Search.Start {
		s.raisef(L, "%s: max = %v is below start = %v", fn, c.Search.Max, c.Search.Start)
	}
	sc.Capacity = c
	return true
}

// checkCapacity refuses what a capacity scenario cannot have, once all of
// llm.scenario's fields are read.
func (s *Script) checkCapacity(L *lua.LState, fn string, sc *Scenario, sess *sessionFields, arrivals bool) {
	c := sc.Capacity
	if c == nil {
		return
	}
	if sess.any && c.By == "" {
		c.By = capacity.ByUsers // a session scenario's search steps its users
	}
	switch {
	case sess.any && c.By != capacity.ByUsers:
		s.raisef(L, "%s: a session scenario's capacity search steps its users: capacity.by = \"users\" (by %s needs a source and a request function instead of session)", fn, c.By)
	case !sess.any && c.By == capacity.ByUsers:
		s.raisef(L, "%s: capacity by users steps session users: add session = function(s) ... end (or search by \"rate\" or \"concurrency\")", fn)
	case sess.any && (sess.users > 0 || sess.ramp != nil):
		s.raisef(L, "%s: capacity by users sets the number of users itself (from capacity.start up to capacity.max); remove users", fn)
	case sess.any && (sess.iterations > 0 || sess.src != nil):
		s.raisef(L, "%s: capacity by users runs session = function(s) ... end for each user until the step ends; remove iterations and sessions", fn)
	case arrivals:
		s.raisef(L, "%s: capacity sets the arrivals itself (capacity.arrivals = \"poisson\", \"constant\" or \"gamma\"); remove arrivals", fn)
	case !sc.SLO.IsSet():
		s.raisef(L, "%s: capacity needs an SLO to judge its steps: slo = {ttft = \"1s\", tpot = \"100ms\"}", fn)
	case c.Search.Start != float64(int64(c.Search.Start)) && (c.By == capacity.ByConcurrency || c.By == capacity.ByUsers):
		s.raisef(L, "%s: capacity by %s: start = %v must be a whole number", fn, c.By, c.Search.Start)
	}
	sc.Arrivals = fmt.Sprintf("capacity search by %s", ifEmpty(c.By, capacity.ByRate))
}

func ifEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
