package merge

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/engine/results/rundir"
)

// The seams with `llmload run --shard` (docs/metrics.md, "Merged shards").

// bigSeedShards writes rs as n shards whose run seed and shard seeds are
// 64-bit numbers a float64 cannot hold (above 2^53), the run seed of
// shard odd being runSeed+1.
func bigSeedShards(t *testing.T, rs []*request.Result, n int, runSeed uint64, odd int) []string {
	t.Helper()
	dirs := make([]string, n)
	for i := range n {
		seed := runSeed
		if i == odd {
			seed++
		}
		meta := map[string]any{"scenario_file": "x.lua", "scenario_sha256": "ab", "seed": seed,
			"shard": map[string]any{"index": i, "count": n, "seed": ^uint64(0) - uint64(i)}}
		dirs[i] = filepath.Join(t.TempDir(), "s")
		write(t, dirs[i], part(rs, i, n), meta)
	}
	return dirs
}

// Seeds are uint64: 2^53+1 and 2^53+2 are one float64, so a merge that
// read them as floats would take shards of two runs for one, and write the
// shards' seeds rounded.
func TestMergeSeedsExact(t *testing.T) {
	const runSeed = 1<<53 + 1
	rs := results(40)
	_, err := Merge(Options{Dirs: bigSeedShards(t, rs, 2, runSeed, 1), Out: filepath.Join(t.TempDir(), "m")})
	if err == nil || !strings.Contains(err.Error(), `run seed (meta.seed) differ ("9007199254740993" and "9007199254740994")`) {
		t.Fatalf("shards of seeds 2^53+1 and 2^53+2: error %v, want them refused as different run seeds", err)
	}
	out := filepath.Join(t.TempDir(), "m")
	if _, err := Merge(Options{Dirs: bigSeedShards(t, rs, 2, runSeed, -1), Out: out}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Meta struct {
			Seed uint64 `json:"seed"`
		} `json:"meta"`
		Shards []struct {
			Index int    `json:"index"`
			Seed  uint64 `json:"seed"`
		} `json:"shards"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&file); err != nil {
		t.Fatal(err)
	}
	if file.Meta.Seed != runSeed || len(file.Shards) != 2 ||
		file.Shards[0].Seed != ^uint64(0) || file.Shards[1].Seed != ^uint64(0)-1 {
		t.Errorf("merged meta.seed %d, shards %+v; want %d and seeds 2^64-1, 2^64-2", file.Meta.Seed, file.Shards, uint64(runSeed))
	}
}

// setOffset hand-edits a shard's clock offset estimate.
func setOffset(t *testing.T, dir string, ms, uncertainty float64) {
	editMeta(t, dir, func(m map[string]any) map[string]any {
		sh := m["shard"].(map[string]any)
		sh["clock_offset_ms"], sh["clock_offset_uncertainty_ms"] = ms, uncertainty
		return nil
	})
}

// A skew between two shards' clocks beyond skewWarnMS plus their
// estimates' uncertainty is a warning; within it, or within the
// uncertainty of a Date-header estimate, it is not. max_clock_skew_ms is
// the spread either way.
func TestMergeClockSkewWarning(t *testing.T) {
	rs := results(40)
	for _, c := range []struct {
		name              string
		offset, uncertain float64 // shard 2's; the others are 0 ± 0.1 ms
		warn              bool
		third             []float64 // shard 3's offset and uncertainty, when not 0 ± 0.1
		spread            float64   // max_clock_skew_ms
	}{
		{name: "receipt, 0.5 ms", offset: 0.5, uncertain: 0.1, spread: 0.5},
		{name: "receipt, 250 ms", offset: 250, uncertain: 0.1, warn: true, spread: 250},
		{name: "date header, 900 ms ± 1 s", offset: 900, uncertain: 1000, spread: 900},
		{name: "date header, 3 s ± 1 s", offset: 3000, uncertain: 1000, warn: true, spread: 3000},
		// The extremes (shard 3 and 0) may be one clock; shards 2 and 0 are not.
		{name: "not the extremes", offset: 500, uncertain: 0.1, warn: true, third: []float64{1500, 1600}, spread: 1500},
	} {
		t.Run(c.name, func(t *testing.T) {
			dirs := shards(t, rs, 4)
			for i, d := range dirs {
				switch {
				case i == 2:
					setOffset(t, d, c.offset, c.uncertain)
				case i == 3 && c.third != nil:
					setOffset(t, d, c.third[0], c.third[1])
				default:
					setOffset(t, d, 0, 0.1)
				}
			}
			out := filepath.Join(t.TempDir(), "m")
			res, err := Merge(Options{Dirs: dirs, Out: out})
			if err != nil {
				t.Fatal(err)
			}
			warned := strings.Contains(strings.Join(res.Warnings, "\n"), "clock skew: shard 2 (")
			if warned != c.warn {
				t.Errorf("warnings %q; want a clock skew warning: %v", res.Warnings, c.warn)
			}
			if got := res.Summary.Meta["shard"].(map[string]any)["max_clock_skew_ms"]; got != c.spread {
				t.Errorf("max_clock_skew_ms %v, want %v", got, c.spread)
			}
		})
	}
}

// skipped_rows is the largest count over the shards (each reads the whole
// source) with that shard's reasons; sessions add their counters and say
// which figures stay per shard.
func TestMergeSkippedRowsAndSessions(t *testing.T) {
	dirs := shards(t, results(40), 2)
	for i, d := range dirs {
		editMeta(t, d, func(map[string]any) map[string]any {
			skip := map[string]any{"malformed": 2 + i, "failed": 1, "reasons": []string{"t.csv:" + string(rune('3'+i)) + ": bad"}}
			sess := map[string]any{"mode": "users", "started": 3 - i, "completed": 2, "stopped": 1 - i, "turns": 20,
				"think_time": map[string]any{"count": 4, "p50_ms": 10 * (i + 1)}}
			return map[string]any{"skipped_rows": skip, "sessions": sess}
		})
	}
	out := filepath.Join(t.TempDir(), "m")
	res, err := Merge(Options{Dirs: dirs, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res.Summary.Extra)
	var got struct {
		Skipped  map[string]any `json:"skipped_rows"`
		Sessions map[string]any `json:"sessions"`
		Shards   []struct {
			Sessions map[string]any `json:"sessions"`
		} `json:"shards"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if s, _ := json.Marshal(got.Skipped); string(s) != `{"failed":1,"malformed":3,"reasons":["t.csv:4: bad"]}` {
		t.Errorf("skipped_rows %s, want the largest counts and shard 1's reasons", s)
	}
	ss := got.Sessions
	if ss["started"] != 5.0 || ss["completed"] != 4.0 || ss["stopped"] != 1.0 || ss["turns"] != 40.0 || ss["mode"] != "users" ||
		!strings.Contains(ss["not_merged"].(string), "think_time") || ss["think_time"] != nil {
		t.Errorf("sessions %v: want counters added, think_time left per shard and said so", ss)
	}
	if len(got.Shards) != 2 || got.Shards[1].Sessions["think_time"] == nil {
		t.Errorf("shards[1].sessions %v: want the shard's own distributions", got.Shards)
	}
}

// A --shard run's lines carry their one-process seq (row k is seq k in
// shard k mod n). Rows due at one instant (a burst of three here, across
// shards 0..3 out of step) keep one process's order: the merged seq of
// every row is its row number.
func TestMergeKeepsOneProcessSeq(t *testing.T) {
	rs := results(40)
	const n = 4
	for i, r := range rs {
		shift(r, time.Duration(i/3)*21*time.Millisecond-r.Scheduled)
		r.MaxTokens = 1 + i // the row, as the merged line shows it
	}
	dirs := make([]string, n)
	for i := range n {
		var own []*request.Result
		for j := i; j < len(rs); j += n {
			own = append(own, rs[j])
		}
		dirs[i] = filepath.Join(t.TempDir(), "s")
		write(t, dirs[i], own, shardMeta(i, n))
	}
	out := filepath.Join(t.TempDir(), "m")
	if _, err := Merge(Options{Dirs: dirs, Out: out}); err != nil {
		t.Fatal(err)
	}
	lines := 0
	err := rundir.EachLine(filepath.Join(out, rundir.RequestsFile), func(b []byte, _ int, _ int64) error {
		l, err := record.ParseRequestLine(b)
		if err == nil && l.Result.Seq != int64(l.Result.MaxTokens-1) {
			t.Errorf("row %d merged as seq %d", l.Result.MaxTokens-1, l.Result.Seq)
		}
		lines++
		return err
	})
	if err != nil || lines != len(rs) {
		t.Fatalf("merged requests.jsonl: %d lines, %v", lines, err)
	}
}
