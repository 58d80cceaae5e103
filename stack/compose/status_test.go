package compose

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmload/llmload/stack/sim"
)

func TestParsePS(t *testing.T) {
	lines := `{"Service":"vllm","Name":"s-vllm-1","State":"running","Health":"starting","Status":"Up 5 seconds (health: starting)"}
{"Service":"grafana","Name":"s-grafana-1","State":"exited","Health":"","Status":"Exited (1) 2 seconds ago"}
`
	array := `[{"Service":"vllm","Name":"s-vllm-1","State":"running","Health":"starting"},{"Service":"grafana","Name":"s-grafana-1","State":"exited"}]`
	for name, in := range map[string]string{"ndjson (compose >= 2.21)": lines, "array (older 2.x)": array} {
		cs, err := ParsePS([]byte(in))
		if err != nil || len(cs) != 2 || cs[0].Service != "vllm" || cs[0].Health != "starting" || cs[1].State != "exited" {
			t.Errorf("%s: %+v, %v", name, cs, err)
		}
	}
	if cs, err := ParsePS([]byte("\n")); err != nil || cs != nil {
		t.Errorf("no containers: %v, %v", cs, err)
	}
	if _, err := ParsePS([]byte(`{"Service":`)); err == nil {
		t.Error("truncated JSON: want an error")
	}
}

