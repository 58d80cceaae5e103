package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/engine/results/rundir"
)

const shardScenario = "cmd/llmload/testdata/shard_trace.lua"

// The same trace as one process and as 4 shards (`--shard i/4`, one
// `--start-at`, each with its own built-in simulator), merged with
// `llmload merge`. The one process and the shards are separate runs of a
// simulator on shared cores, so their latencies differ: what must equal
// the one process's is what was sent and received (completed, failed,
// token totals, and every request's seq, due time and lengths). No
// percentile is compared with the one process's: equality there would be
// luck, and a tolerance wide enough not to flake would prove nothing.
// The merged percentiles are checked against the same requests instead:
// (1) exactly, against every shard's request lines fed into one recorder
// here, and (2) against the exact nearest-rank percentiles of the merged
// requests, within HdrHistogram's precision (3 significant digits, 1 us).
// The scenario's threshold "completed >= 40" fails in each shard and
// holds on the merged run.
func TestMergeShardsEqualsOneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs five simulated runs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root := t.TempDir()
	one, dirs, merged, log := oneAndShards(t, ctx, root, 4, exitThresholds,
		shardScenario, "--seed", "7", "--prompt-seed", "5", "--no-ui", "--log-every", "0", "--server-metrics", "off")
	if strings.Contains(log, "warning") {
		t.Errorf("shards on one machine: merge warned\n%s", log)
	}
	single, m := summaryOf(t, one), summaryOf(t, merged)
	for _, k := range []string{"completed", "failed", "total_input_tokens", "total_output_tokens", "itl_count", "sent"} {
		if single[k] != m[k] || m[k] == nil {
			t.Errorf("%s: merged %v, one process %v", k, m[k], single[k])
		}
	}
	if sent, want := readShardRun(t, merged).sends, readShardRun(t, one).sends; !slices.Equal(sent, want) {
		t.Errorf("the merged requests.jsonl holds %d requests, one process sent %d; first %v vs %v",
			len(sent), len(want), sent[:min(3, len(sent))], want[:min(3, len(want))])
	}
	sh, _ := m["meta"].(map[string]any)["shard"].(map[string]any)
	if fmt.Sprint(sh["merged"]) != "[0 1 2 3]" || sh["count"] != 4.0 || sh["partial"] != false {
		t.Errorf("merged meta.shard %v", sh)
	}
	if skew, ok := sh["max_clock_skew_ms"].(float64); !ok || skew < 0 || skew > 10 {
		t.Errorf("max_clock_skew_ms %v: want the spread of the shards' receipt estimates, well under a millisecond on one machine", sh["max_clock_skew_ms"])
	}
	samePercentiles(t, m, recordShards(t, dirs))
	exactPercentiles(t, merged, m)

	// A shard whose clock was 500 ms ahead: the merge says so.
	editShardMeta(t, dirs[2], func(sh map[string]any) { sh["clock_offset_ms"] = 500.0 })
	log = runMerge(t, exitOK, filepath.Join(root, "skewed"), dirs...)
	if !strings.Contains(log, "llmload merge: warning: clock skew: shard 2 (") {
		t.Errorf("a shard 500 ms ahead: no clock skew warning\n%s", log)
	}
}

// oneAndShards runs `llmload run args...` as one process (--out
// root/one, exit 0) and as n shards (startShards, each exiting with
// shardCode), and merges the shards into root/merged (exit 0). It returns
// the directories and the merge's output.
func oneAndShards(t *testing.T, ctx context.Context, root string, n, shardCode int, args ...string) (one string, shards []string, merged, log string) {
	t.Helper()
	one = filepath.Join(root, "one")
	runWant(t, ctx, exitOK, append(append([]string{"run"}, args...), "--out", one)...)
	shards, _ = startShards(t, ctx, root, n, shardCode, args...)
	if t.Failed() {
		t.FailNow()
	}
	merged = filepath.Join(root, "merged")
	return one, shards, merged, runMerge(t, exitOK, merged, shards...)
}

