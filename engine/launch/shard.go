package launch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/shard"
)

// receiptSamples is how many of the run's first results with a simulator
// receipt bound the clock offset: enough to find a tight one, few enough
// that the workers stop touching the estimator's lock early.
const receiptSamples = 64

// checkShard refuses what a shard cannot run: a capacity search judges
// each step on the whole load's SLO goodput, which no shard sees.
func checkShard(cfg *Config) error {
	if !cfg.Shard.On() {
		return nil
	}
	for _, sc := range cfg.Scenarios {
		if sc.Capacity != nil {
			return fmt.Errorf("--shard %s: scenario %s is a capacity search, which cannot be sharded: each step's verdict needs the SLO goodput of the whole load, which no shard sees; run it in one process", cfg.Shard, sc.Name)
		}
	}
	return nil
}

// startAtSeed is the prompt seed of a run that gives --start-at but no
// --prompt-seed: shards of one run must write the same text as one
// process (the same instant, the same seed), while another run (another
// instant) still misses the prefix cache the last one filled.
func startAtSeed(cfg *Config) {
	if cfg.PromptSeed == 0 && !cfg.StartAt.IsZero() {
		cfg.PromptSeed = shard.Mix(cfg.Seed, uint64(cfg.StartAt.UnixNano())) | 1
	}
}

// setEpoch is the run's start: StartAt when given (Prepare, which began
// at begun, must have ended before it), else EpochLead from now.
func (r *Run) setEpoch(begun time.Time) error {
	if r.cfg.StartAt.IsZero() {
		r.epoch = time.Now().Add(r.cfg.EpochLead)
		return nil
	}
	if late := time.Since(r.cfg.StartAt); late >= 0 {
		return fmt.Errorf("--start-at %s is too soon: it passed %s before the run was ready (the probes before the run took %s: server start, /v1/models, /tokenize); give an instant further ahead",
			r.cfg.StartAt.Format(time.RFC3339Nano), late.Round(time.Millisecond), time.Since(begun).Round(time.Millisecond))
	}
	// The same instant with a monotonic reading, so the run's clock
	// does not follow later steps of the wall clock.
	now := time.Now()
	r.epoch = now.Add(r.cfg.StartAt.Sub(now))
	return nil
}

// waitStart waits for a --start-at epoch, less the lead the planners
// need, saying on the log how long. A cancelled ctx ends the wait.
func (r *Run) waitStart(ctx context.Context) error {
	if r.cfg.StartAt.IsZero() {
		return nil
	}
	wait := time.Until(r.epoch) - r.cfg.EpochLead
	if wait <= 0 {
		return nil
	}
	fmt.Fprintf(r.cfg.Log, "llmload run: waiting %s for --start-at %s\n", wait.Round(time.Millisecond), r.epoch.Format(time.RFC3339Nano))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errors.New("stopped while waiting for --start-at")
	}
}

// probeClient is the HTTP client of the probes before the run: it
// observes their Date headers for the clock offset.
func (r *Run) probeClient() *http.Client {
	return &http.Client{Transport: r.clock.Transport(nil)}
}

// observeReceipt bounds the clock offset with the run's first results
// that carry the simulator's receipt (a runner.Sink; concurrent).
func (r *Run) observeReceipt(res *request.Result) {
	if res.ServerReceived == 0 || res.Headers <= res.Sent || r.receipts.Load() >= receiptSamples {
		return
	}
	r.receipts.Add(1)
	// ServerReceived is the server's wall clock since the epoch's wall
	// reading; Sent and Headers are this machine's monotonic clock since
	// the epoch, which the wall clock follows unless it is stepped.
	wall := r.epoch.Round(0)
	r.clock.ObserveReceipt(wall.Add(res.ServerReceived), wall.Add(res.Sent), wall.Add(res.Headers))
}

// shardMeta is summary.json's meta.shard (absent unless sharded): the
// shard, its seed, the shared start and the clock offset estimate.
func (r *Run) shardMeta() map[string]any {
	s := r.cfg.Shard
	m := map[string]any{"index": s.Index, "count": s.Count, "seed": s.Seed(r.cfg.Seed)}
	if !r.cfg.StartAt.IsZero() {
		m["start_at"] = r.cfg.StartAt.UTC().Format(time.RFC3339Nano)
	}
	est := r.clock.Estimate()
	m["clock_offset_method"] = est.Method
	if est.OK {
		m["clock_offset_ms"] = float64(est.Offset) / float64(time.Millisecond)
		m["clock_offset_uncertainty_ms"] = float64(est.Uncertainty) / float64(time.Millisecond)
	}
	return m
}
