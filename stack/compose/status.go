package compose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Endpoints are the base URLs `llmload stack status` probes.
type Endpoints struct {
	VLLM, DCGM, Prometheus, Grafana string // e.g. http://127.0.0.1:8000; Grafana "": not in the stack
	Model                           string // the model the stack serves
	// APIKey, when set, goes as a bearer token to vLLM's /v1/models (its
	// /health needs none). Never printed.
	APIKey string
}

// EndpointsFor derives the probe URLs from a stack's state: the published
// ports on host (the bind address when one was set, else 127.0.0.1).
func EndpointsFor(s State, host string) Endpoints {
	if host == "" {
		host = s.Bind
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
	}
	u := func(port int) string { return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) }
	ep := Endpoints{VLLM: u(s.Port), DCGM: u(s.DCGMPort), Prometheus: u(s.PrometheusPort), Grafana: u(s.GrafanaPort), Model: s.Model}
	if s.NoGrafana {
		ep.Grafana = ""
	}
	return ep
}

// Check is one line of the status table.
type Check struct {
	Service   string // compose service, or "llmload" for the client
	Container string // container state from docker compose ps; "" when unknown
	Probe     string // what was checked
	OK        bool
	Optional  bool   // a failure does not make the stack unhealthy (the client between runs)
	Detail    string // the answer, or what went wrong
}

// Result is the word the table prints for the check.
func (c Check) Result() string {
	switch {
	case c.OK:
		return "ok"
	case c.Optional:
		return "down"
	default:
		return "FAIL"
	}
}

// Healthy reports whether every required check passed.
func Healthy(cs []Check) bool {
	for _, c := range cs {
		if !c.OK && !c.Optional {
			return false
		}
	}
	return true
}

// Probe checks the stack's HTTP endpoints: vLLM /health and /v1/models,
// the DCGM exporter's /metrics, Prometheus /-/ready and its scrape targets
// (vllm, dcgm, llmload), Grafana /api/health (unless ep.Grafana is empty).
// Every probe runs even when an earlier one failed.
func Probe(ctx context.Context, client *http.Client, ep Endpoints) []Check {
	var cs []Check
	modelsURL := ep.VLLM + "/v1/models"
	get := func(url string, into any) (int, time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, 0, err
		}
		if url == modelsURL && ep.APIKey != "" {
			req.Header.Set("Authorization", "Bearer "+ep.APIKey)
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			var ue *neturl.Error
			if errors.As(err, &ue) {
				err = ue.Err // the URL is in the CHECK column already
			}
			return 0, 0, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		took := time.Since(t0)
		if err != nil {
			return resp.StatusCode, took, err
		}
		if resp.StatusCode == http.StatusUnauthorized && url == modelsURL {
			what := "the server wants an API key: give it as for llmload run (--api-key, llmload.toml, or $LLMLOAD_API_KEY / $OPENAI_API_KEY)"
			if ep.APIKey != "" {
				what = "the server refused the API key given (--api-key, llmload.toml, or $LLMLOAD_API_KEY / $OPENAI_API_KEY)"
			}
			return resp.StatusCode, took, fmt.Errorf("HTTP 401: %s", what)
		}
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, took, fmt.Errorf("HTTP %d: %s", resp.StatusCode, oneLine(body))
		}
		if raw, ok := into.(*[]byte); ok {
			*raw = body
		} else if into != nil {
			if err := json.Unmarshal(body, into); err != nil {
				return resp.StatusCode, took, fmt.Errorf("not the expected JSON: %v", err)
			}
		}
		return resp.StatusCode, took, nil
	}
	check := func(service, probe, url string, into any, detail func() (bool, string)) {
		c := Check{Service: service, Probe: probe + " " + url}
		_, took, err := get(url, into)
		switch {
		case err != nil:
			c.Detail = err.Error()
		case detail != nil:
			c.OK, c.Detail = detail()
		default:
			c.OK, c.Detail = true, fmt.Sprintf("200 in %s", took.Round(time.Millisecond))
		}
		cs = append(cs, c)
	}

	check("vllm", "GET", ep.VLLM+"/health", nil, nil)
	var models struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	check("vllm", "GET", modelsURL, &models, func() (bool, string) {
		var ids []string
		for _, m := range models.Data {
			ids = append(ids, m.ID)
		}
		if len(ids) == 0 {
			return false, "serves no model"
		}
		if ep.Model != "" && !slices.Contains(ids, ep.Model) {
			return true, fmt.Sprintf("serves %s (not %s: --served-model-name?)", strings.Join(ids, ", "), ep.Model)
		}
		return true, "serves " + strings.Join(ids, ", ")
	})
	jobs := probeTargets(get, ep.Prometheus) // vllm, dcgm, llmload
	cs = append(cs, jobs[0])
	var dcgm []byte
	check("dcgm-exporter", "GET", ep.DCGM+"/metrics", &dcgm, func() (bool, string) {
		gpus := 0
		for _, line := range strings.Split(string(dcgm), "\n") {
			if strings.HasPrefix(line, "DCGM_FI_DEV_POWER_USAGE{") {
				gpus++
			}
		}
		if gpus == 0 {
			return false, "no DCGM_FI_DEV_POWER_USAGE series: is it a DCGM exporter?"
		}
		return true, fmt.Sprintf("power of %d GPU(s)", gpus)
	})
	cs = append(cs, jobs[1])
	check("prometheus", "GET", ep.Prometheus+"/-/ready", nil, nil)
	var health struct {
		Database string `json:"database"`
		Version  string `json:"version"`
	}
	if ep.Grafana != "" {
		check("grafana", "GET", ep.Grafana+"/api/health", &health, func() (bool, string) {
			return health.Database == "ok", fmt.Sprintf("version %s, database %s", health.Version, health.Database)
		})
	}
	return append(cs, jobs[2])
}

