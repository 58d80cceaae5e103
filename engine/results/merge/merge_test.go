package merge

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/results/record"
)

var epoch = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// results is a made-up run: open-loop requests every 7 ms, some failed,
// with token streams, finishing out of order.
func results(n int) []*request.Result {
	rng := rand.New(rand.NewPCG(7, 7))
	out := make([]*request.Result, n)
	for i := range out {
		due := time.Duration(i) * 7 * time.Millisecond
		r := &request.Result{Seq: int64(i), Scenario: "s", Scheduled: due, Released: due + time.Duration(rng.IntN(500))*time.Microsecond,
			PromptTokensRequested: 100, MaxTokens: 20, Status: 200, BytesSent: 900, BytesRecv: 5000}
		r.Dispatched = r.Released + time.Duration(rng.IntN(3000))*time.Microsecond
		r.Sent = r.Dispatched + 50*time.Microsecond
		r.Headers = r.Sent + time.Millisecond
		if i%11 == 5 {
			r.Error, r.Status, r.LastByte = request.ErrHTTPStatus, 503, r.Headers
			out[i] = r
			continue
		}
		t := time.Duration(5+rng.IntN(400)) * time.Millisecond
		for range 1 + rng.IntN(30) {
			r.TokenTimes = append(r.TokenTimes, t)
			t += time.Duration(1+rng.IntN(40000)) * time.Microsecond
		}
		r.FirstToken, r.LastByte = r.Sent+r.TokenTimes[0], r.Sent+t
		r.CompletionTokens, r.PromptTokens, r.UsageFromServer = len(r.TokenTimes), 100, true
		out[i] = r
	}
	return out
}

var slo = record.SLO{TTFT: 200 * time.Millisecond}