func TestComposeMissingPieces(t *testing.T) {
	dir := t.TempDir()
	c := Compose{Dir: dir}
	if err := c.Run(context.Background(), "ps"); err == nil || !strings.Contains(err.Error(), "llmload stack init --dir "+dir) {
		t.Errorf("no compose.yaml: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ComposeFile), []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Docker = filepath.Join(dir, "no-docker-here")
	if err := c.Up(context.Background(), false); !errors.Is(err, ErrNoDocker) {
		t.Errorf("missing docker: %v", err)
	}
	// A docker whose compose subcommand is missing, like the CLI on this
	// machine without the plugin.
	fake := filepath.Join(dir, "docker")
	script := "#!/bin/sh\necho \"docker: unknown command: docker $1\" >&2\necho \"\" >&2\necho \"Run 'docker --help'\" >&2\nexit 1\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c.Docker = fake
	err := c.Down(context.Background(), true)
	if !errors.Is(err, ErrNoComposePlugin) || !strings.Contains(err.Error(), "docker: unknown command: docker compose") || strings.Contains(err.Error(), "Run 'docker") {
		t.Errorf("missing compose plugin: %v", err)
	}
}

// probeServers starts the simulator (vLLM), a Prometheus API and a Grafana
// health endpoint on loopback ports.
func probeServers(t *testing.T, targetsJSON *string, grafanaDB *string) Endpoints {
	t.Helper()
	s, err := sim.New(sim.DefaultConfig(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/-/ready":
			fmt.Fprintln(w, "Prometheus Server is Ready.")
		case "/api/v1/targets":
			fmt.Fprint(w, *targetsJSON)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(prom.Close)
	grafana := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"database":%q,"version":"13.2.3"}`, *grafanaDB)
	}))
	t.Cleanup(grafana.Close)
	// The simulator serves DCGM-style series on its /metrics too.
	return Endpoints{VLLM: "http://" + ln.Addr().String(), DCGM: "http://" + ln.Addr().String(), Prometheus: prom.URL, Grafana: grafana.URL, Model: sim.DefaultConfig().Model}
}

func target(job, health, lastErr string) string {
	return fmt.Sprintf(`{"scrapePool":%q,"labels":{"job":%q},"health":%q,"lastError":%q,"scrapeUrl":"http://%s:1/metrics"}`, job, job, health, lastErr, job)
}

func TestProbe(t *testing.T) {
	targets := `{"status":"success","data":{"activeTargets":[` + strings.Join([]string{
		target("vllm", "up", ""), target("dcgm", "up", ""), target("llmload", "up", ""), target("llmload", "down", "connection refused"),
	}, ",") + `]}}`
	db := "ok"
	ep := probeServers(t, &targets, &db)
	client := &http.Client{Timeout: 5 * time.Second}
	cs := Probe(context.Background(), client, ep)
	var b strings.Builder
	if err := PrintStatus(&b, cs); err != nil {
		t.Fatal(err)
	}
	table := b.String()
	if !Healthy(cs) {
		t.Errorf("want healthy:\n%s", table)
	}
	for _, want := range []string{"serves " + ep.Model, "power of 1 GPU(s)", "1/1 targets up", "1/2 targets up; http://llmload:1/metrics: connection refused", "version 13.2.3, database ok"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if got := len(cs); got != 8 {
		t.Errorf("%d checks, want 8 (vLLM health, models; DCGM metrics; 3 scrape jobs; Prometheus ready; Grafana)", got)
	}

	// A model the server does not list is reported, not failed (a
	// --served-model-name in --vllm-args renames it).
	ep.Model = "other/model"
	cs = Probe(context.Background(), client, ep)
	if cs[1].Detail != "serves "+sim.DefaultConfig().Model+" (not other/model: --served-model-name?)" || !cs[1].OK {
		t.Errorf("models check: %+v", cs[1])
	}

	// Grafana with a broken database and a DCGM exporter that does not
	// answer make the stack unhealthy; the client's target never does.
	db = "failing"
	targets = `{"status":"success","data":{"activeTargets":[` + target("vllm", "up", "") + "," + target("dcgm", "down", "context deadline exceeded") + `]}}`
	cs = Probe(context.Background(), client, ep)
	failed := map[string]bool{}
	for _, c := range cs {
		if !c.OK {
			failed[c.Service] = true
		}
	}
	if !failed["grafana"] || !failed["dcgm-exporter"] || !failed["llmload"] || failed["vllm"] || Healthy(cs) {
		t.Errorf("failed %v, healthy %v", failed, Healthy(cs))
	}
	for _, c := range cs {
		if c.Service == "llmload" && (c.Result() != "down" || c.Detail != "no such job in prometheus.yml") {
			t.Errorf("client check %+v", c)
		}
	}

	// Containers from docker compose ps fill in the column.
	withC := WithContainers(cs, []Container{{Service: "vllm", State: "running", Health: "healthy"}, {Service: "grafana", State: "restarting"}})
	for _, c := range withC {
		want := map[string]string{"vllm": "running (healthy)", "grafana": "restarting", "dcgm-exporter": "absent", "prometheus": "absent", "llmload": "-"}[c.Service]
		if c.Container != want {
			t.Errorf("%s container %q, want %q", c.Service, c.Container, want)
		}
	}
	if cs[0].Container != "" {
		t.Error("WithContainers changed its input")
	}

	// Replicas behind the router: no probe reaches them, their containers
	// are checked.
	withC = WithContainers(cs, []Container{{Service: "vllm-1", State: "running", Health: "healthy", Status: "Up 1 minute (healthy)"},
		{Service: "vllm-2", State: "running", Health: "unhealthy", Status: "Up 1 minute (unhealthy)"}})
	extra := withC[len(cs):]
	if len(extra) != 2 || extra[0].Service != "vllm-1" || !extra[0].OK || extra[0].Container != "running (healthy)" ||
		extra[1].Service != "vllm-2" || extra[1].OK || extra[1].Result() != "FAIL" || extra[1].Detail != "Up 1 minute (unhealthy)" {
		t.Errorf("replica container checks %+v", extra)
	}
}

func TestProbeNothingRunning(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	u := "http://" + addr
	cs := Probe(context.Background(), &http.Client{Timeout: 2 * time.Second}, Endpoints{VLLM: u, DCGM: u, Prometheus: u, Grafana: u})
	for _, c := range cs {
		if c.OK || !strings.Contains(c.Detail+c.Probe, addr) {
			t.Errorf("%+v: want a failure naming %s", c, addr)
		}
		if strings.HasPrefix(c.Detail, "Get ") {
			t.Errorf("detail repeats the URL: %q", c.Detail)
		}
	}
	if Healthy(cs) {
		t.Error("nothing running, yet healthy")
	}
}

func TestEndpointsFor(t *testing.T) {
	st := State{Port: 8001, DCGMPort: 9401, GrafanaPort: 3001, PrometheusPort: 9091, Model: "m"}
	if ep := EndpointsFor(st, ""); ep.VLLM != "http://127.0.0.1:8001" || ep.DCGM != "http://127.0.0.1:9401" || ep.Grafana != "http://127.0.0.1:3001" || ep.Prometheus != "http://127.0.0.1:9091" {
		t.Errorf("%+v", ep)
	}
	st.Bind = "::1"
	if ep := EndpointsFor(st, ""); ep.VLLM != "http://[::1]:8001" {
		t.Errorf("bind ::1: %+v", ep)
	}
	if ep := EndpointsFor(st, "gpu-node"); ep.Prometheus != "http://gpu-node:9091" {
		t.Errorf("--host: %+v", ep)
	}
}

// TestProbeAPIKey: a vLLM started with --api-key answers /v1/models only
// with the key (its /health needs none); status sends the key it was given
// and says what to do when it has none.
func TestProbeAPIKey(t *testing.T) {
	const key = "sk-stack-test"
	vllm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" && r.Header.Get("Authorization") != "Bearer "+key {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"Unauthorized"}`)
			return
		}
		if r.URL.Path == "/v1/models" {
			fmt.Fprint(w, `{"data":[{"id":"m"}]}`)
		}
	}))
	defer vllm.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	models := func(ep Endpoints) Check {
		for _, c := range Probe(context.Background(), client, ep) {
			if strings.HasSuffix(c.Probe, "/v1/models") {
				return c
			}
		}
		t.Fatal("no /v1/models check")
		return Check{}
	}
	ep := Endpoints{VLLM: vllm.URL, DCGM: vllm.URL, Prometheus: vllm.URL, Model: "m"}
	if c := models(ep); c.OK || !strings.Contains(c.Detail, "HTTP 401: the server wants an API key") || !strings.Contains(c.Detail, "$LLMLOAD_API_KEY") {
		t.Errorf("without a key: %+v", c)
	}
	ep.APIKey = "wrong"
	if c := models(ep); c.OK || !strings.Contains(c.Detail, "refused the API key") || strings.Contains(c.Detail, "wrong") {
		t.Errorf("wrong key: %+v", c)
	}
	ep.APIKey = key
	if c := models(ep); !c.OK || c.Detail != "serves m" {
		t.Errorf("with the key: %+v", c)
	}
}
