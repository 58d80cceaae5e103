package accuracy

import (
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/self/jitter"
)

func TestProbeChildReadsStallsThenReport(t *testing.T) {
	p := &probeChild{done: make(chan struct{})}
	out := "stall 0 1000 2000000\nstall 1 5000 1500000\nstall x 1 2\n" +
		`{"interval_ns":500000,"threshold_ns":1000000,"elapsed_ns":1000000000,"cpus":[{"cpu":0,"wakeups":2000,"stalls":1,"stalled_ns":2000000,"p50_ns":50000,"p99_ns":900000,"max_ns":2000000}]}` + "\n"
	p.read(strings.NewReader(out))
	if p.err != nil {
		t.Fatal(p.err)
	}
	if p.stalls.Len() != 2 {
		t.Fatalf("%d stalls, want 2 (the malformed line is not one)", p.stalls.Len())
	}
	if w, n, _, longest := p.report.Totals(); w != 2000 || n != 1 || longest != 2*time.Millisecond {
		t.Fatalf("report totals %d %d %v", w, n, longest)
	}
}

func TestProbeChildWithoutReport(t *testing.T) {
	p := &probeChild{done: make(chan struct{})}
	p.read(strings.NewReader("stall 0 1000 2000000\npanic: oops\n"))
	if p.err == nil || !strings.Contains(p.err.Error(), "panic: oops") {
		t.Fatalf("err %v, want it to quote what the probe printed", p.err)
	}
}

func TestDuringStallsMatchesOverlappingWaits(t *testing.T) {
	var ss jitter.Stalls
	ss.Add(jitter.Stall{CPU: 0, At: 10_000_000, Late: 3 * time.Millisecond}) // [10 ms, 13 ms]
	l := &overrunLog{Overruns: [][2]int64{
		{9_000_000, 2_000_000},  // waited [9, 11]: overlaps
		{12_000_000, 1_500_000}, // [12, 13.5]: overlaps
		{13_500_000, 1_200_000}, // [13.5, 14.7]: after the stall, the backlog: its own
		{2_000_000, 1_100_000},  // long before
	}}
	if n := duringStalls(l, &ss); n != 2 {
		t.Fatalf("%d overruns during stalls, want 2", n)
	}
}

func TestSimLagOwnOrAll(t *testing.T) {
	s := SimLag{OverrunFraction: 0.03, OwnFraction: 0.004}
	if s.OwnOrAll() != 0.03 {
		t.Fatal("unmatched lag must count every overrun as the simulator's")
	}
	s.Matched = true
	if s.OwnOrAll() != 0.004 {
		t.Fatal("matched lag must count only its own")
	}
}
