package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/simtest"
	"github.com/llmload/llmload/internal/testenv"
	"github.com/llmload/llmload/stack/compose"
	"github.com/llmload/llmload/stack/sim"
)

// notFromSim lists the series the dashboard reads that the simulator does
// not serve. Their panels are only checked to parse; the test fails when the
// simulator starts serving one, so the list cannot go stale.
var notFromSim = []string{"DCGM_FI_DEV_FB_USED", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_PROF_DRAM_ACTIVE"}

// TestStackDashboardQueriesAgainstPrometheus is the end-to-end check of the
// stack's monitoring half without a GPU: the rendered prometheus.yml
// (promtool-checked) drives a real Prometheus that scrapes the simulator as
// both vLLM and the DCGM exporter, and a real `llmload run --metrics-addr`
// as the client, while the run streams requests. Then every query of the
// rendered Grafana dashboard, with its variables set to All and
// $__rate_interval as Grafana computes it, runs as a range query through
// Prometheus' HTTP API and must return finite data; every variable query
// must list values.
func TestStackDashboardQueriesAgainstPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus, the simulator and a run; skipped with -short")
	}
	promBin := testenv.Tool(t, "prometheus")
	promtool := testenv.Tool(t, "promtool")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	t0 := time.Now()

	stackDir, simAddr, clientAddr, promURL := stackStartPrometheus(t, ctx, dir, promBin, promtool)

	// Four seconds of short streamed chat requests from the real client;
	// every third shares its first block, so the prefix cache hits.
	scenario := filepath.Join(dir, "stack_test.lua")
	if err := os.WriteFile(scenario, []byte(stackTestScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	run := exec.CommandContext(ctx, binPath, "run", scenario, "--url", "http://"+simAddr,
		"--no-ui", "--log-every", "0", "--out", filepath.Join(dir, "results"),
		"--metrics-addr", clientAddr, "--metrics-linger", "60s")
	runOut := startChild(t, run)
	runOut.waitFor(t, ctx, "more (Ctrl-C to stop now)") // results written; the exporter lingers
	runEnd := time.Now()

	// Wait for a scrape of every job after the run ended, so the final
	// counts are in.
	stackWaitFor(t, ctx, promURL, `min(timestamp(up))`,
		func(ts float64) bool { return ts > float64(runEnd.UnixMilli())/1000 })
	for _, job := range []string{"vllm", "dcgm", "llmload"} {
		if up := promQueryScalar(t, ctx, promURL, `up{job="`+job+`"}`); up != 1 {
			data, _ := promGet(ctx, promURL, "/api/v1/targets", url.Values{})
			t.Fatalf("scrape job %s is not up: %s", job, data)
		}
	}

	dash, err := os.ReadFile(filepath.Join(stackDir, compose.DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	queries, variables := dashboardQueries(t, dash)
	if want := countQueries(); len(queries) != want {
		t.Fatalf("the rendered dashboard has %d queries, compose.Rows() %d", len(queries), want)
	}
	simMetrics := stackGet(t, ctx, "http://"+simAddr+"/metrics")
	for _, name := range notFromSim {
		if strings.Contains(simMetrics, name) {
			t.Errorf("the simulator now serves %s: remove it from notFromSim", name)
		}
	}

	stackCheckPanels(t, ctx, promURL, queries, variables, t0)

	// Spot-check one number across the three sources: the client and the
	// server saw the same output tokens (the simulator is scraped twice,
	// as vllm and as dcgm, hence the job filter).
	clientTok := promQueryScalar(t, ctx, promURL, `sum(llmload_output_tokens_total)`)
	serverTok := promQueryScalar(t, ctx, promURL, `sum(vllm:generation_tokens_total{job="vllm"})`)
	if clientTok == 0 || clientTok != serverTok {
		t.Errorf("output tokens: client %v, vLLM %v", clientTok, serverTok)
	}

	run.Process.Signal(os.Interrupt) // end the linger
	if err := runOut.wait(ctx); err != nil {
		t.Errorf("llmload run: %v\n%s", err, runOut.String())
	}
	t.Logf("%d dashboard queries and %d variables checked against Prometheus in %s", len(queries), len(variables), time.Since(t0).Round(time.Millisecond))
}

const stackTestScenario = `
local llm = require("llmload")
return llm.scenario {
  name = "stack-test",
  source = function(i)
    if i > 60 then return nil end
    return { context_tokens = 600, generated_tokens = 40, hash_ids = { i % 3 } }
  end,
  arrivals = llm.arrivals.constant { rate = 15 },
  concurrency = 16,
}
`

// stackWaitFor polls an instant query until ok accepts its value.
func stackWaitFor(t *testing.T, ctx context.Context, base, expr string, ok func(float64) bool) {
	t.Helper()
	for {
		v := promQueryScalar(t, ctx, base, expr)
		if ok(v) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: last value %v: %v", expr, v, ctx.Err())
		case <-time.After(200 * time.Millisecond): // polling an external process, not a timing assumption
		}
	}
}

type dashQuery struct{ panel, expr string }

type dashVariable struct{ query, label, match string }

var labelValuesRe = regexp.MustCompile(`^label_values\(([^,]+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$`)

// dashboardQueries reads every panel target's expr and every query
// variable from Grafana dashboard JSON, as Grafana would.
func dashboardQueries(t *testing.T, b []byte) ([]dashQuery, map[string]dashVariable) {
	t.Helper()
	var d struct {
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Type  string `json:"type"`
				Name  string `json:"name"`
				Query string `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	var qs []dashQuery
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			qs = append(qs, dashQuery{p.Title, tg.Expr})
		}
	}
	vars := map[string]dashVariable{}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValuesRe.FindStringSubmatch(v.Query)
		if m == nil {
			t.Fatalf("variable %s: query %q is not label_values(metric, label)", v.Name, v.Query)
		}
		vars[v.Name] = dashVariable{query: v.Query, match: m[1], label: m[2]}
	}
	return qs, vars
}

func countQueries() int {
	n := 0
	for _, r := range compose.Rows() {
		for _, p := range r.Panels {
			n += len(p.Queries)
		}
	}
	return n
}

// stackCheckPanels runs every panel query and variable of the dashboard
// against Prometheus over the test's span: each must give data, except
// those on metrics the simulator does not serve.
func stackCheckPanels(t *testing.T, ctx context.Context, promURL string, queries []dashQuery, variables map[string]dashVariable, t0 time.Time) {
	t.Helper()
	// $__rate_interval as Grafana computes it: max(4 x scrape interval, step + scrape interval).
	expand := strings.NewReplacer("$scenario", ".*", "$model_name", ".*", "$instance", ".*", "$gpu", ".*", "$__rate_interval", "4s")
	end := time.Now()
	for _, q := range queries {
		expr := expand.Replace(q.expr)
		if strings.Contains(expr, "$") {
			t.Errorf("%s: unexpanded variable in %s", q.panel, expr)
			continue
		}
		series, finite, err := promQueryRange(ctx, promURL, expr, t0, end)
		if err != nil {
			t.Errorf("panel %q: %s: %v", q.panel, expr, err)
			continue
		}
		skipData := false
		for _, name := range notFromSim {
			skipData = skipData || strings.Contains(expr, name)
		}
		switch {
		case skipData:
			if series != 0 {
				t.Errorf("panel %q: %d series for a metric the simulator does not serve", q.panel, series)
			}
		case finite == 0:
			t.Errorf("panel %q: no finite value between %s and %s (%d series): %s", q.panel, t0.Format(time.TimeOnly), end.Format(time.TimeOnly), series, expr)
		}
	}
	for name, v := range variables {
		values := promLabelValues(t, ctx, promURL, v.label, v.match)
		if len(values) == 0 {
			t.Errorf("variable %s (%s) lists no value", name, v.query)
		}
		if name == "scenario" && (len(values) != 1 || values[0] != "stack-test") {
			t.Errorf("variable scenario lists %v, want [stack-test]", values)
		}
	}
}

// stackStartPrometheus renders the stack into dir/stack, starts the
// simulator (standing in for vLLM and the DCGM exporter) and a Prometheus
// that scrapes it and the client's exporter address, and waits until
// Prometheus scrapes.
func stackStartPrometheus(t *testing.T, ctx context.Context, dir, promBin, promtool string) (stackDir, simAddr, clientAddr, promURL string) {
	t.Helper()
	// The stack's own rendering, checked by promtool as the stack ships it.
	stackDir = filepath.Join(dir, "stack")
	if code, out, errs := runStack("init", "--dir", stackDir, "--scrape-interval", "1s"); code != exitOK {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	promtoolCheck(t, ctx, promtool, filepath.Join(stackDir, compose.PrometheusFile))

	// The simulator stands in for vLLM and the DCGM exporter.
	simAddr = strings.TrimPrefix(simtest.Start(t, sim.DefaultConfig()), "http://")

	clientAddr = freeLoopbackAddr(t)
	yml, err := compose.RenderPrometheus(compose.ScrapeTargets{
		VLLM: []string{simAddr}, DCGM: []string{simAddr}, Client: []string{clientAddr}, Interval: time.Second,
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, yml, 0o644); err != nil {
		t.Fatal(err)
	}
	// The stack's recording rules, at this Prometheus' interval: the
	// dashboard reads their series.
	rules, err := compose.RenderRules(time.Second, compose.DefaultObjectives(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	promtoolCheck(t, ctx, promtool, cfg)
	promURL = startPrometheus(t, ctx, promBin, cfg, filepath.Join(dir, "tsdb"))

	// Prometheus answers /-/ready before its scrape manager has started
	// (that waits for a 5 s reload tick): send traffic only once it scrapes.
	stackWaitFor(t, ctx, promURL, `count(up{job=~"vllm|dcgm"} == 1)`, func(v float64) bool { return v == 2 })
	return stackDir, simAddr, clientAddr, promURL
}
