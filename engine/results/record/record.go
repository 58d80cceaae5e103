// Package record turns request results into measurements: whole-run
// histograms and exact moments, per-interval windows, immutable snapshots
// for live views, and the result files (requests.jsonl, windows.jsonl,
// summary.json). Definitions of every metric are in docs/metrics.md.
//
// Everything is computed from the instants a Result carries, never from
// the wall clock, so the same results always give the same numbers and
// windows. Only Snapshot reads the clock, to show a stalled run as empty
// windows rather than a frozen last one.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// RingSize is how many finished windows a Snapshot holds (12 minutes at
// the default one-second interval).
const RingSize = 720

// DefaultSampleInterval is the window length when Config leaves it zero.
const DefaultSampleInterval = time.Second

// Files written in Config.OutDir.
const (
	RequestsFile = "requests.jsonl"
	WindowsFile  = "windows.jsonl"
	SummaryFile  = "summary.json"
)

// Config configures a Recorder.
type Config struct {
	Name           string         // scenario/run name
	OutDir         string         // results directory, created if missing; "" writes no files
	SampleInterval time.Duration  // window length; 0 means DefaultSampleInterval
	Epoch          time.Time      // the run's start: every Result instant counts from here
	Meta           map[string]any // copied into summary.json under "meta" (url, model, args, version, ...)

	// SLO decides which requests are good, for goodput; zero = every
	// completed request is good.
	SLO SLO
	// Warm-up: results with Seq < WarmupRequests or Scheduled <
	// WarmupDuration are left out of the summary (and of Snapshot totals
	// and percentiles). They still count in their windows and are still
	// written to requests.jsonl, marked "warmup": true.
	WarmupRequests int64
	WarmupDuration time.Duration
	// Warmup, when set, decides which results are warm-up instead of
	// WarmupRequests and WarmupDuration: llmload merge passes on the
	// verdict each shard's requests.jsonl line carries. It is called
	// synchronously by Record, on Record's goroutine.
	Warmup func(*request.Result) bool

	// Finish, when set, is called once by Close with the computed summary
	// before summary.json is written, to add what only the caller knows
	// (threshold results, custom metrics) to s.Extra. It runs with the
	// recorder locked: it must not call the Recorder's methods.
	Finish func(s *Summary)
}

// Recorder aggregates results. Record and Snapshot are safe for concurrent
// use by any number of goroutines; Close must be called once, after the
// last Record has returned.
type Recorder struct {
	cfg      Config
	interval time.Duration
	out      *fileWriter // nil when OutDir is ""
	bufs     sync.Pool   // *[]byte scratch for request lines

	mu      sync.Mutex
	closed  bool
	active  sync.WaitGroup // Records between their aggregate update and their line write
	summary *Summary

	// Whole run.
	completed, failed, dropped int64
	good, goodOutTok           int64 // completed requests that met the SLO, and their output tokens
	warmup                     int64 // results left out of the summary as warm-up
	errors                     map[request.ErrorClass]int64
	inTok, outTok              int64
	bytesSent, bytesRecv       int64
	truncated                  int64
	usageCompleted             int64 // completed requests whose counts came from usage
	ttft, tpot, itl, e2el      *dist
	ttftSched, e2elSched       *dist
	queue, lag                 *dist
	turns                      []*turnAcc // by session turn index - 1 (turns.go)

	all                int64 // every result, dropped included
	minDue, maxDue     time.Duration
	sent               int64 // results that were sent (not dropped)
	minSent, maxSent   time.Duration
	lastDone           time.Duration // latest finish among sent results
	lastFinish         time.Duration // latest finish among all results
	inChecked          int64         // results with both requested and reported prompt length
	inAbsSum, inAbsMax int64
	inRelSum           float64
	windowsWritten     int64
	cur                *winAcc
	recent             ring
	final              *Window // the last window, set by Close
}

