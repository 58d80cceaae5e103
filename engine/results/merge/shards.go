package merge

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/llmload/llmload/engine/results/rundir"
)

// shard is one input directory, its summary.json read.
type shard struct {
	dir     string
	run     *rundir.Run // summary only
	sharded bool        // meta.shard is there
	index   int         // meta.shard.index; 0 for an unsharded run
	count   int         // meta.shard.count; 1 for an unsharded run
	epoch   time.Time   // started_at
	delta   time.Duration
	offset  *float64 // meta.shard.clock_offset_ms, when the shard estimated it
	// uncertainty is meta.shard.clock_offset_uncertainty_ms (0 when absent).
	uncertainty float64
}

// readShard reads dir's summary.json and its meta.shard (the contract with
// `llmload run --shard`, docs/metrics.md).
func readShard(dir string) (*shard, error) {
	run, err := rundir.LoadSummary(dir)
	if err != nil {
		return nil, err
	}
	s := &shard{dir: dir, run: run, count: 1, epoch: run.Started()}
	if s.epoch.IsZero() {
		return nil, fmt.Errorf("%s/summary.json: no started_at (the run's epoch); is it a summary of llmload run?", dir)
	}
	raw := run.Meta("shard")
	if raw == nil {
		return s, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s/summary.json: meta.shard is not an object", dir)
	}
	if _, merged := m["merged"]; merged {
		return nil, fmt.Errorf("%s is itself a merged directory (meta.shard.merged); merge the shards' own directories", dir)
	}
	index, iok := intOf(m["index"])
	count, cok := intOf(m["count"])
	if !iok || !cok || count < 1 || index < 0 || index >= count {
		return nil, fmt.Errorf("%s/summary.json: meta.shard needs whole numbers index and count with 0 <= index < count (got %v of %v)", dir, m["index"], m["count"])
	}
	s.sharded, s.index, s.count = true, index, count
	if v, ok := rundir.Number(m["clock_offset_ms"]); ok {
		s.offset = &v
		s.uncertainty, _ = rundir.Number(m["clock_offset_uncertainty_ms"])
	}
	return s, nil
}

func intOf(v any) (int, bool) {
	f, ok := rundir.Number(v)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		return 0, false
	}
	return int(f), true
}

// identity is what must be the same in every shard of one run: the
// scenario, the run seed, the shard count and the settings the summary
// is computed with.
func identity(s *shard) []struct{ what, value string } {
	r := s.run
	slo, _ := json.Marshal(r.Summary["slo"])
	return []struct{ what, value string }{
		// The file's name, not its path: shards on other machines may run
		// it from other directories; its content is the SHA-256's to check.
		{"scenario file name (meta.scenario_file, without its directory)", scenarioName(r.MetaStr("scenario_file"))},
		{"scenario file's SHA-256 (meta.scenario_sha256)", r.MetaStr("scenario_sha256")},
		{"scenario name (name)", r.Name()},
		{"run seed (meta.seed)", r.MetaStr("seed")},
		{"shard count (meta.shard.count)", fmt.Sprint(s.count)},
		{"window length (sample_interval_s)", fmt.Sprint(r.NumOr("sample_interval_s", 0))},
		{"SLO (slo)", string(slo)},
	}
}

