// Package prom exports a running load test's own measurements as
// Prometheus metrics (llmload_*), so a Prometheus that scrapes the load
// generator and the server shows client and server side on one dashboard.
// Series and their definitions are in docs/metrics.md ("Prometheus
// exporter"); the names are an interface that dashboards depend on.
//
// It is the only engine package that imports client_golang. Collectors are
// registered on a prometheus.Registerer the caller passes (never the
// global registry), so a process can hold several exporters and tests see
// only their own series.
//
// The engine feeds it through Scenario.Observe, called once per finished
// request from the workers. Observe never blocks and never allocates: every
// series a result can touch is resolved when the Scenario is created, and
// client_golang's counters and histograms update with atomic operations.
// Gauges of the run's state (in flight, queued, target rate) are read at
// scrape time through functions the caller provides, so the engine does no
// work for them between scrapes.
package prom

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmload/llmload/engine/guard/redact"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/results/record"
)

// Metric names. Dashboards are written against them: do not rename.
const (
	NameInfo          = "llmload_info"
	NameRequests      = "llmload_requests_total"
	NameRequestErrors = "llmload_request_errors_total"
	NameInFlight      = "llmload_requests_in_flight"
	NameQueued        = "llmload_requests_queued"
	NameGoodRequests  = "llmload_good_requests_total"
	NameInputTokens   = "llmload_input_tokens_total"
	NameOutputTokens  = "llmload_output_tokens_total"
	NameTTFT          = "llmload_ttft_seconds"
	NameTPOT          = "llmload_tpot_seconds"
	NameITL           = "llmload_itl_seconds"
	NameE2E           = "llmload_e2e_seconds"
	NameQueueTime     = "llmload_queue_time_seconds"
	NameScheduleLag   = "llmload_schedule_lag_seconds"
	NameTargetRate    = "llmload_target_rate_rps"
	LabelScenario     = "scenario"
	LabelOutcome      = "outcome"
	LabelClass        = "class"
	OutcomeCompleted  = "completed"
	OutcomeFailed     = "failed"
	OutcomeDropped    = "dropped"
)

// errorClasses are the classes a Result can carry (request.ErrorClass).
// Their counters exist from the start at 0, so rate() and increase() see
// the first error of a class, and Observe needs no map lookup.
var errorClasses = [...]request.ErrorClass{
	request.ErrConnect, request.ErrHTTPStatus, request.ErrTimeout, request.ErrStall,
	request.ErrProtocol, request.ErrServer, request.ErrCanceled, request.ErrDropped, request.ErrOverrun,
}

// Exporter holds the llmload_* collectors of one registry. Scenario is
// safe for concurrent use; each returned Scenario has its own contract.
type Exporter struct {
	info                 *prometheus.GaugeVec
	requests, errors     *prometheus.CounterVec
	good, inTok, outTok  *prometheus.CounterVec
	ttft, tpot, itl, e2e *prometheus.HistogramVec
	queue, lag           *prometheus.HistogramVec
	live                 *liveCollector
	mu                   sync.Mutex
	names                map[string]bool
}