// write records rs into dir as a run with meta, the way `llmload run` does.
func write(t *testing.T, dir string, rs []*request.Result, meta map[string]any) *record.Summary {
	t.Helper()
	rec, err := record.New(record.Config{Name: "s", OutDir: dir, Epoch: epoch, SLO: slo, Meta: meta, WarmupRequests: 3,
		Finish: func(s *record.Summary) {
			s.Extra = map[string]any{"thresholds": []map[string]any{{"threshold": "ttft p99 < 1ms"}, {"threshold": "completed >= 1"}},
				"custom": map[string]any{"hits": map[string]any{"type": "counter", "value": 2}}}
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		rec.Record(r)
	}
	s, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func shardMeta(i, n int) map[string]any {
	return map[string]any{"scenario_file": "x.lua", "scenario_sha256": "ab", "seed": 1,
		"shard": map[string]any{"index": i, "count": n, "seed": 100 + i, "clock_offset_ms": float64(i) * 1.5}}
}

// shards writes rs as n shards (row j to shard j mod n, numbered in its
// shard as a sharded run numbers them) and returns their directories.
func shards(t *testing.T, rs []*request.Result, n int) []string {
	t.Helper()
	dirs := make([]string, n)
	for i := range n {
		dirs[i] = filepath.Join(t.TempDir(), "s")
		write(t, dirs[i], part(rs, i, n), shardMeta(i, n))
	}
	return dirs
}

// part is shard i of n's rows of rs: row j when j mod n = i, numbered in
// the shard.
func part(rs []*request.Result, i, n int) []*request.Result {
	var out []*request.Result
	for j, r := range rs {
		if j%n == i {
			c := *r
			c.Seq = int64(len(out))
			out = append(out, &c)
		}
	}
	return out
}

// Merged shards give the summary one recorder gives the same results:
// every count, histogram percentile, extreme and window exactly; means and
// standard deviations to float rounding (they are summed in another
// order). Warm-up is each shard's (its first 3 requests).
func TestMergeEqualsOneRecorder(t *testing.T) {
	rs := results(400)
	dirs := shards(t, rs, 4)
	out := filepath.Join(t.TempDir(), "merged")
	res, err := Merge(Options{Dirs: dirs, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	// The single run with the shards' warm-up verdicts.
	warm := map[*request.Result]bool{}
	for j, r := range rs {
		warm[r] = j/4 < 3
	}
	rec, err := record.New(record.Config{Name: "s", Epoch: epoch, SLO: slo, Warmup: func(r *request.Result) bool { return warm[r] }})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		rec.Record(r)
	}
	want, _ := rec.Close()
	got := res.Summary
	if got.WarmupExcluded != 12 || got.Completed+got.Failed != 388 {
		t.Fatalf("warm-up %d, measured %d; want 12 and 388", got.WarmupExcluded, got.Completed+got.Failed)
	}
	sameStats(t, got, want)
	if got.Completed != want.Completed || got.Failed != want.Failed || got.TotalOutputTokens != want.TotalOutputTokens ||
		got.GoodRequests != want.GoodRequests || got.Duration != want.Duration || got.Windows != want.Windows ||
		!reflect.DeepEqual(got.ErrorsByClass, want.ErrorsByClass) || got.TargetRate != want.TargetRate {
		t.Errorf("merged %+v\nwant   %+v", got, want)
	}
	if len(res.Checks) != 2 || res.Checks[0].Pass || !res.Checks[1].Pass {
		t.Errorf("thresholds on the merged run: %+v; want ttft p99 < 1ms failing, completed >= 1 passing", res.Checks)
	}
	var file struct {
		Meta   map[string]any `json:"meta"`
		Custom map[string]map[string]any
	}
	b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	sh, _ := json.Marshal(file.Meta["shard"])
	if string(sh) != `{"count":4,"max_clock_skew_ms":4.5,"merged":[0,1,2,3],"partial":false}` {
		t.Errorf("meta.shard = %s", sh)
	}
	if v := file.Custom["hits"]["value"]; v != 8.0 {
		t.Errorf("custom counter hits = %v, want 8 (2 per shard)", v)
	}
}

// sameStats checks every distribution of got against want: exactly, but
// for means and standard deviations, which are summed in another order.
// It leaves them zero.
func sameStats(t *testing.T, got, want *record.Summary) {
	t.Helper()
	for _, c := range []struct {
		name      string
		got, want *record.Stats
	}{{"ttft", &got.TTFT, &want.TTFT}, {"tpot", &got.TPOT, &want.TPOT}, {"itl", &got.ITL, &want.ITL}, {"e2el", &got.E2EL, &want.E2EL},
		{"queue", &got.QueueTime, &want.QueueTime}, {"lag", &got.ScheduleLag, &want.ScheduleLag},
		{"ttft_sched", &got.TTFTFromSchedule, &want.TTFTFromSchedule}, {"e2el_sched", &got.E2ELFromSchedule, &want.E2ELFromSchedule}} {
		g, w := c.got, c.want
		if !near(g.Mean, w.Mean) || !near(g.Std, w.Std) {
			t.Errorf("%s: mean %v std %v, want %v %v", c.name, g.Mean, g.Std, w.Mean, w.Std)
		}
		g.Mean, g.Std, w.Mean, w.Std = 0, 0, 0, 0
		if *g != *w {
			t.Errorf("%s: %+v, want %+v", c.name, *g, *w)
		}
	}
}

func near(a, b float64) bool { return a == b || (a-b)/b < 1e-12 && (b-a)/b < 1e-12 }

// editMeta rewrites dir's summary.json: f changes its meta and returns
// more top-level keys to set.
func editMeta(t *testing.T, dir string, f func(meta map[string]any) map[string]any) {
	t.Helper()
	path := filepath.Join(dir, "summary.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	for k, v := range f(s["meta"].(map[string]any)) {
		s[k] = v
	}
	b, _ = json.Marshal(s)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMergeRefuses(t *testing.T) {
	rs := results(40)
	for name, c := range map[string]struct {
		edit    func(dirs []string) []string
		opt     Options
		want    string
		partial bool
	}{
		"other scenario": {edit: func(d []string) []string {
			editMeta(t, d[2], func(m map[string]any) map[string]any { m["scenario_sha256"] = "cd"; return nil })
			return d
		}, want: `SHA-256 (meta.scenario_sha256) differ ("ab" and "cd")`},
		"other scenario file": {edit: func(d []string) []string {
			editMeta(t, d[2], func(m map[string]any) map[string]any { m["scenario_file"] = "scenarios/y.lua"; return nil })
			return d
		}, want: `scenario file name (meta.scenario_file, without its directory) differ ("x.lua" and "y.lua")`},
		"same scenario from other directories": {edit: func(d []string) []string {
			editMeta(t, d[1], func(m map[string]any) map[string]any { m["scenario_file"] = "/home/b/llmload/x.lua"; return nil })
			editMeta(t, d[3], func(m map[string]any) map[string]any { m["scenario_file"] = `C:\llmload\x.lua`; return nil })
			return d
		}},
		"other seed": {edit: func(d []string) []string {
			editMeta(t, d[1], func(m map[string]any) map[string]any { m["seed"] = 2; return nil })
			return d
		}, want: "run seed (meta.seed) differ"},
		"other count": {edit: func(d []string) []string {
			editMeta(t, d[3], func(m map[string]any) map[string]any { m["shard"].(map[string]any)["count"] = 5; return nil })
			return d
		}, want: "shard count (meta.shard.count) differ"},
		"same shard twice": {edit: func(d []string) []string { return append(d, d[1]) }, want: "are both shard 1 of 4"},
		"missing":          {edit: func(d []string) []string { return []string{d[0], d[3], d[1]} }, want: "shard 2 of 4 missing: given"},
		"missing allowed": {edit: func(d []string) []string { return []string{d[0], d[3], d[1]} },
			opt: Options{AllowPartial: true}, partial: true},
		"unsharded": {edit: func(d []string) []string {
			editMeta(t, d[0], func(m map[string]any) map[string]any { delete(m, "shard"); return nil })
			return d
		}, want: "is not a shard"},
		"lost lines": {edit: func(d []string) []string {
			editMeta(t, d[0], func(map[string]any) map[string]any { return map[string]any{"requests_log_dropped": 3} })
			return d
		}, want: "lost 3 requests.jsonl lines"},
		"lost lines forced": {edit: func(d []string) []string {
			editMeta(t, d[0], func(map[string]any) map[string]any { return map[string]any{"requests_log_dropped": 3} })
			return d
		}, opt: Options{Force: true}},
		"not a results dir": {edit: func(d []string) []string { return append(d, t.TempDir()) }, want: "is not a results directory"},
	} {
		t.Run(name, func(t *testing.T) {
			opt := c.opt
			opt.Dirs = c.edit(shards(t, rs, 4))
			opt.Out = filepath.Join(t.TempDir(), "m")
			res, err := Merge(opt)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.partial != (len(res.Missing) > 0) || c.partial && !strings.Contains(res.Warnings[0], "partial merge: shard 2 of 4 missing") {
					t.Errorf("missing %v, warnings %q", res.Missing, res.Warnings)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if _, serr := os.Stat(filepath.Join(opt.Out, "summary.json")); serr == nil {
				t.Error("a refused merge wrote summary.json")
			}
		})
	}
}

// One unsharded directory alone merges into itself: the summary rebuilt
// from its lines is the one the run wrote.
func TestMergeOneUnshardedRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	want := write(t, dir, results(100), map[string]any{"scenario_file": "x.lua"})
	res, err := Merge(Options{Dirs: []string{dir}, Out: filepath.Join(t.TempDir(), "m")})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Summary
	sameStats(t, got, want)
	got.Meta, want.Meta, got.Extra, want.Extra = nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rebuilt %+v\nwant    %+v", got, want)
	}
}
