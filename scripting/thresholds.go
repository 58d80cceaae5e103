package scripting

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/engine/results/threshold"
)

// toThresholds reads llm.scenario's thresholds: a list whose items are
// expressions ("ttft p95 < 2s") or tables {"error_rate < 1%", abort_on_fail
// = true, delay_abort_eval = "10s"}. Each expression is parsed now, so a
// typo stops the load at the scenario's line rather than after the run.
func (s *Script) toThresholds(L *lua.LState, fn string, v lua.LValue) []threshold.Threshold {
	t, ok := v.(*lua.LTable)
	if !ok {
		s.fieldErr(L, fn, "thresholds", `a list {"ttft p95 < 2s", {"error_rate < 1%", abort_on_fail = true}}`, v)
	}
	n := t.Len()
	count := 0
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		count++
	}
	if count != n {
		s.raisef(L, "%s: thresholds must be a list {\"ttft p95 < 2s\", ...}, not a table with named fields", fn)
	}
	out := make([]threshold.Threshold, 0, n)
	for i := 1; i <= n; i++ {
		field := fmt.Sprintf("thresholds[%d]", i)
		var th threshold.Threshold
		switch item := t.RawGetInt(i).(type) {
		case lua.LString:
			th = s.parseThreshold(L, fn, field, string(item))
		case *lua.LTable:
			th = s.thresholdTable(L, fn, field, item)
		default:
			s.fieldErr(L, fn, field, `a string like "ttft p95 < 2s" or a table {"ttft p95 < 2s", abort_on_fail = true}`, item)
		}
		out = append(out, th)
	}
	return out
}

func (s *Script) parseThreshold(L *lua.LState, fn, field, expr string) threshold.Threshold {
	if strings.TrimSpace(expr) == "" {
		s.raisef(L, `%s: %s is empty; write an expression like "ttft p95 < 2s"`, fn, field)
	}
	th, err := threshold.Parse(expr)
	if err != nil {
		s.raisef(L, "%s: %s: %v", fn, field, err)
	}
	return th
}

var thresholdFields = []string{"1 (the expression)", "abort_on_fail", "delay_abort_eval"}

// thresholdTable reads {"expr", abort_on_fail = b, delay_abort_eval = d}.
func (s *Script) thresholdTable(L *lua.LState, fn, field string, t *lua.LTable) threshold.Threshold {
	expr, ok := t.RawGetInt(1).(lua.LString)
	if !ok {
		s.fieldErr(L, fn, field+"[1]", `the expression, a string like "ttft p95 < 2s"`, t.RawGetInt(1))
	}
	th := s.parseThreshold(L, fn, field, string(expr))
	delaySet := false
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		if n, isNum := k.(lua.LNumber); isNum && n == 1 {
			continue
		}
		switch key, _ := k.(lua.LString); key {
		case "abort_on_fail":
			th.AbortOnFail = s.toBool(L, fn, field+".abort_on_fail", v)
		case "delay_abort_eval":
			th.DelayAbortEval = s.toDuration(L, fn, field+".delay_abort_eval", v)
			delaySet = true
		default:
			if _, isStr := k.(lua.LString); !isStr {
				s.raisef(L, "%s: %s holds one expression and named fields (abort_on_fail, delay_abort_eval), got key %s",
					fn, field, describe(k))
			}
			s.unknownField(L, fn+": "+field, k, thresholdFields[1:])
		}
	}
	if delaySet && !th.AbortOnFail {
		s.raisef(L, "%s: %s: delay_abort_eval only matters with abort_on_fail = true", fn, field)
	}
	if th.AbortOnFail && !th.Live() {
		s.raisef(L, "%s: %s: %q cannot abort the run: windows do not keep %s; it is checked at the end only (remove abort_on_fail)",
			fn, field, th.Expr, liveName(th))
	}
	return th
}

func liveName(th threshold.Threshold) string {
	if th.Stat != "" {
		return th.Metric + " " + th.Stat
	}
	return th.Metric
}

var sloFields = []string{"ttft", "tpot", "e2el"}

// toSLO reads slo = {ttft = "1s", tpot = "50ms", e2el = "10s"}. Values need
// a unit: a bare number would be read as seconds by the other duration
// fields but as milliseconds by vLLM's --goodput, so it is refused.
func (s *Script) toSLO(L *lua.LState, fn string, v lua.LValue) record.SLO {
	t, ok := v.(*lua.LTable)
	if !ok {
		s.fieldErr(L, fn, "slo", `a table {ttft = "1s", tpot = "50ms", e2el = "10s"}`, v)
	}
	var slo record.SLO
	for k, val := t.Next(lua.LNil); k != lua.LNil; k, val = t.Next(k) {
		key, _ := k.(lua.LString)
		var dst *time.Duration
		switch key {
		case "ttft":
			dst = &slo.TTFT
		case "tpot":
			dst = &slo.TPOT
		case "e2el", "e2e":
			dst = &slo.E2E
		default:
			s.unknownField(L, fn+": slo", k, sloFields)
		}
		field := "slo." + string(key)
		str, ok := val.(lua.LString)
		if !ok {
			s.fieldErr(L, fn, field, `a duration with a unit ("1s", "50ms")`, val)
		}
		if _, err := strconv.ParseFloat(strings.TrimSpace(string(str)), 64); err == nil {
			s.raisef(L, "%s: %s %q needs a unit: write \"%sms\" or \"%ss\"", fn, field, string(str), strings.TrimSpace(string(str)), strings.TrimSpace(string(str)))
		}
		d := s.toDuration(L, fn, field, str)
		if d <= 0 {
			s.raisef(L, "%s: %s must be more than 0 (leave it out for no objective)", fn, field)
		}
		*dst = d
	}
	return slo
}

// toWarmup reads warmup = "10s" (a duration: requests scheduled before it
// are warm-up) or warmup = 50 (the first 50 requests are).
func (s *Script) toWarmup(L *lua.LState, fn string, v lua.LValue, sc *Scenario) {
	switch v := v.(type) {
	case lua.LNumber:
		sc.WarmupRequests = s.toInt(L, fn, "warmup", v, 0)
	case lua.LString:
		if _, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64); err == nil {
			s.raisef(L, "%s: warmup %q is ambiguous: write a duration with a unit (\"10s\") or a number of requests (warmup = %s)",
				fn, string(v), strings.TrimSpace(string(v)))
		}
		sc.WarmupDuration = s.toDuration(L, fn, "warmup", v)
	default:
		s.fieldErr(L, fn, "warmup", `a duration ("10s") or a number of requests (50)`, v)
	}
}