// New creates the collectors and registers them on reg. It fails when reg
// already holds llmload_* collectors (e.g. a second exporter on the same
// registry).
func New(reg prometheus.Registerer) (*Exporter, error) {
	if reg == nil {
		return nil, fmt.Errorf("prom: New needs a prometheus.Registerer (e.g. prometheus.NewRegistry())")
	}
	sc := []string{LabelScenario}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, append(sc, labels...))
	}
	hist := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, sc)
	}
	e := &Exporter{
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NameInfo,
			Help: "Always 1: the scenario's endpoint, model and llmload version."},
			[]string{LabelScenario, "url", "model", "version"}),
		requests: counter(NameRequests,
			"Finished requests by outcome: completed, failed (sent and failed) or dropped (never sent: the concurrency gate was full).", LabelOutcome),
		errors: counter(NameRequestErrors,
			"Failed requests by error class (dropped ones included, as class dropped).", LabelClass),
		good: counter(NameGoodRequests,
			"Completed requests that met every objective of the scenario's SLO (goodput); all completed ones without an SLO."),
		inTok: counter(NameInputTokens,
			"Prompt tokens of completed requests: usage.prompt_tokens, else the requested length."),
		outTok: counter(NameOutputTokens,
			"Output tokens of completed requests: usage.completion_tokens, else counted token events."),
		ttft: hist(NameTTFT, "Time to first token, from send, of completed requests.", TTFTBuckets),
		tpot: hist(NameTPOT, "Time per output token after the first, (E2E - TTFT) / (completion_tokens - 1), of completed requests with at least two tokens.", ITLBuckets),
		itl:  hist(NameITL, "Inter-token latency, one sample per token after the first event (a gap carrying k tokens counts k times, gap/k each).", ITLBuckets),
		e2e:  hist(NameE2E, "End-to-end latency, send to last byte, of completed requests.", E2EBuckets),
		queue: hist(NameQueueTime,
			"Time a sent request waited at the concurrency gate (dispatched - released).", QueueBuckets),
		lag: hist(NameScheduleLag,
			"How late the pacer released a request after its due time (released - scheduled), every request.", LagBuckets),
		live:  newLiveCollector(),
		names: map[string]bool{},
	}
	for _, c := range []prometheus.Collector{e.info, e.requests, e.errors, e.good, e.inTok, e.outTok,
		e.ttft, e.tpot, e.itl, e.e2e, e.queue, e.lag, e.live} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("prom: registering llmload metrics: %w", err)
		}
	}
	return e, nil
}

// Info describes one scenario of the run.
type Info struct {
	Name    string // the scenario label of every series
	URL     string
	Model   string
	Version string     // llmload's version
	SLO     record.SLO // decides llmload_good_requests_total, as the recorder's goodput
	// TargetRate, when set, is read at every scrape for
	// llmload_target_rate_rps (e.g. pace.RateSetter.Rate). It must be safe
	// to call from any goroutine. Nil: the run has no target rate (a
	// replayed trace), and the series is not exported.
	TargetRate func() float64
}

// Live is the run's state at a scrape.
type Live struct {
	InFlight int // requests executing
	Queued   int // requests waiting at the concurrency gate
}

