package merge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/llmload/llmload/engine/results/observe"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/engine/results/rundir"
	"github.com/llmload/llmload/engine/results/threshold"
)

// The summary.json sections that are not per request, and their rules
// (docs/metrics.md, "Merged shards"):
//   - thresholds: the definitions are read back from the first shard's
//     results (their expressions) and checked on the merged summary;
//   - server, energy: shards watching one server make the same
//     observation, so one shard's is taken (the first whose status is ok)
//     and set beside the merged client figures;
//   - custom: counters add; trends merge count, mean, min and max, and
//     leave out percentiles, which cannot be merged from the summaries;
//   - skipped_rows: every shard reads the whole source (it reads, times
//     and maps every row and builds only its own), so the largest count
//     is the source's, and that shard's reasons are kept;
//   - sessions: the counters add; the distributions are each shard's
//     machine's and stay per shard, which the merged section says
//     (sessionsNotMerged);
//   - everything else (capacity, ...) and each shard's identity stay per
//     shard, under "shards".

// finish is the merged recorder's Finish: it fills the sections above
// and returns the thresholds checked on s.
func finish(s *record.Summary, shards []*shard) threshold.Results {
	first := shards[0].run.Summary
	checks := threshold.Check(thresholdsOf(first), s)
	s.Extra = map[string]any{"thresholds": checks, "shards": perShard(shards)}
	if obs, ok := server(shards); ok {
		obs.SetClient(observe.Client{
			Completed: s.Completed, InputTokens: s.TotalInputTokens, OutputTokens: s.TotalOutputTokens,
			MeanTTFT: time.Duration(s.TTFT.Mean), MeanE2E: time.Duration(s.E2EL.Mean),
		})
		s.Extra["server"], s.Extra["energy"] = obs.Server, obs.Energy
	}
	if _, ok := first["skipped_rows"]; ok {
		s.Extra["skipped_rows"] = skipped(shards)
	}
	if _, ok := first["custom"]; ok {
		s.Extra["custom"] = custom(shards)
	}
	if _, ok := first["sessions"]; ok {
		sessions := map[string]any{"mode": sectionOf(shards[0], "sessions")["mode"]}
		for _, k := range []string{"started", "completed", "stopped", "turns"} {
			sessions[k] = sum(shards, "sessions", k)
		}
		sessions["not_merged"] = sessionsNotMerged
		s.Extra["sessions"] = sessions
	}
	return checks
}

// thresholdsOf reads the thresholds back from a summary's "thresholds":
// each entry's expression as the scenario wrote it, parsed again.
func thresholdsOf(summary map[string]any) []threshold.Threshold {
	list, _ := summary["thresholds"].([]any)
	var out []threshold.Threshold
	for _, e := range list {
		m, _ := e.(map[string]any)
		expr, _ := m["threshold"].(string)
		t, err := threshold.Parse(expr)
		if err != nil {
			continue // the run parsed it; an entry that does not parse is not one of its thresholds
		}
		t.AbortOnFail, _ = m["abort_on_fail"].(bool)
		out = append(out, t)
	}
	return out
}

// perShard is each shard's identity and the sections that are not merged.
func perShard(shards []*shard) []map[string]any {
	out := make([]map[string]any, len(shards))
	for i, s := range shards {
		e := map[string]any{"index": s.index, "dir": s.dir, "started_at": s.run.Str("started_at"),
			"completed": s.run.Summary["completed"], "failed": s.run.Summary["failed"],
			"requests_log_dropped": s.run.Summary["requests_log_dropped"]}
		if m, ok := s.run.Meta("shard").(map[string]any); ok {
			for _, k := range []string{"seed", "start_at", "clock_offset_ms", "clock_offset_uncertainty_ms", "clock_offset_method"} {
				if v, ok := m[k]; ok {
					e[k] = v
				}
			}
		}
		for k, v := range s.run.Summary {
			if _, own := mergedKeys[k]; !own && !isRecorderKey(k) {
				e[k] = v
			}
		}
		out[i] = e
	}
	return out
}

// mergedKeys are the sections finish merges that are not also kept per
// shard (sessions and custom are: their distributions are not merged).
var mergedKeys = map[string]bool{"thresholds": true, "server": true, "energy": true, "skipped_rows": true}

// isRecorderKey reports whether summary.json's key is one the recorder
// writes (rebuilt from the request lines, not per shard).
func isRecorderKey(k string) bool {
	return recorderKeys[k] || strings.HasSuffix(k, "_over_24h")
}

var recorderKeys = func() map[string]bool {
	b, err := json.Marshal(&record.Summary{})
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	keys := map[string]bool{"by_turn": true}
	for k := range m {
		keys[k] = true
	}
	return keys
}()

