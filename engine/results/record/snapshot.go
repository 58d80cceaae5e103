package record

import (
	"fmt"
	"maps"
	"math"
	"strings"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// Snapshot is a point-in-time view of a run for dashboards, progress lines
// and exporters. It is immutable and shares nothing mutable with the
// recorder, so any goroutine may read it.
type Snapshot struct {
	At       time.Duration // when it was taken, since the epoch
	Interval time.Duration // window length

	// Totals so far.
	Completed, Failed         int64
	Good                      int64 // completed requests that met the SLO
	Warmup                    int64 // finished warm-up results, not in the other totals
	Errors                    map[request.ErrorClass]int64
	InputTokens, OutputTokens int64
	BytesSent, BytesRecv      int64
	Truncated                 int64

	// Whole-run percentiles so far (0 before the first sample).
	TTFTP95, TPOTP95 time.Duration

	// Windows holds the last RingSize finished windows, oldest first.
	// Intervals in which nothing finished are there as empty windows, up
	// to the moment of the snapshot.
	Windows []*Window
	// Current is the window in progress (never nil); after Close it is the
	// run's last window.
	Current *Window
}

// Snapshot returns the current view. It costs a few microseconds plus a
// slice of RingSize pointers, cheap enough for several calls a second.
func (r *Recorder) Snapshot() *Snapshot {
	now := max(time.Since(r.cfg.Epoch), 0)
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &Snapshot{
		At: now, Interval: r.interval,
		Completed: r.completed, Failed: r.failed, Good: r.good, Warmup: r.warmup,
		Errors:      maps.Clone(r.errors),
		InputTokens: r.inTok, OutputTokens: r.outTok,
		BytesSent: r.bytesSent, BytesRecv: r.bytesRecv,
		Truncated: r.truncated,
		TTFTP95:   r.ttft.quantile(95), TPOTP95: r.tpot.quantile(95),
	}
	s.Windows = r.recent.appendTo(make([]*Window, 0, RingSize+1))
	if r.closed {
		s.Current = r.final
		if s.Current == nil {
			s.Current = &Window{}
		}
		return s
	}
	curStart := time.Duration(r.cur.idx) * r.interval
	nowIdx := int64(now / r.interval)
	if nowIdx <= r.cur.idx {
		s.Current = r.cur.window(r.interval, min(max(now-curStart, 0), r.interval), true)
		return s
	}
	// Nothing has finished since the current window's end: show it as
	// finished and the intervals since as empty, without changing the
	// recorder (results, not the clock, drive its windows).
	s.Windows = append(s.Windows, r.cur.window(r.interval, r.interval, false))
	for i := max(r.cur.idx+1, nowIdx-RingSize); i < nowIdx; i++ {
		s.Windows = append(s.Windows, emptyWindow(i, r.interval))
	}
	if extra := len(s.Windows) - RingSize; extra > 0 {
		s.Windows = s.Windows[extra:]
	}
	cur := emptyWindow(nowIdx, r.interval)
	cur.Len, cur.Partial = now-cur.Start, true
	s.Current = cur
	return s
}

// RecentRates returns completed requests, finished requests (errors
// included) and output tokens per second over the most recent finished
// windows spanning at least span (or all of them), falling back to the
// window in progress when none has finished.
func (s *Snapshot) RecentRates(span time.Duration) (rps, finishedPerSec, tokPerSec float64) {
	var completed, finished, tokens int64
	var length time.Duration
	for i := len(s.Windows) - 1; i >= 0 && length < span; i-- {
		w := s.Windows[i]
		completed += w.Completed
		finished += w.Count
		tokens += w.OutputTokens
		length += w.Len
	}
	if length == 0 && s.Current != nil {
		completed, finished, tokens, length = s.Current.Completed, s.Current.Count, s.Current.OutputTokens, s.Current.Len
	}
	return perSecond(completed, length), perSecond(finished, length), perSecond(tokens, length)
}

// ProgressExtra carries what the runner knows and the recorder does not,
// and the estimates of a progress.Tracker.
type ProgressExtra struct {
	Sent     int64 // plans released so far
	InFlight int
	Queued   int
	Total    int64 // plans expected in all; 0 when unknown
	// TokensPerSec is output tokens received per second, requests in
	// flight included (progress.Estimate); NaN when the client does not
	// count them, and the line falls back to the tokens of finished
	// requests.
	TokensPerSec float64
	// ETA is the time left (progress.Estimate): > 0 printed, 0 or
	// negative unknown ("-") unless every expected request is done ("0s").
	// Printed when there is a total or an ETA.
	ETA time.Duration
}

// progressSpan is how much recent history the progress line's rates cover.
const progressSpan = 5 * time.Second

// FormatProgress renders the plain one-line progress report, e.g.
//
//	[  12.0s] sent 1234 done 1200 err 0 inflight 34 queued 0 | 40.1 rps 5120 tok/s | ttft p95 180ms tpot p95 21ms | eta 1m30s
//
// "done" counts finished requests including failed ones; rps covers the
// last five seconds of finished windows, tok/s the tokens received as
// they arrive (extra.TokensPerSec); the ETA is extra's.
func FormatProgress(s *Snapshot, extra ProgressExtra) string {
	if s == nil {
		s = &Snapshot{}
	}
	var b strings.Builder
	done := s.Completed + s.Failed + s.Warmup
	rps, _, tps := s.RecentRates(progressSpan)
	if !math.IsNaN(extra.TokensPerSec) {
		tps = extra.TokensPerSec
	}
	fmt.Fprintf(&b, "[%6.1fs] sent %d done %d err %d inflight %d queued %d | %.1f rps %.0f tok/s | ttft p95 %s tpot p95 %s",
		s.At.Seconds(), extra.Sent, done, s.Failed, extra.InFlight, extra.Queued, rps, tps,
		shortLatency(s.TTFTP95), shortLatency(s.TPOTP95))
	if extra.Total > 0 || extra.ETA > 0 {
		b.WriteString(" | eta ")
		switch {
		case extra.Total > 0 && done >= extra.Total:
			b.WriteString("0s")
		case extra.ETA > 0:
			b.WriteString(extra.ETA.Round(time.Second).String())
		default:
			b.WriteString("-")
		}
	}
	return b.String()
}

// shortLatency formats a latency for humans: "-" when unknown, "8.4ms",
// "180ms", "2.35s".
func shortLatency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", msd(d))
	case d < time.Second:
		return fmt.Sprintf("%.0fms", msd(d))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
