package observe

import (
	"fmt"
	"testing"
)

// promRound is one answer of a Prometheus target: instance -> generation
// tokens counter (and running requests).
func promRound(gen map[string]float64, running map[string]float64) []scrape {
	var pts []point
	for inst, v := range gen {
		pts = append(pts, point{name: mGenTok, labels: fmt.Sprintf("instance=%q", inst), instance: inst, value: v})
	}
	for inst, v := range running {
		pts = append(pts, point{name: mRunning, labels: fmt.Sprintf("instance=%q", inst), instance: inst, value: v})
	}
	return []scrape{{target: 0, ok: true, points: pts}}
}

// TestPerInstanceCounters: each instance's increase over the run, with a
// counter reset (counted from 0), an instance that vanishes for a sample
// and comes back (counted from its last value), and one that appears
// after the baseline (a new replica: counted from 0); the total is their
// sum.
func TestPerInstanceCounters(t *testing.T) {
	a := newAccumulator()
	a.add(0, phaseBaseline, promRound(map[string]float64{"a": 100, "b": 50}, map[string]float64{"a": 0, "b": 0}))
	a.add(sec, phaseTick, promRound(map[string]float64{"a": 130, "b": 60}, map[string]float64{"a": 4, "b": 2}))
	s := a.add(2*sec, phaseTick, promRound(map[string]float64{"a": 10, "c": 5}, map[string]float64{"a": 2, "c": 1}))
	wantV(t, "generation tokens at 2 s", s.GenerationTokens, 10+5)
	a.add(3*sec, phaseFinal, promRound(map[string]float64{"a": 20, "b": 70, "c": 8}, map[string]float64{"a": 0, "b": 0, "c": 0}))

	sv, _ := a.perInstance()
	want := map[string]float64{"a": 30 + 10 + 10, "b": 10 + 10, "c": 5 + 3}
	if len(sv) != 3 {
		t.Fatalf("instances %+v", sv)
	}
	for _, f := range sv {
		wantV(t, f.Instance+" generation tokens", f.GenerationTokens, want[f.Instance])
	}
	wantV(t, "total generation tokens", a.total.figures().GenerationTokens, 50+20+8)
	// Gauges per instance over the run's samples: a ran 4 then 2.
	wantV(t, "a mean running", sv[0].MeanRunning, 3)
	wantV(t, "a max running", sv[0].MaxRunning, 4)
	wantV(t, "c mean running", sv[2].MeanRunning, 1)
	wantV(t, "total max running", a.total.figures().MaxRunning, 6)
}
