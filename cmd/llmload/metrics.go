package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/llmload/llmload/engine/launch"
	"github.com/llmload/llmload/engine/load/pace"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/results/prom"
)

// metricsRun is the Prometheus exporter of `llmload run --metrics-addr`.
// A nil *metricsRun is the exporter switched off: every method is a no-op.
type metricsRun struct {
	exp    *prom.Exporter
	srv    *prom.Server
	linger time.Duration
}

// startMetrics serves /metrics on --metrics-addr before the run starts, so
// a busy port stops the run before it sends anything, and Prometheus sees
// the scenarios' series (at 0) from the first request on.
func startMetrics(f runFlags, stdout io.Writer) (*metricsRun, error) {
	if f.metricsLinger < 0 {
		return nil, fmt.Errorf("--metrics-linger must be >= 0, got %s", f.metricsLinger)
	}
	if f.metricsAddr == "" {
		if f.metricsLinger > 0 {
			return nil, fmt.Errorf("--metrics-linger %s without --metrics-addr: add --metrics-addr 127.0.0.1:9464", f.metricsLinger)
		}
		return nil, nil
	}
	reg := prometheus.NewRegistry()
	// The load generator's own CPU and memory: a saturated client is the
	// first suspect when client and server latencies disagree.
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := prom.New(reg)
	if err != nil {
		return nil, err
	}
	srv, err := prom.Listen(f.metricsAddr, reg)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	fmt.Fprintf(stdout, "metrics: %s\n", srv.URL())
	return &metricsRun{exp: exp, srv: srv, linger: f.metricsLinger}, nil
}

// attach labels the scenario's series and reads in-flight and queued
// requests from the run's status at each scrape. It returns the observer
// that feeds the series every result (nil when the exporter is off).
func (m *metricsRun) attach(sr *launch.ScenarioRun) (func(*request.Result), error) {
	if m == nil {
		return nil, nil
	}
	sc := sr.Scenario()
	info := prom.Info{Name: sc.Name, URL: sc.URL, Model: sc.Model, Version: version, SLO: sc.SLO}
	if rs, ok := sc.Schedule.(pace.RateSetter); ok {
		info.TargetRate = rs.Rate
	}
	ps, err := m.exp.Scenario(info)
	if err != nil {
		return nil, err
	}
	ps.Watch(func() prom.Live {
		st, ok := sr.Status()
		if !ok {
			return prom.Live{}
		}
		return prom.Live{InFlight: st.InFlight, Queued: st.Queued}
	})
	return ps.Observe, nil
}

// finish keeps serving for --metrics-linger after the run, so Prometheus
// scrapes the final counts, then stops the server. Ctrl-C ends the wait:
// the first one when the run ended on its own, the second (abort) when the
// run was already stopped by one.
func (m *metricsRun) finish(ctx context.Context, abort <-chan struct{}, stdout io.Writer) {
	if m == nil {
		return
	}
	stop := abort
	if ctx.Err() == nil {
		merged, done := make(chan struct{}), make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-ctx.Done():
			case <-abort:
			case <-done:
			}
			close(merged)
		}()
		stop = merged
	}
	if m.linger > 0 {
		fmt.Fprintf(stdout, "metrics: serving %s for %s more (Ctrl-C to stop now)\n", m.srv.URL(), m.linger)
	}
	m.srv.Linger(m.linger, stop)
}

// close stops the server at once (an early return from the run).
func (m *metricsRun) close() {
	if m != nil {
		m.srv.Close()
	}
}
