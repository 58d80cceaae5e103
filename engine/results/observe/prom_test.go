package observe

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/promtest"
	"github.com/llmload/llmload/internal/testenv"
)

// startPromScraping runs Debian's Prometheus scraping the simulators
// every 100 ms: each under its own instance label with
// deployment="llm", and sims[0] once more under deployment="other", which
// a selector for the deployment must leave out. It returns once
// Prometheus has scraped all three.
func startPromScraping(t *testing.T, ctx context.Context, sims map[string]string) string {
	t.Helper()
	bin := testenv.Tool(t, "prometheus")
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 100ms\n  scrape_timeout: 90ms\nscrape_configs:\n")
	for _, job := range []string{"llm", "other"} {
		fmt.Fprintf(&b, "  - job_name: %s\n    static_configs:\n", job)
		for inst, base := range sims {
			if job == "other" && inst != "sim-a" {
				continue
			}
			u, _ := url.Parse(base)
			fmt.Fprintf(&b, "      - targets: [%q]\n        labels: {instance: %q, deployment: %q}\n", u.Host, inst+"-"+job, job)
		}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	base := promtest.Start(t, ctx, bin, cfg, filepath.Join(dir, "tsdb"))
	api := &promAPI{base: base, client: newPromSource(Target{}, PromQuery{API: base, Selector: "{}"}).api.client}
	for { // polling another process until it has scraped every target
		up, err := api.instant(ctx, `sum(up)`, time.Now())
		if err == nil && len(up) == 1 && up[0].value == float64(len(sims)+1) {
			return base
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Prometheus never scraped the simulators: %v %v", up, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestPrometheusQueryMatchesScrapes reads two simulators through
// Prometheus' query API and, at the same time, by scraping each directly.
// The baseline of both is the simulators at rest and the final sample is
// taken after Prometheus scraped past the run's end, so per instance and
// in total every counter's increase and every mean must be equal, and the
// gauges at rest too.
func TestPrometheusQueryMatchesScrapes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sims := map[string]string{
		"sim-a": startSim(t, 5*time.Millisecond, time.Millisecond),
		"sim-b": startSim(t, 5*time.Millisecond, time.Millisecond),
	}
	prom := startPromScraping(t, ctx, sims)

	epoch := time.Now()
	viaProm, err := Start(Config{Epoch: epoch, Interval: 200 * time.Millisecond, Targets: []Target{
		{Role: "server", URL: PromPrefix + prom + `?selector={deployment="llm"}&final_wait=30s`},
	}})
	if err != nil {
		t.Fatal(err)
	}
	direct, err := Start(Config{Epoch: epoch, Interval: 200 * time.Millisecond, Targets: []Target{
		{Role: "server", URL: sims["sim-a"] + "/metrics"}, {Role: "server", URL: sims["sim-b"] + "/metrics"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]int{"sim-a": 3 * 30, "sim-b": 5 * 20}
	for range 3 {
		complete(t, sims["sim-a"], 30)
	}
	for range 5 {
		complete(t, sims["sim-b"], 20)
	}
	rp, rd := viaProm.Stop(), direct.Stop()
	if len(rp.Notes) > 0 || rp.Failures > 0 {
		t.Fatalf("via Prometheus: notes %v, %d failures (%s)", rp.Notes, rp.Failures, rp.FirstError)
	}

	sp := rp.Summarize(Client{}).Server
	sd := rd.Summarize(Client{}).Server
	if len(sp.Instances) != 2 || len(sd.Instances) != 2 {
		t.Fatalf("instances: via Prometheus %+v, scraped %+v", sp.Instances, sd.Instances)
	}
	scraped := map[string]InstanceSummary{}
	for _, d := range sd.Instances {
		scraped[d.Instance] = d
	}
	for i, inst := range []string{"sim-a", "sim-b"} {
		p, d := sp.Instances[i], scraped[sims[inst]+"/metrics"]
		if p.Instance != inst+"-llm" || d.Instance == "" {
			t.Fatalf("instance %d: %q via Prometheus; scraped %+v", i, p.Instance, sd.Instances)
		}
		wantV(t, inst+" generation tokens", p.GenerationTokens, float64(tokens[inst]))
		sameSummary(t, inst, counters(p.ServerCounts), counters(d.ServerCounts))
	}
	wantV(t, "total generation tokens", sp.GenerationTokens, float64(tokens["sim-a"]+tokens["sim-b"]))
	sameSummary(t, "total", counters(sp.ServerCounts), counters(sd.ServerCounts))

	lp, _ := viaProm.Latest()
	ld, _ := direct.Latest()
	for _, g := range []struct {
		name string
		p, d Value
	}{{"running", lp.Running, ld.Running}, {"waiting", lp.Waiting, ld.Waiting}, {"kv usage", lp.KVUsage, ld.KVUsage}} {
		if !g.p.OK || g.p != g.d {
			t.Errorf("%s at rest: %v via Prometheus, %v scraped", g.name, g.p, g.d)
		}
	}
}

// counters are the figures that must match between the two paths:
// counters' increases and the means made of them (gauge means depend on
// when each path sampled).
func counters(s ServerCounts) []Value {
	return []Value{s.PromptTokens, s.GenerationTokens, s.RequestsSucceeded, s.PrefixQueries, s.PrefixHits,
		s.Preemptions, s.MeanTTFTms, s.TTFTCount, s.MeanITLms, s.ITLCount, s.MeanE2ELms, s.E2ELCount,
		s.MeanQueueTimems, s.QueueTimeCount}
}

// sameSummary compares the figures: counts exactly, sums of seconds to
// float rounding (each path adds the increases of its own intervals).
func sameSummary(t *testing.T, what string, p, d []Value) {
	t.Helper()
	for i := range p {
		if !p[i].OK || !d[i].OK || !near(p[i].V, d[i].V) {
			t.Errorf("%s: figure %d is %v via Prometheus, %v scraped", what, i, p[i].V, d[i].V)
		}
	}
}

// TestPrometheusQueryErrors: a selector Prometheus cannot parse, one that
// matches nothing and a Prometheus that does not answer stop the run at
// Start, with the flag's name and what to fix.
func TestPrometheusQueryErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prom := startPromScraping(t, ctx, map[string]string{"sim-a": startSim(t, time.Millisecond, time.Millisecond)})
	dead := "http://" + testenv.FreeLoopbackAddr(t)
	for _, c := range []struct{ role, url, want string }{
		{"server", prom + `?selector={deployment=~"(llm"}`, `--server-metrics prom+http://`},
		{"server", prom + `?selector={deployment=~"(llm"}`, `bad_data: `},
		{"gpu", prom + `?selector={deployment="nope"}`, `--gpu-metrics prom+http://`},
		{"gpu", prom + `?selector={deployment="nope"}`, `no series match selector {deployment="nope"}`},
		{"server", dead + `?selector={deployment="llm"}`, `unreachable`},
		{"server", prom + `?selector=deployment="llm"`, `want label matchers in braces`},
	} {
		_, err := Start(Config{Epoch: time.Now(), Targets: []Target{{Role: c.role, URL: PromPrefix + c.url}}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: error %v, want it to contain %q", c.role, c.url, err, c.want)
		}
	}
	// The GPU path reads the simulator's DCGM series through the same API.
	o, err := Start(Config{Epoch: time.Now(), Interval: 100 * time.Millisecond,
		Targets: []Target{{Role: "gpu", URL: PromPrefix + prom + `?selector={deployment="llm"}&final_wait=0s`}}})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := o.Latest()
	r := o.Stop()
	if s.GPUs != 1 || !s.PowerW.OK || s.Running.OK {
		t.Errorf("gpu via Prometheus: %d GPUs, power %v, running %v (want the DCGM series only)", s.GPUs, s.PowerW, s.Running)
	}
	if len(r.InstanceEnergy) != 1 || r.InstanceEnergy[0].Instance != "sim-a-llm" {
		t.Errorf("energy instances %+v", r.InstanceEnergy)
	}
}
