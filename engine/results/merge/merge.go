// Package merge merges the results directories of the shards of one run
// (`llmload run --shard i/n`) into one results directory, as if one
// process had run all the work (`llmload merge`; docs/cli.md, and
// docs/metrics.md for what is exact). Files only, never a live run.
//
// Everything per request is rebuilt, not combined: every shard's
// requests.jsonl line is read back into its Result (record.ParseRequestLine)
// and fed, in the order the requests finished on the shared epoch, into a
// fresh record.Recorder. The merged histograms, percentiles, windows,
// by_turn and goodput are therefore computed by the one code path that
// computes a single run's, from the same numbers; none is averaged. What
// is not per request has its own rule (extra.go). Merge is one call, not
// safe to run twice into the same directory at once.
package merge

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/engine/results/rundir"
	"github.com/llmload/llmload/engine/results/threshold"
)

// Options say what to merge.
type Options struct {
	Dirs []string // the shards' results directories, in any order
	Out  string   // the merged results directory (prepared by the caller, as run --out)
	// AllowPartial merges the shards there are when some are missing; the
	// result is marked meta.shard.partial.
	AllowPartial bool
	// Force merges shards whose requests.jsonl lost lines
	// (requests_log_dropped): the merged figures then leave those
	// requests out.
	Force bool
}

// Result is the merged run.
type Result struct {
	Summary *record.Summary
	Checks  threshold.Results // the scenario's thresholds on the merged summary
	Missing []int             // shard indexes not merged (AllowPartial)
	// Warnings are what the merged directory holds but a user must know:
	// missing shards, lost request lines, shards' clocks apart.
	Warnings []string
}

// Merge merges opt.Dirs into opt.Out. Inputs that are not the shards of one
// run are refused with an error that names the directories and what
// differs.
func Merge(opt Options) (*Result, error) {
	shards := make([]*shard, 0, len(opt.Dirs))
	for _, d := range opt.Dirs {
		s, err := readShard(d)
		if err != nil {
			return nil, err
		}
		shards = append(shards, s)
	}
	missing, err := check(shards, opt.AllowPartial)
	if err != nil {
		return nil, err
	}
	res := &Result{Missing: missing}
	if len(missing) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("partial merge: shard %s of %d missing; the merged figures cover only %s", joinInts(missing), shards[0].count, given(shards)))
	}
	if w := skewWarning(shards); w != "" {
		res.Warnings = append(res.Warnings, w)
	}
	var lost int64
	for _, s := range shards {
		if n := int64(s.run.NumOr("requests_log_dropped", 0)); n > 0 {
			if !opt.Force {
				return nil, fmt.Errorf("%s lost %d requests.jsonl lines to a slow disk (requests_log_dropped): the merged summary is rebuilt from those lines, so its counts and percentiles would leave those requests out; pass --force to merge anyway (the merged requests_log_dropped says how many are missing)", s.dir, n)
			}
			lost += n
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s lost %d requests.jsonl lines: the merged figures leave those requests out", s.dir, n))
		}
	}
	epoch := placeOnAxis(shards)
	lines, err := indexLines(shards)
	if err != nil {
		return nil, err
	}
	rec, warmup, err := newRecorder(shards, opt.Out, epoch, missing, func(s *record.Summary) {
		s.RequestsLogDropped += lost
		res.Checks = finish(s, shards)
	})
	if err != nil {
		return nil, err
	}
	if err := feed(rec, shards, lines, warmup); err != nil {
		rec.Close()
		return nil, err
	}
	res.Summary, err = rec.Close()
	if err != nil {
		return res, err
	}
	return res, copyServer(shards, opt.Out)
}

// newRecorder makes the recorder that computes the merged summary, with
// the settings of the shards' run. The first shard's meta is kept, with
// meta.shard saying what was merged. *warmup is the warm-up verdict of
// the result being recorded.
func newRecorder(shards []*shard, out string, epoch time.Time, missing []int, finish func(*record.Summary)) (*record.Recorder, *bool, error) {
	first := shards[0].run
	meta := map[string]any{}
	if m, ok := first.Summary["meta"].(map[string]any); ok {
		for k, v := range m {
			meta[k] = v
		}
	}
	merged := make([]int, len(shards))
	for i, s := range shards {
		merged[i] = s.index
	}
	meta["shard"] = map[string]any{"merged": merged, "count": shards[0].count, "partial": len(missing) > 0, "max_clock_skew_ms": maxClockSkew(shards)}
	slo, err := readSLO(first)
	if err != nil {
		return nil, nil, err
	}
	warmup := new(bool)
	rec, err := record.New(record.Config{
		Name: first.Name(), OutDir: out, Epoch: epoch, Meta: meta, SLO: slo,
		SampleInterval: time.Duration(first.NumOr("sample_interval_s", 0) * 1e9),
		Warmup:         func(*request.Result) bool { return *warmup },
		Finish:         finish,
	})
	return rec, warmup, err
}

