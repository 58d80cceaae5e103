package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/llmload/llmload/engine/launch"
	"github.com/llmload/llmload/engine/load/shard"
)

// Bounds of --start-at: a little in the past is a clock read a moment
// late; more is a mistake, as is an instant a day away.
const (
	startAtPast   = time.Second
	startAtFuture = 24 * time.Hour
)

// addShardFlags registers --shard and --start-at (docs/cli.md, "Shards").
func addShardFlags(fs *flag.FlagSet, f *runFlags) {
	fs.StringVar(&f.shard, "shard", "", "run shard i of n (i/n, 0-based): n processes with --shard 0/n ... n-1/n together send what one would")
	fs.StringVar(&f.startAt, "start-at", "", "start the run's clock at this RFC 3339 instant (e.g. 2026-12-07T10:00:00Z), so shards on several machines share one epoch")
}

// applyShardFlags checks --shard and --start-at against now and puts them
// in cfg.
func applyShardFlags(f *runFlags, cfg *launch.Config, now time.Time) error {
	if f.shard != "" {
		s, err := shard.Parse("shard", f.shard)
		if err != nil {
			return err
		}
		cfg.Shard = s
	}
	if f.startAt == "" {
		return nil
	}
	at, err := time.Parse(time.RFC3339Nano, f.startAt)
	if err != nil {
		return fmt.Errorf("--start-at %q: want an RFC 3339 instant such as 2026-12-07T10:00:00Z", f.startAt)
	}
	switch d := at.Sub(now); {
	case d < -startAtPast:
		return fmt.Errorf("--start-at %s is %s in the past (this machine's clock says %s); give an instant ahead", f.startAt, (-d).Round(time.Millisecond), now.UTC().Format(time.RFC3339))
	case d > startAtFuture:
		return fmt.Errorf("--start-at %s is %s ahead, more than %s; give an instant within a day", f.startAt, d.Round(time.Second), startAtFuture)
	}
	cfg.StartAt = at
	return nil
}

// scenarioDigest is the hex SHA-256 of the scenario file (meta.scenario_sha256):
// shards of one run must have run the same file.
func scenarioDigest(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
