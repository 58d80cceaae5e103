package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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

// The same trace as one process and as 4 shards against the built-in
// simulator, merged. The runs are separate runs of a simulator, so their
// latencies differ: what must be equal to the one process is what was
// sent and received (completed, failed, token totals). The merged
// percentiles are checked (1) against every shard's request lines fed
// into one recorder here, exactly, and (2) against the exact
// nearest-rank percentiles of the merged requests, within HdrHistogram's
// precision (3 significant digits, 1 us resolution).
// TODO(lead): once --shard lands, run the shards with --shard i/4
// --start-at and drop fakeShardMeta.
func TestMergeShardsEqualsOneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs five simulated runs")
	}
	root := filepath.Join(t.TempDir(), "r")
	// The scenario's threshold "completed >= 40" fails in each shard (10
	// requests) and holds on the merged run: thresholds are checked on
	// the merged data.
	run := func(out string, wantCode int, extra ...string) {
		t.Helper()
		args := append([]string{"run", "../../" + shardScenario, "--seed", "7", "--no-ui", "--server-metrics", "off", "--out", out}, extra...)
		var o, e bytes.Buffer
		if code := dispatch(args, &o, &e); code != wantCode {
			t.Fatalf("llmload %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, o.String(), e.String())
		}
	}
	one := filepath.Join(root, "one")
	run(one, exitOK)
	dirs := make([]string, 4)
	for i := range dirs {
		dirs[i] = filepath.Join(root, fmt.Sprintf("s%d", i))
		run(dirs[i], exitThresholds, "--part", fmt.Sprint(i), "--parts", "4")
	}
	fakeShardMeta(t, dirs)
	merged := filepath.Join(root, "merged")
	var o, e bytes.Buffer
	if code := dispatch(append(append([]string{"merge"}, dirs...), "--out", merged), &o, &e); code != exitOK {
		t.Fatalf("llmload merge: exit %d\n%s%s", code, o.String(), e.String())
	}
	single, m := summaryOf(t, one), summaryOf(t, merged)
	for _, k := range []string{"completed", "failed", "total_input_tokens", "total_output_tokens", "itl_count", "sent"} {
		if single[k] != m[k] || m[k] == nil {
			t.Errorf("%s: merged %v, one process %v", k, m[k], single[k])
		}
	}
	want := recordShards(t, dirs)
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
	exactPercentiles(t, merged, m)
}

// fakeShardMeta writes what a --shard --start-at run writes into meta and
// started_at: the shard's place, the scenario's hash, one epoch.
func fakeShardMeta(t *testing.T, dirs []string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", shardScenario))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	var epoch any
	for i, d := range dirs {
		s := summaryOf(t, d)
		if i == 0 {
			epoch = s["started_at"]
		}
		s["started_at"] = epoch
		meta := s["meta"].(map[string]any)
		meta["scenario_sha256"] = hex.EncodeToString(sum[:])
		meta["shard"] = map[string]any{"index": i, "count": len(dirs), "seed": i}
		b, _ := json.Marshal(s)
		if err := os.WriteFile(filepath.Join(d, "summary.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
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
