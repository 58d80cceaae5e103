package launch

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/capacity"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/shard"
	"github.com/llmload/llmload/internal/simtest"
	"github.com/llmload/llmload/stack/sim"
)

func simScenario(t *testing.T, n int) Scenario {
	cfg := sim.DefaultConfig()
	cfg.Profile = sim.ProfileFixed
	return Scenario{
		Name: "s", Source: &rows{n: n}, Schedule: pace.Constant(50), Mapper: chatMapper{},
		URL: simtest.Start(t, cfg), Concurrency: 4,
		Timeout: 10 * time.Second, StallTimeout: 5 * time.Second,
		SampleInterval: time.Second, DrainTimeout: time.Second, ServerMetrics: "off",
	}
}

// With StartAt the epoch is that instant: the run waits for it (saying
// so), the shard sends its rows, and meta.shard records the shard, its
// seed, the instant and the clock offset against the simulator.
func TestStartAtIsTheEpochOfAShard(t *testing.T) {
	at := time.Now().Add(1200 * time.Millisecond).Truncate(time.Millisecond)
	var log bytes.Buffer
	run, err := Prepare(context.Background(), Config{
		Scenarios: []Scenario{simScenario(t, 5)}, Seed: 3,
		Shard: shard.Spec{Index: 1, Count: 2}, StartAt: at, Log: &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	if !run.Epoch().Equal(at) {
		t.Fatalf("epoch %v, want the start-at instant %v", run.Epoch(), at)
	}
	if err := run.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if started := time.Now(); started.Before(at.Add(-DefaultEpochLead)) {
		t.Errorf("Start returned at %v, before start-at %v less the lead", started, at)
	}
	if !strings.Contains(log.String(), "waiting") || !strings.Contains(log.String(), "--start-at") {
		t.Errorf("no line saying how long the run waits: %q", log.String())
	}
	out := run.Wait().Scenarios[0]
	if out.Err != nil || out.Summary == nil || out.Summary.Completed != 2 { // rows 1 and 3 of 0..4
		t.Fatalf("err %v, summary %+v", out.Err, out.Summary)
	}
	m, _ := out.Summary.Meta["shard"].(map[string]any)
	if m == nil || m["index"] != int64(1) || m["count"] != int64(2) || m["seed"] != (shard.Spec{Index: 1, Count: 2}).Seed(3) ||
		m["start_at"] != at.UTC().Format(time.RFC3339Nano) {
		t.Fatalf("meta.shard %v", m)
	}
	// The simulator shares this machine's clock: the offset is ~0, bound
	// by its receipt stamps to within a loaded machine's round trip.
	off, ok1 := m["clock_offset_ms"].(float64)
	unc, ok2 := m["clock_offset_uncertainty_ms"].(float64)
	if !ok1 || !ok2 || m["clock_offset_method"] != "simulator receipt header (nanoseconds; bound: the time from sending to the response headers)" ||
		off-unc > 0.001 || off+unc < -0.001 || unc > 500 {
		t.Errorf("clock offset %v ± %v (%v), want a bound around 0", m["clock_offset_ms"], m["clock_offset_uncertainty_ms"], m["clock_offset_method"])
	}
}

func TestStartAtTooSoonIsAnError(t *testing.T) {
	_, err := Prepare(context.Background(), Config{
		Scenarios: []Scenario{simScenario(t, 1)}, StartAt: time.Now().Add(-10 * time.Millisecond),
	})
	if err == nil || !strings.Contains(err.Error(), "--start-at") || !strings.Contains(err.Error(), "too soon") || !strings.Contains(err.Error(), "probes") {
		t.Fatalf("err %v, want --start-at ... too soon, with how long the probes took", err)
	}
}

func TestCapacitySearchIsNotSharded(t *testing.T) {
	sc := simScenario(t, 1)
	sc.Capacity = &capacity.Config{}
	_, err := Prepare(context.Background(), Config{Scenarios: []Scenario{sc}, Shard: shard.Spec{Index: 0, Count: 2}})
	if err == nil || !strings.Contains(err.Error(), "--shard 0/2") || !strings.Contains(err.Error(), "capacity search") {
		t.Fatalf("err %v, want a refusal naming --shard and the capacity search", err)
	}
}