// probeTargets asks Prometheus how its scrapes of each job go: whether it
// reaches vLLM and the exporter inside the compose network, and the client
// on the host (host.docker.internal is the usual stumbling block).
func probeTargets(get func(string, any) (int, time.Duration, error), prom string) []Check {
	jobs := []struct {
		job, service string
		optional     bool
	}{{"vllm", "vllm", false}, {"dcgm", "dcgm-exporter", false}, {"llmload", "llmload", true}}
	var targets struct {
		Data struct {
			ActiveTargets []struct {
				ScrapePool string            `json:"scrapePool"`
				Labels     map[string]string `json:"labels"`
				Health     string            `json:"health"`
				LastError  string            `json:"lastError"`
				ScrapeURL  string            `json:"scrapeUrl"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	url := prom + "/api/v1/targets?state=active"
	_, _, err := get(url, &targets)
	var cs []Check
	for _, j := range jobs {
		c := Check{Service: j.service, Probe: "prometheus scrape job " + j.job, Optional: j.optional}
		if err != nil {
			c.Detail = "Prometheus did not answer " + url
			cs = append(cs, c)
			continue
		}
		var up, all []string
		var lastErr string
		for _, t := range targets.Data.ActiveTargets {
			if t.Labels["job"] != j.job && t.ScrapePool != j.job {
				continue
			}
			all = append(all, t.ScrapeURL)
			if t.Health == "up" {
				up = append(up, t.ScrapeURL)
			} else if lastErr == "" {
				lastErr = t.ScrapeURL + ": " + orUnknown(t.LastError, t.Health)
			}
		}
		switch {
		case len(all) == 0:
			c.Detail = "no such job in prometheus.yml"
		case len(up) == len(all):
			c.OK, c.Detail = true, fmt.Sprintf("%d/%d targets up", len(up), len(all))
		default:
			c.Detail = fmt.Sprintf("%d/%d targets up; %s", len(up), len(all), lastErr)
			if j.optional {
				c.Detail += " (expected unless llmload run --metrics-addr 0.0.0.0:9464 is running)"
			}
		}
		cs = append(cs, c)
	}
	return cs
}

func orUnknown(s, health string) string {
	if s != "" {
		return s
	}
	return "health " + health
}

func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// WithContainers fills each check's Container column from docker compose ps.
// Services that have no container get "absent"; when ps failed (no docker)
// the column stays empty. A container no HTTP probe reaches (a vLLM replica
// behind the router) gets a check of its own: running, and healthy when it
// has a healthcheck.
func WithContainers(cs []Check, containers []Container) []Check {
	state := map[string]string{}
	for _, c := range containers {
		s := c.State
		if c.Health != "" {
			s += " (" + c.Health + ")"
		}
		state[c.Service] = s
	}
	out := slices.Clone(cs)
	for _, c := range containers {
		if !slices.ContainsFunc(cs, func(k Check) bool { return k.Service == c.Service }) {
			out = append(out, Check{Service: c.Service, Probe: "container",
				OK: c.State == "running" && (c.Health == "" || c.Health == "healthy"), Detail: c.Status})
		}
	}
	for i := range out {
		if out[i].Service == "llmload" {
			out[i].Container = "-" // the client runs outside the stack
			continue
		}
		if s, ok := state[out[i].Service]; ok {
			out[i].Container = s
		} else {
			out[i].Container = "absent"
		}
	}
	return out
}

// PrintStatus writes the status table.
func PrintStatus(w io.Writer, cs []Check) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tCONTAINER\tCHECK\tRESULT\tDETAIL")
	for _, c := range cs {
		container := c.Container
		if container == "" {
			container = "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Service, container, c.Probe, c.Result(), c.Detail)
	}
	return tw.Flush()
}
