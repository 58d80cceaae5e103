// Package observe samples what the load generator cannot see from the
// client side: the model server's own Prometheus metrics (vLLM's
// vllm:* series) and the GPUs' (NVIDIA DCGM exporter series), during a
// run, scraped or read through a Prometheus' query API (prom+ targets,
// ParseProm). It turns them into per-scrape Samples (server.jsonl, live views)
// and run totals: server-counted tokens next to the client's, prefix-cache
// hit rate, preemptions, queue depth, KV-cache usage, server-side latency
// means, and energy per output token.
//
// An Observer runs on its own goroutine, never on the engine's path: a
// slow or failing endpoint only makes its own samples late or missing,
// counted and reported, never the run. Definitions are in docs/metrics.md.
package observe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmload/llmload/engine/guard/redact"
)

// ServerFile is the per-scrape log written in Config.OutDir.
const ServerFile = "server.jsonl"

// MaxInterval is the longest time between scrapes: gauges such as the
// queue depth and the power draw are only as good as their sampling.
const MaxInterval = 2 * time.Second

// Target is one endpoint to scrape, or a Prometheus to ask.
type Target struct {
	Role string // what it is, for messages: "server" or "gpu"
	// URL is e.g. http://host:8000/metrics, or a prom+ URL (ParseProm):
	// the series of the instances its selector matches, read through
	// Prometheus' query API at each sample instant.
	URL    string
	APIKey string // sent as a bearer token when set (see KeyOrigin)
	// KeyOrigin is the URL the APIKey was given for (the load endpoint).
	// When set, the key goes only to a URL of the same origin (scheme,
	// host and port), unless KeyAnyOrigin: a --server-metrics on another
	// host must not receive the inference server's key by accident.
	KeyOrigin    string
	KeyAnyOrigin bool
	// GPUs, when set, are the GPUs whose DCGM series count, by gpu label
	// (device index as the exporter numbers them) or UUID: the ones the
	// server uses, not every GPU of the node. Empty: all.
	GPUs []string
}

// keepGPUs drops the DCGM series of GPUs that t.GPUs does not list.
// missed is true when the scrape had GPU series but none of a listed GPU:
// a --gpu-ids that names no GPU the exporter reports, which would
// otherwise read as zero energy.
func (t Target) keepGPUs(pts []point) (kept []point, missed bool) {
	if len(t.GPUs) == 0 {
		return pts, false
	}
	had, dropped := 0, 0
	kept = slices.DeleteFunc(pts, func(pt point) bool {
		if !isGPUField(pt.name) {
			return false
		}
		had++
		drop := !slices.Contains(t.GPUs, pt.gpu) && (pt.uuid == "" || !slices.Contains(t.GPUs, pt.uuid))
		if drop {
			dropped++
		}
		return drop
	})
	return kept, had > 0 && dropped == had
}

// keyAllowed reports whether t's APIKey may be sent to t.URL.
func (t Target) keyAllowed() bool {
	return t.APIKey == "" || t.KeyOrigin == "" || t.KeyAnyOrigin || SameOrigin(t.URL, t.KeyOrigin)
}

// flag names the flag a target came from, for messages.
func (t Target) flag() string { return "--" + t.Role + "-metrics" }

// SameOrigin reports whether two URLs have the same scheme, host and port
// (an absent port is the scheme's default), as browsers judge origins.
func SameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil || ua.Host == "" {
		return false
	}
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Hostname(), ub.Hostname()) && port(ua) == port(ub)
}

// Fetcher gets one scrape's body. It must be safe for concurrent use. An
// error that wraps ErrNoMetrics disables the target for the rest of the
// run.
type Fetcher interface {
	Fetch(ctx context.Context, t Target) ([]byte, error)
}

// ErrNoMetrics says the target has no metrics endpoint (HTTP 404).
var ErrNoMetrics = errors.New("no metrics endpoint")

// Config configures an Observer.
type Config struct {
	Targets  []Target
	Epoch    time.Time     // the run's start: Sample.T counts from here
	Interval time.Duration // between scrapes; 0 or more than MaxInterval means MaxInterval
	Timeout  time.Duration // per scrape; 0 = the interval, within [1s, 5s]
	OutDir   string        // server.jsonl is written here; "" writes no file
	Log      io.Writer     // one line when a target is disabled; nil = discard
	Fetcher  Fetcher       // nil = HTTP GET
}

