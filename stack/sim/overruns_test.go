package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/shared/monoclock"
)

type overrunsDoc struct {
	Clock     string     `json:"clock"`
	NowNs     int64      `json:"now_ns"`
	Threshold int64      `json:"threshold_ns"`
	Logged    int64      `json:"logged"`
	Retained  int64      `json:"retained"`
	Overruns  [][2]int64 `json:"overruns"`
}

func parseOverruns(t *testing.T, b []byte) overrunsDoc {
	t.Helper()
	var d overrunsDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return d
}

func TestOverrunLogWrapsAndFilters(t *testing.T) {
	clock := time.Duration(0)
	l := newOverrunLog(func() time.Duration { return clock })
	total := overrunLogSize + 10
	for i := range total {
		l.add(time.Duration(i)*time.Millisecond, 2*time.Millisecond)
	}
	d := parseOverruns(t, l.appendJSON(nil, 0))
	if d.Clock != "CLOCK_MONOTONIC" || d.Logged != int64(total) || d.Retained != overrunLogSize || len(d.Overruns) != overrunLogSize {
		t.Fatalf("logged %d retained %d listed %d", d.Logged, d.Retained, len(d.Overruns))
	}
	// Oldest first, the first ten overwritten.
	first := d.Overruns[0][0] - l.mono0
	if first != int64(10*time.Millisecond) {
		t.Fatalf("oldest retained overrun due at +%v, want +10ms", time.Duration(first))
	}
	for i := 1; i < len(d.Overruns); i++ {
		if d.Overruns[i][0] <= d.Overruns[i-1][0] {
			t.Fatalf("overruns out of order at %d", i)
		}
	}
	since := l.mono0 + int64(time.Duration(total-3)*time.Millisecond)
	if d := parseOverruns(t, l.appendJSON(nil, since)); len(d.Overruns) != 3 || d.Overruns[0][1] != int64(2*time.Millisecond) {
		t.Fatalf("since filter kept %v", d.Overruns)
	}
}

// The log's instants are on CLOCK_MONOTONIC, the clock another process
// (the jitter probe) reads: an overrun logged now is due within the last
// moment of monoclock.Now.
func TestOverrunLogUsesTheSharedClock(t *testing.T) {
	s := startServer(t, testConfig())
	before := monoclock.Now()
	s.m.observeLag(s.now()-5*time.Millisecond, s.now())
	s.m.observeLag(s.now(), s.now()) // on time: not logged
	after := monoclock.Now()

	resp, err := http.Get(s.url + "/debug/overruns?since=" + strconv.FormatInt(before-int64(time.Second), 10))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	d := parseOverruns(t, b)
	if len(d.Overruns) != 1 || d.Logged != 1 {
		t.Fatalf("overruns %v (logged %d), want the one late delivery", d.Overruns, d.Logged)
	}
	due, lag := d.Overruns[0][0], time.Duration(d.Overruns[0][1])
	if due < before-int64(6*time.Millisecond) || due > after || lag < 5*time.Millisecond {
		t.Fatalf("overrun due %d lag %v, want due in [%d, %d] and lag >= 5ms", due, lag, before-int64(6*time.Millisecond), after)
	}
	if d.NowNs < after {
		t.Fatalf("now_ns %d before a reading taken earlier (%d)", d.NowNs, after)
	}

	resp, err = http.Get(s.url + "/debug/overruns?since=soon")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("since=soon: status %d, want 400", resp.StatusCode)
	}
}
