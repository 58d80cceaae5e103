package record

import (
	"fmt"
	"io"
	"strconv"
)

// MaxTurnBuckets is how many turn indexes get their own latency
// distributions; later turns share the last bucket ("32+").
const MaxTurnBuckets = 32

// turnAcc holds the latencies of the completed requests of one turn index
// of the run's sessions. Two significant digits (1%) keep 32 turns at
// about 2 MB.
type turnAcc struct {
	ttft, e2el *dist
}

// addTurn records a completed session request by its turn. r.mu is held.
func (r *Recorder) addTurn(turn int, ttft, e2el float64, hasTTFT bool) {
	if turn <= 0 {
		return
	}
	i := min(turn, MaxTurnBuckets) - 1
	for len(r.turns) <= i {
		r.turns = append(r.turns, nil)
	}
	t := r.turns[i]
	if t == nil {
		t = &turnAcc{ttft: newDistDigits(windowDigits), e2el: newDistDigits(windowDigits)}
		r.turns[i] = t
	}
	if hasTTFT {
		t.ttft.add(ttft, 1)
	}
	t.e2el.add(e2el, 1)
}

// TurnStats are the latencies of the completed requests of one turn index
// of a session scenario (summary.json "by_turn").
type TurnStats struct {
	Turn  int     `json:"turn"`            // 1-based; the last bucket also holds every later turn
	Label string  `json:"label,omitempty"` // "32+" for the last bucket
	N     int64   `json:"completed"`
	TTFT  StatsMS `json:"ttft"`
	E2EL  StatsMS `json:"e2el"`
}

func (r *Recorder) turnStats() []TurnStats {
	var out []TurnStats
	for i, t := range r.turns {
		if t == nil {
			continue
		}
		ts := TurnStats{Turn: i + 1, N: t.e2el.n, TTFT: t.ttft.stats().MS(), E2EL: t.e2el.stats().MS()}
		if i+1 == MaxTurnBuckets {
			ts.Label = strconv.Itoa(MaxTurnBuckets) + "+"
		}
		out = append(out, ts)
	}
	return out
}

// writeTurnTable prints TTFT and E2EL by turn, when the run had sessions.
func (s *Summary) writeTurnTable(w io.Writer) {
	if len(s.ByTurn) == 0 {
		return
	}
	ruleLine(w, "By Turn (sessions)")
	fmt.Fprintf(w, "%-6s %9s %12s %12s %12s\n", "turn", "completed", "p50 TTFT ms", "p99 TTFT ms", "p50 E2EL ms")
	for _, t := range s.ByTurn {
		label := strconv.Itoa(t.Turn)
		if t.Label != "" {
			label = t.Label
		}
		fmt.Fprintf(w, "%-6s %9d %12.2f %12.2f %12.2f\n", label, t.N, t.TTFT.P50, t.TTFT.P99, t.E2EL.P50)
	}
}