// readSLO reads summary.json's "slo": {"ttft_ms": 1000, "tpot_ms": null, ...}.
func readSLO(r *rundir.Run) (record.SLO, error) {
	m, _ := r.Summary["slo"].(map[string]any)
	var slo record.SLO
	for key, dst := range map[string]*time.Duration{"ttft_ms": &slo.TTFT, "tpot_ms": &slo.TPOT, "e2el_ms": &slo.E2E} {
		if m[key] == nil {
			continue
		}
		v, ok := rundir.Number(m[key])
		if !ok || v < 0 {
			return slo, fmt.Errorf("%s/summary.json: slo.%s is %v, not a number of milliseconds", r.Dir, key, m[key])
		}
		*dst = time.Duration(v * 1e6)
	}
	return slo, nil
}

// lineRef locates one request line and keeps what orders it.
type lineRef struct {
	shard            int32 // index into the shards slice
	seq              int64 // the shard's own seq
	off              int64
	size             int32
	scheduled, finis time.Duration // on the merged axis
}

// indexLines reads every shard's requests.jsonl once, checking each line,
// and returns where each line is, in the order the merged run numbers
// them (seq): by due time, then the shard's seq, then shard. A --shard
// run's seq is the one-process one (row k is seq k in whichever shard),
// so rows due at one instant keep one process's order.
func indexLines(shards []*shard) ([]lineRef, error) {
	var refs []lineRef
	for i, s := range shards {
		path := filepath.Join(s.dir, rundir.RequestsFile)
		err := rundir.EachLine(path, func(b []byte, n int, off int64) error {
			l, err := record.ParseRequestLine(b)
			if err != nil {
				return fmt.Errorf("%s:%d: %v (is the file from llmload run, and whole?)", path, n, err)
			}
			if len(b) > 1<<31-1 {
				return fmt.Errorf("%s:%d: a line of %d bytes", path, n, len(b))
			}
			r := &l.Result
			refs = append(refs, lineRef{shard: int32(i), seq: r.Seq, off: off, size: int32(len(b)),
				scheduled: r.Scheduled + s.delta, finis: record.FinishedAt(r) + s.delta})
			return nil
		})
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s has no %s: the merged figures are rebuilt from every shard's request lines", s.dir, rundir.RequestsFile)
		}
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(refs, func(a, b lineRef) int {
		return cmpRefs(a.scheduled, b.scheduled, a, b)
	})
	return refs, nil
}

func cmpRefs(x, y time.Duration, a, b lineRef) int {
	switch {
	case x != y:
		return cmp.Compare(x, y)
	case a.seq != b.seq:
		return cmp.Compare(a.seq, b.seq)
	}
	return int(a.shard - b.shard)
}

// feed records every line into rec in the order the requests finished on
// the merged axis (as a single run's recorder sees them), each numbered
// by its place in refs and moved onto the merged axis.
func feed(rec *record.Recorder, shards []*shard, refs []lineRef, warmup *bool) error {
	order := make([]int32, len(refs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int { return cmpRefs(refs[i].finis, refs[j].finis, refs[i], refs[j]) })
	files := make([]*os.File, len(shards))
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	var buf []byte
	for _, i := range order {
		ref := refs[i]
		s := shards[ref.shard]
		f := files[ref.shard]
		if f == nil {
			var err error
			if f, err = os.Open(filepath.Join(s.dir, rundir.RequestsFile)); err != nil {
				return err
			}
			files[ref.shard] = f
		}
		buf = slices.Grow(buf[:0], int(ref.size))[:ref.size]
		if _, err := f.ReadAt(buf, ref.off); err != nil {
			return fmt.Errorf("%s: reading a line again: %w (did the file change during the merge?)", f.Name(), err)
		}
		l, err := record.ParseRequestLine(buf)
		if err != nil {
			return fmt.Errorf("%s: at byte %d: %v (did the file change during the merge?)", f.Name(), ref.off, err)
		}
		r := &l.Result
		r.Seq = int64(i)
		shift(r, s.delta)
		*warmup = l.Warmup
		rec.Record(r)
	}
	return nil
}

// shift moves r's instants d later; instants a result does not have (0:
// a dropped plan's send, a request without a token) stay 0.
func shift(r *request.Result, d time.Duration) {
	if d == 0 {
		return
	}
	r.Scheduled += d
	r.Released += d
	for _, t := range []*time.Duration{&r.Dispatched, &r.Sent, &r.Headers, &r.FirstToken, &r.LastByte} {
		if *t != 0 {
			*t += d
		}
	}
}
