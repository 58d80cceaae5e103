package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmload/llmload/stack/sim"
)

// fakePrometheusAPI serves /-/ready and /api/v1/targets with the given
// health per job.
func fakePrometheusAPI(t *testing.T, health map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/-/ready":
			fmt.Fprintln(w, "Prometheus Server is Ready.")
		case "/api/v1/targets":
			var ts []map[string]any
			for _, job := range []string{"vllm", "dcgm", "llmload"} {
				ts = append(ts, map[string]any{"scrapePool": job, "labels": map[string]string{"job": job},
					"health": health[job], "lastError": map[bool]string{true: "", false: "connection refused"}[health[job] == "up"],
					"scrapeUrl": "http://" + job + ":1/metrics"})
			}
			json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"activeTargets": ts}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(strings.TrimPrefix(addr, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStackStatus probes real loopback servers: the simulator for vLLM's
// endpoints, httptest servers for Prometheus' and Grafana's APIs; docker
// compose ps comes from the fake docker.
func TestStackStatus(t *testing.T) {
	// One simulator answers as vLLM, a second as the DCGM exporter (it
	// serves DCGM-style series too).
	startSim := func() (*sim.Server, string) {
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
		return s, ln.Addr().String()
	}
	s, vllmAddr := startSim()
	_, dcgmAddr := startSim()
	grafana := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/health" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"commit":"abc","database":"ok","version":"13.2.3"}`)
	}))
	t.Cleanup(grafana.Close)
	health := map[string]string{"vllm": "up", "dcgm": "up", "llmload": "down"}
	prom := fakePrometheusAPI(t, health)

	dir := t.TempDir()
	if code, out, errs := runStack("init", "--dir", dir, "--force", "--bind", "127.0.0.1", "--port", portOf(t, vllmAddr), "--dcgm-port", portOf(t, dcgmAddr),
		"--grafana-port", portOf(t, grafana.URL), "--prometheus-port", portOf(t, prom.URL)); code != exitOK {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	ps := `{"Service":"vllm","Name":"st-vllm-1","State":"running","Health":"healthy","Status":"Up 2 minutes (healthy)"}
{"Service":"dcgm-exporter","Name":"st-dcgm-exporter-1","State":"running","Health":"","Status":"Up 2 minutes"}
{"Service":"prometheus","Name":"st-prometheus-1","State":"running","Health":"healthy","Status":"Up 2 minutes (healthy)"}
`
	fakeDocker(t, false, ps, 0)
	code, out, errs := runStack("status", "--dir", dir)
	if code != exitOK {
		t.Fatalf("status: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"serves meta-llama/Llama-3.1-8B-Instruct", "power of 1 GPU(s)", "running (healthy)", "1/1 targets up", "version 13.2.3, database ok",
		"grafana        absent", // no container in ps
		"expected unless llmload run --metrics-addr",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("a check failed:\n%s", out)
	}

	// A DCGM exporter Prometheus cannot scrape fails the status.
	health["dcgm"] = "down"
	code, out, _ = runStack("status", "--dir", dir)
	if code != exitStackFailed || !strings.Contains(out, "FAIL") || !strings.Contains(out, "connection refused") {
		t.Errorf("dcgm target down: exit %d\n%s", code, out)
	}
	health["dcgm"] = "up"

	// vLLM gone: both vLLM probes fail; without docker the table still prints.
	s.Close()
	t.Setenv("PATH", t.TempDir())
	code, out, errs = runStack("status", "--dir", dir, "--timeout", "2s")
	if code != exitStackFailed || strings.Count(out, "FAIL") != 2 || !strings.Contains(errs, "docker not found") {
		t.Errorf("vLLM down, no docker: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runStack("status", "--dir", t.TempDir()); code != exitConfig || !strings.Contains(errs, "stack.json") {
		t.Errorf("status of a non-stack dir: exit %d %q", code, errs)
	}
}

// TestStackStatusAPIKey: status finds the API key the way llmload run does
// (--api-key, llmload.toml, $LLMLOAD_API_KEY) and sends it to /v1/models.
func TestStackStatusAPIKey(t *testing.T) {
	const key = "sk-status"
	vllm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			if r.Header.Get("Authorization") != "Bearer "+key {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, `{"data":[{"id":"m"}]}`)
		}
	}))
	defer vllm.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(vllm.URL, "http://"))
	dir := filepath.Join(t.TempDir(), "st")
	if code, out, errs := runStack("init", "--dir", dir, "--model", "m", "--port", port); code != exitOK {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	fakeDocker(t, false, "", 0)
	models := regexp.MustCompile(`(?m)^vllm .*/v1/models +(\S+) +(.*)$`)
	status := func(args ...string) (string, string) {
		_, out, _ := runStack(append([]string{"status", "--dir", dir, "--timeout", "2s"}, args...)...)
		m := models.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no /v1/models line:\n%s", out)
		}
		return m[1], m[2]
	}
	t.Setenv("LLMLOAD_API_KEY", "")
	t.Setenv("OPENAI_API_KEY", "")
	noConfig := filepath.Join(t.TempDir(), "llmload.toml")
	if res, detail := status(); res != "FAIL" || !strings.Contains(detail, "wants an API key") {
		t.Errorf("no key: %s %s", res, detail)
	}
	if code, _, errs := runStack("status", "--dir", dir, "--config", noConfig+".absent"); code != exitConfig || !strings.Contains(errs, "llmload.toml.absent") {
		t.Errorf("a --config that does not exist: exit %d %q", code, errs)
	}
	if res, detail := status("--api-key", key); res != "ok" || detail != "serves m" {
		t.Errorf("--api-key: %s %s", res, detail)
	}
	t.Setenv("LLMLOAD_API_KEY", key)
	if res, detail := status(); res != "ok" {
		t.Errorf("$LLMLOAD_API_KEY: %s %s", res, detail)
	}
	t.Setenv("LLMLOAD_API_KEY", "")
	t.Setenv("MY_VLLM_KEY", key)
	if err := os.WriteFile(noConfig, []byte("api_key_env = \"MY_VLLM_KEY\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res, detail := status("--config", noConfig); res != "ok" {
		t.Errorf("llmload.toml api_key_env: %s %s", res, detail)
	}
}
