package session

import (
	"bytes"
	"testing"

	"github.com/llmload/llmload/engine/results/record"
)

func TestSummaryWriteTable(t *testing.T) {
	s := &Summary{Mode: "users", Started: 21, Completed: 13, Stopped: 8, Turns: 51,
		Duration: record.StatsMS{Count: 13, P50: 2130, P99: 3030}, Think: record.StatsMS{Count: 30, Mean: 230, P99: 1540},
		StepCost: record.StatsMS{Count: 72, P50: 0.037, P99: 0.249}, TurnRate: 9.33, ServerWaitShare: 0.8073, ZeroLatencyTurnRate: 48.43}
	s.TurnsPerSession.Mean, s.TurnsPerSession.Max = 2.43, 3
	var b bytes.Buffer
	s.WriteTable(&b)
	want := `==================== Sessions ====================
Driven by:                               users (closed loop)
Sessions started:                        21        
  ended / cut short:                     13 / 8    
Turns sent:                              51        
Turns per session, mean / max:           2.43 / 3  
Session duration p50 / p99 (s):          2.13 / 3.03
Think time mean / p99 (s):               0.23 / 1.54
Turn rate (turns/s):                     9.33      
  with instant answers (turns/s):        48.43     
Time waiting for answers (%):            80.73     
Session step p50 / p99 (us):             37 / 249  
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}

	// Sessions that never started (a run stopped at once) print no
	// distributions, and nil prints nothing.
	b.Reset()
	(&Summary{Mode: "arrivals"}).WriteTable(&b)
	want = `==================== Sessions ====================
Driven by:                               session arrivals (open loop; turns closed loop)
Sessions started:                        0         
  ended / cut short:                     0 / 0     
Turns sent:                              0         
Turn rate (turns/s):                     0.00      
Time waiting for answers (%):            0.00      
`
	if b.String() != want {
		t.Errorf("empty table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	(*Summary)(nil).WriteTable(&b)
	if b.Len() != 0 {
		t.Errorf("nil summary printed %q", b.String())
	}
}
