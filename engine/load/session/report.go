package session

import (
	"fmt"
	"io"
	"strconv"

	"github.com/llmload/llmload/engine/results/record"
)

// modeNames say in the table how the sessions were driven.
var modeNames = map[string]string{
	"users":         "users (closed loop)",
	"ramping_users": "ramping users (closed loop)",
	"steered_users": "users steered by a capacity search",
	"arrivals":      "session arrivals (open loop; turns closed loop)",
}

// WriteTable prints the sessions section of the end-of-run table, after
// the request figures (whose "By Turn" block is the sessions' too). The
// turn rates say what closed-loop load hides: users of a slow server send
// less, so the achieved rate is set beside the rate the same sessions
// would have sent with instant answers (docs/metrics.md, "Sessions").
// A nil Summary prints nothing.
func (s *Summary) WriteTable(w io.Writer) {
	if s == nil {
		return
	}
	row := func(label, value string) { record.Row(w, label, value) }
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	us := func(ms float64) string { return strconv.FormatFloat(ms*1000, 'f', 0, 64) }
	fmt.Fprintln(w, record.Center("Sessions", '='))
	mode := modeNames[s.Mode]
	if mode == "" {
		mode = s.Mode
	}
	row("Driven by:", mode)
	row("Sessions started:", i64(s.Started))
	row("  ended / cut short:", i64(s.Completed)+" / "+i64(s.Stopped))
	row("Turns sent:", i64(s.Turns))
	if s.Started > 0 {
		row("Turns per session, mean / max:", f2(s.TurnsPerSession.Mean)+" / "+i64(s.TurnsPerSession.Max))
	}
	if s.Duration.Count > 0 {
		row("Session duration p50 / p99 (s):", f2(s.Duration.P50/1000)+" / "+f2(s.Duration.P99/1000))
	}
	if s.Think.Count > 0 {
		row("Think time mean / p99 (s):", f2(s.Think.Mean/1000)+" / "+f2(s.Think.P99/1000))
	}
	row("Turn rate (turns/s):", f2(s.TurnRate))
	if s.ZeroLatencyTurnRate > 0 {
		row("  with instant answers (turns/s):", f2(s.ZeroLatencyTurnRate))
	}
	row("Time waiting for answers (%):", f2(100*s.ServerWaitShare))
	if s.StepCost.Count > 0 {
		row("Session step p50 / p99 (us):", us(s.StepCost.P50)+" / "+us(s.StepCost.P99))
	}
}