// Scenario creates the series of one scenario, at 0, and returns the
// handle that feeds them. Names must be unique within an Exporter: their
// series would otherwise mix.
func (e *Exporter) Scenario(info Info) (*Scenario, error) {
	if info.Name == "" {
		return nil, fmt.Errorf("prom: scenario without a name (its series need the %q label)", LabelScenario)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.names[info.Name] {
		return nil, fmt.Errorf("prom: two scenarios named %q in one run; give each llm.scenario{} its own name", info.Name)
	}
	e.names[info.Name] = true

	n := info.Name
	s := &Scenario{
		name: n, slo: info.SLO, errVec: e.errors,
		completed: e.requests.WithLabelValues(n, OutcomeCompleted),
		failed:    e.requests.WithLabelValues(n, OutcomeFailed),
		dropped:   e.requests.WithLabelValues(n, OutcomeDropped),
		good:      e.good.WithLabelValues(n),
		inTok:     e.inTok.WithLabelValues(n),
		outTok:    e.outTok.WithLabelValues(n),
		ttft:      e.ttft.WithLabelValues(n),
		tpot:      e.tpot.WithLabelValues(n),
		itl:       e.itl.WithLabelValues(n),
		e2e:       e.e2e.WithLabelValues(n),
		queue:     e.queue.WithLabelValues(n),
		lag:       e.lag.WithLabelValues(n),
	}
	for i, c := range errorClasses {
		s.errs[i] = e.errors.WithLabelValues(n, string(c))
	}
	// Built once: a method value or closure made inside Observe could cost
	// an allocation per request.
	s.eachITL = func(gapNs float64, k int64) {
		v := gapNs / 1e9
		for range k {
			s.itl.Observe(v)
		}
	}
	// A key in the URL (?api_key=) must not become a label: labels are
	// stored by every Prometheus that scrapes the run.
	e.info.WithLabelValues(n, redact.URL(info.URL), info.Model, info.Version).Set(1)
	e.live.add(s, info.TargetRate)
	return s, nil
}

// Scenario feeds the series of one scenario. Observe and Watch are safe
// for concurrent use by any number of goroutines.
type Scenario struct {
	name                       string
	slo                        record.SLO
	completed, failed, dropped prometheus.Counter
	good, inTok, outTok        prometheus.Counter
	errs                       [len(errorClasses)]prometheus.Counter
	errVec                     *prometheus.CounterVec
	ttft, tpot, itl, e2e       prometheus.Observer
	queue, lag                 prometheus.Observer
	eachITL                    func(gapNs float64, k int64)
	watch                      atomic.Pointer[func() Live]
}

// Observe counts one finished request, with the recorder's definitions
// (engine/results/record): latencies of completed requests only, queue time of
// every sent request, schedule lag of every request. It does not keep res.
// It is lock-free and does not allocate, so it may run on the engine's
// workers (runner.Config.OnResult).
func (s *Scenario) Observe(res *request.Result) {
	s.lag.Observe(res.ScheduleLag().Seconds())
	if res.Error == request.ErrDropped {
		s.dropped.Inc()
		s.errCounter(res.Error).Inc()
		return
	}
	s.queue.Observe(res.QueueTime().Seconds())
	if res.Failed() {
		s.failed.Inc()
		s.errCounter(res.Error).Inc()
		return
	}
	// Tokens and latencies before the completed count, so a scrape that
	// sees a request completed also sees what it measured.
	s.inTok.Add(float64(record.InputTokens(res)))
	s.outTok.Add(float64(res.CompletionTokens))
	if res.FirstToken != 0 {
		s.ttft.Observe(res.TTFT().Seconds())
	}
	if tpot, ok := res.TPOT(); ok {
		s.tpot.Observe(tpot.Seconds())
	}
	s.e2e.Observe(res.E2E().Seconds())
	record.EachITL(res, s.eachITL)
	if s.slo.Met(res) {
		s.good.Inc()
	}
	s.completed.Inc()
}

// errCounter returns the counter of class c; a class this package does
// not know (a newer engine) still gets its own series, at the cost of a
// lookup.
func (s *Scenario) errCounter(c request.ErrorClass) prometheus.Counter {
	for i, k := range errorClasses {
		if k == c {
			return s.errs[i]
		}
	}
	return s.errVec.WithLabelValues(s.name, string(c))
}

// Watch sets the function read at every scrape for llmload_requests_in_flight
// and llmload_requests_queued (e.g. from runner.Handle.Status). It is
// called on the scraping goroutine, once per scrape, and must be safe for
// that. Until Watch is called both gauges read 0.
func (s *Scenario) Watch(f func() Live) {
	if f == nil {
		s.watch.Store(nil)
		return
	}
	s.watch.Store(&f)
}

// live reads the watched state.
func (s *Scenario) live() Live {
	if f := s.watch.Load(); f != nil {
		return (*f)()
	}
	return Live{}
}

// liveCollector emits the scrape-time gauges of every scenario. Its lock
// guards the list of scenarios only; Observe never takes it.
type liveCollector struct {
	inFlight, queued, rate *prometheus.Desc

	mu    sync.Mutex
	scens []liveScenario
}

type liveScenario struct {
	s    *Scenario
	rate func() float64
}

func newLiveCollector() *liveCollector {
	sc := []string{LabelScenario}
	return &liveCollector{
		inFlight: prometheus.NewDesc(NameInFlight, "Requests executing now (sent, not finished).", sc, nil),
		queued:   prometheus.NewDesc(NameQueued, "Requests waiting at the concurrency gate for a free slot now.", sc, nil),
		rate:     prometheus.NewDesc(NameTargetRate, "Arrival rate the scenario's schedule asks for now, in requests per second (constant, poisson, gamma arrivals).", sc, nil),
	}
}

func (c *liveCollector) add(s *Scenario, rate func() float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scens = append(c.scens, liveScenario{s, rate})
}

func (c *liveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.inFlight
	ch <- c.queued
	ch <- c.rate
}

func (c *liveCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	scens := append([]liveScenario(nil), c.scens...)
	c.mu.Unlock()
	for _, ls := range scens {
		l := ls.s.live()
		ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(l.InFlight), ls.s.name)
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(l.Queued), ls.s.name)
		if ls.rate == nil {
			continue
		}
		// +Inf ("send everything at once") is no rate a graph can show.
		if r := ls.rate(); !math.IsInf(r, 0) && !math.IsNaN(r) {
			ch <- prometheus.MustNewConstMetric(c.rate, prometheus.GaugeValue, r, ls.s.name)
		}
	}
}