// server is the server and energy view of the first shard that observed
// the server (status ok), else of the first shard that has one.
func server(shards []*shard) (observe.Summary, bool) {
	pick := serverShard(shards)
	if pick == nil {
		pick = shards[0]
	}
	var obs observe.Summary
	sv, sok := pick.run.Summary["server"]
	en, eok := pick.run.Summary["energy"]
	if !sok && !eok {
		return obs, false
	}
	if remarshal(sv, &obs.Server) != nil || remarshal(en, &obs.Energy) != nil {
		return obs, false
	}
	return obs, true
}

// serverShard is the first shard that observed the server (status ok),
// nil when none did.
func serverShard(shards []*shard) *shard {
	for _, s := range shards {
		if sectionOf(s, "server")["status"] == "ok" {
			return s
		}
	}
	return nil
}

func remarshal(from, to any) error {
	if from == nil {
		return nil
	}
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

func sectionOf(s *shard, key string) map[string]any {
	m, _ := s.run.Summary[key].(map[string]any)
	return m
}

// sum adds section[key] over the shards.
func sum(shards []*shard, section, key string) float64 {
	var t float64
	for _, s := range shards {
		v, _ := rundir.Number(sectionOf(s, section)[key])
		t += v
	}
	return t
}

// sessionsNotMerged is the merged "sessions" section's note on what it
// leaves out: per-session and per-step distributions cannot be rebuilt
// from request lines, and rates are each shard's machine's.
const sessionsNotMerged = "turns_per_session, session_duration, think_time, step_cost, start_cost, step_cpu, turn_rate, server_wait_share and zero_latency_turn_rate are each shard's, in shards[i].sessions; by_turn is merged exactly from every request"

// skipped is the merged "skipped_rows": every number's largest value over
// the shards (each read the same rows; the one that read furthest skipped
// the most), with the reasons of the shard that skipped the most
// malformed rows.
func skipped(shards []*shard) map[string]any {
	out := map[string]any{}
	most := -1.0
	for _, s := range shards {
		sec := sectionOf(s, "skipped_rows")
		for k, v := range sec {
			if f, ok := rundir.Number(v); ok {
				old, _ := out[k].(float64)
				out[k] = max(old, f)
			}
		}
		if n, _ := rundir.Number(sec["malformed"]); n > most {
			most = n
			if r, ok := sec["reasons"]; ok {
				out["reasons"] = r
			} else {
				delete(out, "reasons")
			}
		}
	}
	return out
}

// custom merges the script's llm.counter and llm.trend metrics.
func custom(shards []*shard) map[string]any {
	type trend struct {
		n             float64
		sum, min, max float64
	}
	counters, trends := map[string]float64{}, map[string]*trend{}
	for _, s := range shards {
		for name, v := range sectionOf(s, "custom") {
			m, _ := v.(map[string]any)
			switch m["type"] {
			case "counter":
				f, _ := rundir.Number(m["value"])
				counters[name] += f
			case "trend":
				n, _ := rundir.Number(m["count"])
				mean, _ := rundir.Number(m["mean"])
				lo, _ := rundir.Number(m["min"])
				hi, _ := rundir.Number(m["max"])
				t := trends[name]
				if t == nil {
					t = &trend{}
					trends[name] = t
				}
				if n > 0 {
					if t.n == 0 || lo < t.min {
						t.min = lo
					}
					if t.n == 0 || hi > t.max {
						t.max = hi
					}
				}
				t.n += n
				t.sum += mean * n
			}
		}
	}
	out := map[string]any{}
	for name, v := range counters {
		out[name] = map[string]any{"type": "counter", "value": v}
	}
	for name, t := range trends {
		m := map[string]any{"type": "trend", "count": t.n,
			"percentiles": "not merged: each shard's are in shards[i].custom; count, mean, min and max are exact"}
		if t.n > 0 {
			m["mean"], m["min"], m["max"] = t.sum/t.n, t.min, t.max
		}
		out[name] = m
	}
	return out
}

// copyServer copies server.jsonl of the shard whose server view the
// merged summary took, onto the merged axis (t_s moved by the shard's
// delta).
func copyServer(shards []*shard, out string) error {
	pick := serverShard(shards)
	if pick == nil {
		return nil
	}
	var buf bytes.Buffer
	err := rundir.EachLine(filepath.Join(pick.dir, rundir.ServerFile), func(line []byte, n int, _ int64) error {
		if pick.delta == 0 {
			buf.Write(line)
			if line[len(line)-1] != '\n' {
				buf.WriteByte('\n')
			}
			return nil
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("%s/%s:%d: %v", pick.dir, rundir.ServerFile, n, err)
		}
		t, err := strconv.ParseFloat(string(m["t_s"]), 64)
		if err != nil {
			return fmt.Errorf(`%s/%s:%d: "t_s" is not a number`, pick.dir, rundir.ServerFile, n)
		}
		m["t_s"] = json.RawMessage(strconv.FormatFloat(t+pick.delta.Seconds(), 'f', -1, 64))
		b, _ := json.Marshal(m)
		buf.Write(append(b, '\n'))
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, rundir.ServerFile), buf.Bytes(), 0o644)
}
