package scripting

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/load/trace"
)

// extState is the Script's state for arrivals, hooks and custom metrics.
// After loading it is only touched under Script.mu.
type extState struct {
	metrics  map[string]*customMetric
	metricMT *lua.LTable
	// current is the scenario whose hook is running, the default target
	// of llm.set_rate.
	current *Scenario
}

// extendModule adds to the llmload module: llm.arrivals.stages and
// custom, llm.synth.azure_code, llm.counter, llm.trend, llm.set_rate and
// llm.get_rate.
func (s *Script) extendModule(L *lua.LState, mod *lua.LTable) {
	s.x.metricMT = s.metricMetatable(L)
	if arr, ok := mod.RawGetString("arrivals").(*lua.LTable); ok {
		arr.RawSetString("stages", L.NewFunction(s.larrivalsStages))
		arr.RawSetString("custom", L.NewFunction(s.larrivalsCustom))
	}
	if syn, ok := mod.RawGetString("synth").(*lua.LTable); ok {
		syn.RawSetString("azure_code", L.NewFunction(s.lsynth("azure_code", trace.SynthAzureCode)))
	}
	for name, f := range map[string]lua.LGFunction{
		"counter": s.lcounter, "trend": s.ltrend,
		"set_rate": s.lsetRate, "get_rate": s.lgetRate,
	} {
		mod.RawSetString(name, L.NewFunction(f))
	}
}

// extScenarioFields are the llm.scenario fields scenarioField reads.
var extScenarioFields = []string{"slo", "warmup", "setup", "on_response", "on_window", "teardown"}

// scenarioField reads one of extScenarioFields into sc; it returns false
// for any other key.
func (s *Script) scenarioField(L *lua.LState, fn string, sc *Scenario, key lua.LValue, v lua.LValue) bool {
	name, _ := key.(lua.LString)
	switch name {
	case "slo":
		sc.SLO = s.toSLO(L, fn, v)
	case "warmup":
		s.toWarmup(L, fn, v, sc)
	case "setup", "on_response", "on_window", "teardown":
		f, ok := v.(*lua.LFunction)
		if !ok {
			s.fieldErr(L, fn, string(name), "a function", v)
		}
		if sc.Hooks == nil {
			sc.Hooks = s.newHooks(sc)
		}
		switch name {
		case "setup":
			sc.Hooks.setup = f
		case "on_response":
			sc.Hooks.onResponse = f
		case "on_window":
			sc.Hooks.onWindow = f
		default:
			sc.Hooks.teardown = f
		}
	default:
		return false
	}
	return true
}