// runMerge runs `llmload merge dirs... --out out` in this process and
// returns its output; an exit code other than want fails t.
func runMerge(t *testing.T, want int, out string, dirs ...string) string {
	t.Helper()
	var o, e bytes.Buffer
	if code := dispatch(append(append([]string{"merge"}, dirs...), "--out", out), &o, &e); code != want {
		t.Fatalf("llmload merge: exit %d, want %d\n%s%s", code, want, o.String(), e.String())
	}
	return e.String() + o.String()
}

// samePercentiles checks the merged summary m's percentiles against want,
// a recorder's summary of the same requests: they must be equal.
func samePercentiles(t *testing.T, m map[string]any, want *record.Summary) {
	t.Helper()
	for _, st := range []struct {
		key string
		s   record.Stats
	}{{"ttft", want.TTFT}, {"tpot", want.TPOT}, {"itl", want.ITL}, {"e2el", want.E2EL},
		{"ttft_from_schedule", want.TTFTFromSchedule}, {"e2el_from_schedule", want.E2ELFromSchedule},
		{"client_queue_time", want.QueueTime}, {"schedule_lag", want.ScheduleLag}} {
		for p, v := range map[string]time.Duration{"p50": st.s.P50, "p90": st.s.P90, "p95": st.s.P95, "p99": st.s.P99, "min": st.s.Min, "max": st.s.Max} {
			if got := m[p+"_"+st.key+"_ms"]; got != float64(v)/1e6 {
				t.Errorf("%s %s: merged %v ms, the shards' lines in one recorder %v", st.key, p, got, v)
			}
		}
	}
}

// editShardMeta hand-edits dir's summary.json meta.shard, numbers kept to
// the digit (the shard's seed is a uint64).
func editShardMeta(t *testing.T, dir string, edit func(shard map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, "summary.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		t.Fatal(err)
	}
	edit(s["meta"].(map[string]any)["shard"].(map[string]any))
	if b, err = json.Marshal(s); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func summaryOf(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// recordShards feeds every shard's request lines, shard after shard, into
// one recorder (no files) and returns its summary.
func recordShards(t *testing.T, dirs []string) *record.Summary {
	t.Helper()
	warm := false
	rec, err := record.New(record.Config{Epoch: time.Unix(0, 0), SLO: record.SLO{TTFT: 300 * time.Millisecond},
		Warmup: func(*request.Result) bool { return warm }})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		err := rundir.EachLine(filepath.Join(d, "requests.jsonl"), func(b []byte, n int, _ int64) error {
			l, err := record.ParseRequestLine(b)
			warm = l.Warmup
			if err == nil {
				rec.Record(&l.Result)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	s, _ := rec.Close()
	return s
}

// exactPercentiles checks the merged percentiles against nearest-rank
// percentiles of the exact values in the merged requests.jsonl: each
// within 0.1% (3 significant digits) and 1 us (the histograms' unit).
func exactPercentiles(t *testing.T, dir string, m map[string]any) {
	t.Helper()
	vals := map[string][]float64{}
	err := rundir.EachLine(filepath.Join(dir, "requests.jsonl"), func(b []byte, n int, _ int64) error {
		var l struct {
			TTFT, TPOT, E2EL *float64
			ITL              []float64 `json:"itl_ms"`
			Error            *string
		}
		if err := json.Unmarshal(bytes.ReplaceAll(bytes.ReplaceAll(b, []byte(`"ttft_ms"`), []byte(`"ttft"`)),
			[]byte(`"e2el_ms"`), []byte(`"e2el"`)), &l); err != nil {
			return err
		}
		if l.Error != nil {
			return nil
		}
		for k, p := range map[string]*float64{"ttft": l.TTFT, "e2el": l.E2EL} {
			if p != nil {
				vals[k] = append(vals[k], *p)
			}
		}
		vals["itl"] = append(vals["itl"], l.ITL...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key, v := range vals {
		slices.Sort(v)
		for _, q := range []float64{50, 90, 95, 99} {
			rank := max(int(q/100*float64(len(v))+0.5), 1)
			exact := v[rank-1]
			got := m[fmt.Sprintf("p%g_%s_ms", q, key)].(float64)
			if math.Abs(got-exact) > exact*1e-3+1e-3 {
				t.Errorf("%s p%g: merged %v ms, exact %v ms: off by more than HdrHistogram's precision", key, q, got, exact)
			}
		}
	}
}
