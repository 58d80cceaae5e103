package scripting

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"

	lua "github.com/yuin/gopher-lua"
)

// maxTrendSamples bounds the values a trend keeps for its percentiles
// (8 MiB); past it, a uniform reservoir sample of them is kept. Count,
// mean, min and max stay exact.
const maxTrendSamples = 1 << 20

var metricNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// customMetric is an llm.counter or llm.trend. It is only touched under
// the script's lock (from Lua code) or while loading.
type customMetric struct {
	name  string
	trend bool

	total float64 // counter

	n             int64 // trend
	sum, min, max float64
	samples       []float64
	rng           *rand.Rand // reservoir sampling once samples is full
}

func (m *customMetric) add(v float64) {
	if !m.trend {
		m.total += v
		return
	}
	m.n++
	m.sum += v
	if m.n == 1 || v < m.min {
		m.min = v
	}
	if m.n == 1 || v > m.max {
		m.max = v
	}
	if len(m.samples) < maxTrendSamples {
		m.samples = append(m.samples, v)
		return
	}
	if j := m.rng.Int64N(m.n); j < maxTrendSamples {
		m.samples[j] = v
	}
}

// value is the metric as CustomMetrics reports it.
func (m *customMetric) value() map[string]any {
	if !m.trend {
		return map[string]any{"type": "counter", "value": m.total}
	}
	out := map[string]any{"type": "trend", "count": m.n}
	if m.n == 0 {
		return out
	}
	sorted := slices.Clone(m.samples)
	slices.Sort(sorted)
	// Nearest rank, as the recorder's percentiles.
	q := func(p float64) float64 {
		rank := int(math.Floor(p/100*float64(len(sorted)) + 0.5))
		return sorted[min(max(rank, 1), len(sorted))-1]
	}
	out["mean"] = m.sum / float64(m.n)
	out["min"], out["max"] = m.min, m.max
	out["p50"], out["p90"], out["p95"], out["p99"] = q(50), q(90), q(95), q(99)
	return out
}

// CustomMetrics returns the values of the script's llm.counter and
// llm.trend metrics by name: {"type": "counter", "value": total} or
// {"type": "trend", "count": n, "mean", "min", "max", "p50", "p90", "p95",
// "p99"} (only "count" when nothing was added). It is meant for
// summary.json's "custom" object; the map is the caller's. Safe for
// concurrent use (it takes the script's lock).
func (s *Script) CustomMetrics() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]any, len(s.x.metrics))
	for name, m := range s.x.metrics {
		out[name] = m.value()
	}
	return out
}

// lcounter and ltrend implement llm.counter(name) and llm.trend(name). The
// same name gives the same metric, so a hook may look one up again.
func (s *Script) lcounter(L *lua.LState) int { return s.newMetric(L, "llm.counter", false) }
func (s *Script) ltrend(L *lua.LState) int   { return s.newMetric(L, "llm.trend", true) }

func (s *Script) newMetric(L *lua.LState, fn string, trend bool) int {
	name, ok := L.Get(1).(lua.LString)
	if !ok || !metricNameRE.MatchString(string(name)) {
		s.raisef(L, "%s takes a name of letters, digits, '_' and '.', got %s", fn, describe(L.Get(1)))
	}
	m := s.x.metrics[string(name)]
	switch {
	case m == nil:
		m = &customMetric{name: string(name), trend: trend}
		if trend {
			m.rng = rand.New(rand.NewPCG(s.env.Seed, uint64(len(s.x.metrics))))
		}
		if s.x.metrics == nil {
			s.x.metrics = map[string]*customMetric{}
		}
		s.x.metrics[string(name)] = m
	case m.trend != trend:
		s.raisef(L, "%s(%q): %q is already a %s", fn, string(name), string(name), m.kind())
	}
	ud := L.NewUserData()
	ud.Value = m
	ud.Metatable = s.x.metricMT
	L.Push(ud)
	return 1
}

func (m *customMetric) kind() string {
	if m.trend {
		return "trend"
	}
	return "counter"
}

// metricMethods builds the metatable of metric values: m:add(v),
// m:value() (a counter's total) and m:stats() (a trend's table).
func (s *Script) metricMetatable(L *lua.LState) *lua.LTable {
	check := func(L *lua.LState, method string) *customMetric {
		ud, ok := L.Get(1).(*lua.LUserData)
		if ok {
			if m, ok := ud.Value.(*customMetric); ok {
				return m
			}
		}
		s.raisef(L, "%s must be called with a colon: m:%s(...)", method, method)
		return nil
	}
	methods := L.NewTable()
	methods.RawSetString("add", L.NewFunction(func(L *lua.LState) int {
		m := check(L, "add")
		v := 1.0
		if L.Get(2) != lua.LNil || m.trend {
			n, ok := L.Get(2).(lua.LNumber)
			if !ok || math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
				s.raisef(L, "%s %q: add takes a finite number, got %s", m.kind(), m.name, describe(L.Get(2)))
			}
			v = float64(n)
		}
		m.add(v)
		return 0
	}))
	methods.RawSetString("value", L.NewFunction(func(L *lua.LState) int {
		m := check(L, "value")
		if m.trend {
			L.Push(lua.LNumber(m.n))
		} else {
			L.Push(lua.LNumber(m.total))
		}
		return 1
	}))
	methods.RawSetString("stats", L.NewFunction(func(L *lua.LState) int {
		m := check(L, "stats")
		t := L.NewTable()
		for k, v := range m.value() {
			switch v := v.(type) {
			case float64:
				t.RawSetString(k, lua.LNumber(v))
			case int64:
				t.RawSetString(k, lua.LNumber(v))
			case string:
				t.RawSetString(k, lua.LString(v))
			}
		}
		L.Push(t)
		return 1
	}))
	mt := L.NewTable()
	mt.RawSetString("__index", methods)
	mt.RawSetString("__metatable", lua.LString("llmload"))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		m := check(L, "tostring")
		L.Push(lua.LString(fmt.Sprintf("llm.%s(%q)", m.kind(), m.name)))
		return 1
	}))
	return mt
}