// Observer scrapes its targets on an interval until Stop.
//
// Concurrency: Latest may be called from any goroutine at any time and
// returns an immutable Sample; Stop is called once, by the owner, and may
// take up to one scrape timeout (a final scrape). Nothing an Observer does
// blocks its caller between Start and Stop.
type Observer struct {
	cfg        Config
	interval   time.Duration
	timeout    time.Duration
	fetch      Fetcher
	closeFetch func()        // set when the Observer made its fetcher
	prom       []*promSource // per target: set for a prom+ URL
	file       *os.File

	latest atomic.Pointer[Sample]

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	report   *Report

	// Owned by the loop goroutine until done is closed, then by Stop.
	acc      *accumulator
	disabled []bool
	notes    []string
	// gpuMissNoted[i]: target i's --gpu-ids miss was noted already.
	gpuMissNoted []bool
	failures     int64
	firstError   string
	writeErr     error
}

// Start opens server.jsonl, takes the baseline scrape (so its counters
// precede the first request) and starts sampling. It fails only on a
// configuration error or when the file cannot be created; an endpoint
// that does not answer is not an error.
func Start(cfg Config) (*Observer, error) {
	if cfg.Epoch.IsZero() {
		return nil, errors.New("observe: Config.Epoch is not set (the run's start)")
	}
	if len(cfg.Targets) == 0 {
		return nil, errors.New("observe: no target to scrape")
	}
	o := &Observer{
		cfg: cfg, interval: cfg.Interval, timeout: cfg.Timeout, fetch: cfg.Fetcher,
		stop: make(chan struct{}), done: make(chan struct{}),
		acc: newAccumulator(), disabled: make([]bool, len(cfg.Targets)),
		gpuMissNoted: make([]bool, len(cfg.Targets)),
	}
	if o.interval <= 0 || o.interval > MaxInterval {
		o.interval = MaxInterval
	}
	if o.timeout <= 0 {
		o.timeout = min(max(o.interval, time.Second), 5*time.Second)
	}
	if o.fetch == nil {
		h := NewHTTPFetcher()
		o.fetch, o.closeFetch = h, h.Close
	}
	if o.cfg.Log == nil {
		o.cfg.Log = io.Discard
	}
	o.cfg.Targets = slices.Clone(cfg.Targets)
	if err := o.startProm(); err != nil {
		return nil, err
	}
	for i, t := range o.cfg.Targets {
		if !t.keyAllowed() {
			o.cfg.Targets[i].APIKey = ""
			note := fmt.Sprintf("%s metrics %s: not sending the API key, since it is another origin than the endpoint %s (pass --server-metrics-auth to send it)",
				t.Role, redact.URL(t.URL), redact.URL(t.KeyOrigin))
			o.notes = append(o.notes, note)
			fmt.Fprintln(o.cfg.Log, note)
		}
	}
	if cfg.OutDir != "" {
		if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
			return nil, fmt.Errorf("observe: creating results directory: %w", err)
		}
		f, err := os.Create(filepath.Join(cfg.OutDir, ServerFile))
		if err != nil {
			return nil, fmt.Errorf("observe: %w", err)
		}
		o.file = f
	}
	o.round(phaseBaseline)
	go o.loop()
	return o, nil
}

// noteGPUMiss notes, once per target, that its GPU selection matched none
// of the GPUs it reports.
func (o *Observer) noteGPUMiss(i int, tg Target) {
	o.gpuMissNoted[i] = true
	note := fmt.Sprintf("gpu metrics %s: --gpu-ids %s matches none of the GPUs it reports (by gpu label or UUID); no GPU counts in power and energy (llmload stack init prints the right --gpu-ids; stack.json has them as served_gpus)",
		redact.URL(tg.URL), strings.Join(tg.GPUs, ","))
	o.notes = append(o.notes, note)
	fmt.Fprintln(o.cfg.Log, note)
}

// Latest returns the most recent scrape, false before the first one.
func (o *Observer) Latest() (*Sample, bool) {
	s := o.latest.Load()
	return s, s != nil
}

// Interval is the time between scrapes.
func (o *Observer) Interval() time.Duration { return o.interval }

// Stop ends sampling, takes a final scrape (so the counters cover every
// finished request), closes server.jsonl and returns the run's report.
// Calling it again returns the same report.
func (o *Observer) Stop() *Report {
	o.stopOnce.Do(func() {
		close(o.stop)
		<-o.done
		o.awaitProm(time.Now())
		o.round(phaseFinal)
		if o.closeFetch != nil {
			o.closeFetch()
		}
		for _, p := range o.prom {
			if p != nil {
				p.close()
			}
		}
		if o.file != nil {
			if err := o.file.Close(); err != nil && o.writeErr == nil {
				o.writeErr = err
			}
		}
		o.report = o.buildReport()
	})
	return o.report
}