// scenarioName is the file name of a scenario path written on any system.
func scenarioName(path string) string {
	return path[strings.LastIndexAny(path, `/\`)+1:]
}

// check refuses inputs that are not the shards of one run, and returns the
// shard indexes missing (allowed only with allowPartial). The shards come
// back sorted by index.
func check(shards []*shard, allowPartial bool) (missing []int, err error) {
	if len(shards) == 0 {
		return nil, fmt.Errorf("give the results directories of the shards to merge")
	}
	for _, s := range shards {
		if !s.sharded && len(shards) > 1 {
			return nil, fmt.Errorf("%s is not a shard (its summary.json has no meta.shard: it was run without --shard); merge takes the directories of one sharded run, or one directory alone", s.dir)
		}
	}
	first := shards[0]
	want := identity(first)
	for _, s := range shards[1:] {
		for i, got := range identity(s) {
			if got.value != want[i].value {
				return nil, fmt.Errorf("%s and %s are not shards of one run: their %s differ (%q and %q); merge only the shards of one `llmload run --shard i/n` of one scenario with one --seed", first.dir, s.dir, got.what, want[i].value, got.value)
			}
		}
	}
	slices.SortStableFunc(shards, func(a, b *shard) int { return a.index - b.index })
	for i := 1; i < len(shards); i++ {
		if a, b := shards[i-1], shards[i]; a.index == b.index {
			return nil, fmt.Errorf("%s and %s are both shard %d of %d; give each shard once", a.dir, b.dir, a.index, a.count)
		}
	}
	have := map[int]bool{}
	for _, s := range shards {
		have[s.index] = true
	}
	for i := range first.count {
		if !have[i] {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 && !allowPartial {
		return nil, fmt.Errorf("shard %s of %d missing: given %s; give every shard's directory, or --allow-partial to merge these (the result is marked partial)",
			joinInts(missing), first.count, given(shards))
	}
	return missing, nil
}

func given(shards []*shard) string {
	parts := make([]string, len(shards))
	for i, s := range shards {
		parts[i] = fmt.Sprintf("%s (shard %d)", s.dir, s.index)
	}
	return strings.Join(parts, ", ")
}

func joinInts(v []int) string {
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ", ")
}

// placeOnAxis sets each shard's delta: how far its epoch lies after the
// earliest one. With --start-at every shard has the same epoch (delta
// 0); shards started apart are placed by their wall-clock epochs. It
// returns the merged epoch.
func placeOnAxis(shards []*shard) time.Time {
	epoch := shards[0].epoch
	for _, s := range shards {
		if s.epoch.Before(epoch) {
			epoch = s.epoch
		}
	}
	for _, s := range shards {
		s.delta = s.epoch.Sub(epoch)
	}
	return epoch
}

// skewWarnMS is the clock skew between two shards (ms, beyond both
// estimates' uncertainty) from which merge warns. Each shard starts its
// epoch at --start-at by its own clock, so requests one process would
// have sent together leave skewed shards that far apart: 10 ms is about
// one decode step of a busy server, and NTP keeps machines on one LAN
// well within it.
const skewWarnMS = 10

// maxClockSkew is the spread of the shards' clock offset estimates (ms),
// nil when no shard made one.
func maxClockSkew(shards []*shard) any {
	lo, hi := offsetRange(shards)
	if lo == nil {
		return nil
	}
	return *hi.offset - *lo.offset
}

// offsetRange is the shards with the lowest and the highest clock offset
// estimate, nil when no shard made one.
func offsetRange(shards []*shard) (lo, hi *shard) {
	for _, s := range shards {
		if s.offset == nil {
			continue
		}
		if lo == nil || *s.offset < *lo.offset {
			lo = s
		}
		if hi == nil || *s.offset > *hi.offset {
			hi = s
		}
	}
	return lo, hi
}

// skewWarning says which two shards' clocks differ by more than
// skewWarnMS even after their estimates' uncertainty is allowed for ("" when
// none do): a Date-header estimate (±1 s) then warns only of skews of
// seconds, a simulator receipt's (sub-ms) of any above the bound. Every
// pair is tried: the surest skew need not be between the extremes.
func skewWarning(shards []*shard) string {
	var lo, hi *shard
	sure := float64(skewWarnMS)
	for _, a := range shards {
		for _, b := range shards {
			if a.offset == nil || b.offset == nil {
				continue
			}
			if d := *a.offset - *b.offset - a.uncertainty - b.uncertainty; d > sure {
				hi, lo, sure = a, b, d
			}
		}
	}
	if hi == nil {
		return ""
	}
	spread := *hi.offset - *lo.offset
	return fmt.Sprintf("clock skew: shard %d (%s) has a clock %.1f ms ahead of shard %d's (%s) (clock_offset_ms %.3f ± %.3f and %.3f ± %.3f): more than %d ms even allowing for the estimates' uncertainty; each started its epoch by its own clock, so their requests went out that far off one process's timing and sit that far off on the merged time axis; synchronise the machines' clocks (NTP, chrony) and run again",
		hi.index, hi.dir, spread, lo.index, lo.dir, *hi.offset, hi.uncertainty, *lo.offset, lo.uncertainty, skewWarnMS)
}