// New creates a recorder and, when cfg.OutDir is set, the directory and
// the per-request and per-window files (truncating earlier ones).
func New(cfg Config) (*Recorder, error) {
	if cfg.SampleInterval < 0 {
		return nil, fmt.Errorf("record: sample interval %v is negative; use a positive duration such as 1s", cfg.SampleInterval)
	}
	if cfg.SampleInterval == 0 {
		cfg.SampleInterval = DefaultSampleInterval
	}
	if cfg.Epoch.IsZero() {
		return nil, errors.New("record: Config.Epoch is not set (the run's start, as used for the plans' due times)")
	}
	cfg.Meta = maps.Clone(cfg.Meta)
	// Fail now rather than after the run, when summary.json is written.
	if _, err := json.Marshal(cfg.Meta); err != nil {
		return nil, fmt.Errorf("record: Config.Meta cannot be written as JSON: %w", err)
	}
	r := &Recorder{
		cfg: cfg, interval: cfg.SampleInterval,
		errors: map[request.ErrorClass]int64{},
		ttft:   newDist(), tpot: newDist(), itl: newDist(), e2el: newDist(),
		ttftSched: newDist(), e2elSched: newDist(), queue: newDist(), lag: newDist(),
		cur: newWinAcc(),
	}
	r.bufs.New = func() any { b := make([]byte, 0, 2048); return &b }
	if cfg.OutDir != "" {
		if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
			return nil, fmt.Errorf("record: creating results directory: %w", err)
		}
		var err error
		r.out, err = newFileWriter(filepath.Join(cfg.OutDir, RequestsFile), filepath.Join(cfg.OutDir, WindowsFile))
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// SetMeta adds or replaces one entry of summary.json's "meta" object, for
// facts known only at the end of a run (e.g. a calibration learned from
// responses). v must be JSON-encodable. Safe for concurrent use.
func (r *Recorder) SetMeta(key string, v any) error {
	if _, err := json.Marshal(v); err != nil {
		return fmt.Errorf("record: meta %q cannot be written as JSON: %w", key, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg.Meta == nil {
		r.cfg.Meta = map[string]any{}
	}
	r.cfg.Meta[key] = v
	return nil
}

// Record adds one finished request. It is cheap (no I/O: the per-request
// line goes to a background writer) and never keeps res: the caller may
// reuse it once Record returns. Calling Record after Close panics.
func (r *Recorder) Record(res *request.Result) {
	var line *[]byte
	if r.out != nil {
		line = r.bufs.Get().(*[]byte)
		*line = appendRequestLine((*line)[:0], res)
		*line = appendLineVerdict(*line, r.cfg.SLO.Met(res), r.cfg.isWarmup(res))
	}

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		panic("record: Record called after Close")
	}
	r.add(res)
	r.active.Add(1)
	r.mu.Unlock()

	if line != nil {
		r.out.request(*line)
		if cap(*line) <= 64<<10 { // keep giant ITL lines out of the pool
			r.bufs.Put(line)
		}
	}
	r.active.Done()
}

// add folds res into the aggregates: always into its window, and into the
// whole run's unless it is warm-up. r.mu is held.
func (r *Recorder) add(res *request.Result) {
	finish := FinishedAt(res)
	r.rotateTo(int64(max(finish, 0) / r.interval))
	r.lastFinish = max(r.lastFinish, finish)
	good := r.cfg.SLO.Met(res)
	r.cur.add(res, good)
	if r.cfg.isWarmup(res) {
		r.warmup++
		r.cur.warmup++
		return
	}
	dropped := res.Error == request.ErrDropped

	r.all++
	if r.all == 1 || res.Scheduled < r.minDue {
		r.minDue = res.Scheduled
	}
	if r.all == 1 || res.Scheduled > r.maxDue {
		r.maxDue = res.Scheduled
	}
	r.bytesSent += res.BytesSent
	r.bytesRecv += res.BytesRecv
	r.lag.addDur(res.ScheduleLag())

	if !dropped {
		r.sent++
		if r.sent == 1 || res.Sent < r.minSent {
			r.minSent = res.Sent
		}
		if r.sent == 1 || res.Sent > r.maxSent {
			r.maxSent = res.Sent
		}
		r.lastDone = max(r.lastDone, finish)
		r.queue.addDur(res.QueueTime())
	}
	if res.PromptTokens > 0 && res.PromptTokensRequested > 0 {
		d := abs64(int64(res.PromptTokens) - int64(res.PromptTokensRequested))
		r.inChecked++
		r.inAbsSum += d
		r.inAbsMax = max(r.inAbsMax, d)
		r.inRelSum += float64(d) / float64(res.PromptTokensRequested)
	}

	if res.Failed() {
		r.failed++
		r.errors[res.Error]++
		if dropped {
			r.dropped++
		}
		return
	}

	// Completed: tokens and latencies.
	r.completed++
	in, out := InputTokens(res), int64(res.CompletionTokens)
	r.inTok += in
	r.outTok += out
	if good {
		r.good++
		r.goodOutTok += out
	}
	if res.UsageFromServer {
		r.usageCompleted++
	}
	if res.Truncated {
		r.truncated++
	}
	if res.FirstToken != 0 {
		r.ttft.addDur(res.TTFT())
		r.ttftSched.addDur(res.TTFTFromSchedule())
	}
	if tpot, ok := res.TPOT(); ok {
		r.tpot.addDur(tpot)
	}
	r.e2el.addDur(res.E2E())
	r.e2elSched.addDur(res.E2EFromSchedule())
	EachITL(res, r.itl.add)
	r.addTurn(res.Session.Turn, float64(res.TTFT()), float64(res.E2E()), res.FirstToken != 0)
}

// rotateTo makes window idx the current one, finishing the current window
// and emitting empty ones for any intervals in between. A result whose
// window has already rotated out (it was recorded just after a later one)
// is counted in the current window. r.mu is held.
func (r *Recorder) rotateTo(idx int64) {
	if idx <= r.cur.idx {
		return
	}
	r.emit(r.cur.window(r.interval, r.interval, false))
	for i := r.cur.idx + 1; i < idx; i++ {
		r.emit(emptyWindow(i, r.interval))
	}
	r.cur.reset(idx)
}

// emit finishes a window: into the ring for snapshots and out to
// windows.jsonl. r.mu is held; neither step blocks.
func (r *Recorder) emit(w *Window) {
	r.recent.push(w)
	r.windowsWritten++
	if r.out != nil {
		var buf [1024]byte
		r.out.window(appendWindowLine(buf[:0], w))
	}
}

// Close finishes the last window, writes summary.json, flushes and closes
// the files, and returns the run's summary. The summary is returned even
// when writing fails. Calling Close again returns the same summary.
func (r *Recorder) Close() (*Summary, error) {
	r.mu.Lock()
	if r.closed {
		defer r.mu.Unlock()
		return r.summary, nil
	}
	r.closed = true
	if r.all+r.warmup > 0 {
		// The last window ends at the last result, not at its boundary.
		start := time.Duration(r.cur.idx) * r.interval
		length := min(max(r.lastFinish-start, 0), r.interval)
		w := r.cur.window(r.interval, length, true)
		r.windowsWritten++
		r.final = w
		if r.out != nil {
			r.out.window(appendWindowLine(nil, w))
		}
	}
	r.mu.Unlock()
	r.active.Wait() // Records that updated the aggregates finish their lines

	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.buildSummary()
	r.summary = s
	var werr error
	if r.out != nil {
		s.RequestsLogDropped, werr = r.out.close()
	}
	if r.cfg.Finish != nil {
		r.cfg.Finish(s)
	}
	if r.out == nil {
		return s, werr
	}
	serr := writeSummary(filepath.Join(r.cfg.OutDir, SummaryFile), s)
	return s, errors.Join(werr, serr)
}

func writeSummary(path string, s *Summary) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("record: encoding %s: %w", path, err)
	}
	// Write then rename, so a reader never sees half a summary.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("record: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("record: writing %s: %w", path, err)
	}
	return nil
}