// loop scrapes at Epoch + k·interval, on the run's grid, so samples line
// up with the recorder's windows. A scrape that overruns skips the ticks
// it covered rather than firing them back to back.
func (o *Observer) loop() {
	defer close(o.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		since := time.Since(o.cfg.Epoch)
		k := since/o.interval + 1
		if since < 0 {
			k = 1
		}
		timer.Reset(time.Until(o.cfg.Epoch.Add(k * o.interval)))
		select {
		case <-o.stop:
			return
		case <-timer.C:
		}
		o.round(phaseTick)
	}
}

// round scrapes every live target at once and folds the answers in.
func (o *Observer) round(ph phase) {
	live := 0
	for _, d := range o.disabled {
		if !d {
			live++
		}
	}
	if live == 0 {
		return
	}
	t := time.Since(o.cfg.Epoch)
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	now := time.Now()
	type answer struct {
		points []point
		err    error
	}
	answers := make([]answer, len(o.cfg.Targets))
	var wg sync.WaitGroup
	for i, tg := range o.cfg.Targets {
		if o.disabled[i] {
			continue
		}
		wg.Go(func() {
			if p := o.prom[i]; p != nil {
				pts, err := p.points(ctx, now)
				answers[i] = answer{points: pts, err: err}
				return
			}
			body, err := o.fetch.Fetch(ctx, tg)
			var pts []point
			if err == nil {
				pts, err = parse(body)
			}
			for j := range pts {
				pts[j].instance = redact.URL(tg.URL)
			}
			answers[i] = answer{points: pts, err: err}
		})
	}
	wg.Wait()

	round := make([]scrape, 0, live)
	for i, tg := range o.cfg.Targets {
		if o.disabled[i] {
			continue
		}
		a := answers[i]
		sc := scrape{target: i}
		if a.err == nil {
			var missed bool
			sc.points, missed = tg.keepGPUs(a.points)
			if missed && !o.gpuMissNoted[i] {
				o.noteGPUMiss(i, tg)
			}
		}
		switch {
		case errors.Is(a.err, ErrNoMetrics):
			o.disabled[i] = true
			note := redact.Text(fmt.Sprintf("%s metrics %s: %v; not scraping it (set %s to its /metrics URL, or off)", tg.Role, tg.URL, a.err, tg.flag()))
			o.notes = append(o.notes, note)
			fmt.Fprintln(o.cfg.Log, note)
			continue
		case a.err != nil:
			o.failures++
			if o.firstError == "" {
				o.firstError = redact.Text(fmt.Sprintf("%s metrics %s at %.1fs: %v", tg.Role, tg.URL, t.Seconds(), a.err))
			}
		default:
			sc.ok = true
		}
		round = append(round, sc)
	}
	if len(round) == 0 {
		return
	}
	s := o.acc.add(t, ph, round)
	o.latest.Store(s)
	if o.file != nil && o.writeErr == nil {
		b, err := json.Marshal(s)
		if err == nil {
			_, err = o.file.Write(append(b, '\n'))
		}
		if err != nil {
			o.writeErr = fmt.Errorf("observe: writing %s: %w", ServerFile, err)
		}
	}
}

// startProm reads the targets' prom+ URLs and asks each Prometheus once,
// so that a bad URL or selector, an unreachable Prometheus or a selector
// that matches nothing stops the run before it starts, named by its flag.
func (o *Observer) startProm() error {
	o.prom = make([]*promSource, len(o.cfg.Targets))
	for i, t := range o.cfg.Targets {
		if !IsProm(t.URL) {
			continue
		}
		q, err := ParseProm(t.URL)
		if err != nil {
			return fmt.Errorf("%s %s: %w", t.flag(), redact.URL(t.URL), err)
		}
		p := newPromSource(t, q)
		ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
		_, err = p.points(ctx, time.Now())
		cancel()
		if err != nil {
			p.close()
			return fmt.Errorf("%s %s: %w", t.flag(), redact.URL(t.URL), err)
		}
		o.prom[i] = p
	}
	return nil
}

// awaitProm lets each Prometheus scrape every instance after the run's
// end (at most its final_wait), so the final sample counts the run's
// last requests. A Prometheus that does not in time gets a note.
func (o *Observer) awaitProm(end time.Time) {
	var wg sync.WaitGroup
	errs := make([]error, len(o.prom))
	for i, p := range o.prom {
		if p == nil || o.disabled[i] || p.q.FinalWait <= 0 {
			continue
		}
		wg.Go(func() { errs[i] = p.awaitScrapesAfter(end) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			tg := o.cfg.Targets[i]
			note := redact.Text(fmt.Sprintf("%s %s: %v", tg.flag(), redact.URL(tg.URL), err))
			o.notes = append(o.notes, note)
			fmt.Fprintln(o.cfg.Log, note)
		}
	}
}
