package compose

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
)

//go:embed templates
var templates embed.FS

// Paths of the rendered files, relative to the stack directory.
const (
	ComposeFile      = "compose.yaml"
	PrometheusFile   = "prometheus/prometheus.yml"
	DCGMCountersFile = "dcgm/counters.csv"
	DashboardFile    = "grafana/dashboards/llmload.json"
	StateFile        = "stack.json"
)

// File is one rendered file.
type File struct {
	Path string // slash-separated, relative to the stack directory
	Data []byte
}

// ScrapeTargets are what the rendered prometheus.yml scrapes. Render uses
// the compose service names; tests point them at loopback servers.
type ScrapeTargets struct {
	VLLM, DCGM, Client []string
	Interval           time.Duration
}

// State is stack.json: the options a stack was rendered with, read back by
// `llmload stack status` to know where to probe.
type State struct {
	Version        string   `json:"llmload_version"`
	Model          string   `json:"model"`
	GPUs           string   `json:"gpus"`
	VLLMImage      string   `json:"vllm_image"`
	VLLMArgs       []string `json:"vllm_args"`
	Bind           string   `json:"bind"`
	Port           int      `json:"port"`
	DCGMPort       int      `json:"dcgm_port"`
	GrafanaPort    int      `json:"grafana_port"`
	PrometheusPort int      `json:"prometheus_port"`
	ClientMetrics  []string `json:"client_metrics"`
	ScrapeInterval string   `json:"scrape_interval"`
	// NoGrafana is omitted when false, so a stack.json written before the
	// option existed still means "with Grafana".
	NoGrafana bool `json:"no_grafana,omitempty"`
	// ServedGPUs are the DCGM gpu labels (or UUIDs) of the GPUs vLLM uses:
	// llmload run --gpu-ids.
	ServedGPUs []string `json:"served_gpus"`
}

// yamlQuote returns s as a YAML double-quoted scalar. JSON strings are valid
// YAML double-quoted scalars.
func yamlQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// composeQuote quotes a literal for compose.yaml: compose interpolates
// ${VAR} in every value, so a literal $ is written $$.
func composeQuote(s string) string { return yamlQuote(strings.ReplaceAll(s, "$", "$$")) }

func parse(name string, funcs template.FuncMap) (*template.Template, error) {
	src, err := templates.ReadFile("templates/" + name)
	if err != nil {
		return nil, err
	}
	return template.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(src))
}

func execute(name string, funcs template.FuncMap, data any) ([]byte, error) {
	t, err := parse(name, funcs)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// RenderPrometheus renders prometheus.yml for the given targets.
func RenderPrometheus(t ScrapeTargets, version string) ([]byte, error) {
	if t.Interval < time.Second {
		return nil, fmt.Errorf("scrape interval %s: want at least 1s", t.Interval)
	}
	// Prometheus rejects a timeout above the interval; leave a margin.
	timeout := t.Interval - t.Interval/5
	return execute("prometheus/prometheus.yml.tmpl", template.FuncMap{"q": yamlQuote}, map[string]any{
		"Version": version, "VLLM": t.VLLM, "DCGM": t.DCGM, "Client": t.Client,
		"Interval": promDuration(t.Interval), "Timeout": promDuration(timeout),
	})
}

// promDuration writes d in Prometheus' duration syntax (whole ms at least).
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// composeDuration writes whole seconds in compose's duration syntax,
// largest unit first and zero units left out (1h30m, 30m, 1m30s, 45s):
// what a user would have typed.
func composeDuration(d time.Duration) string {
	secs := int64(d / time.Second)
	var b strings.Builder
	for _, u := range []struct {
		n    int64
		unit string
	}{{3600, "h"}, {60, "m"}, {1, "s"}} {
		if q := secs / u.n; q > 0 {
			fmt.Fprintf(&b, "%d%s", q, u.unit)
			secs -= q * u.n
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}

// Render renders every file of a stack. dir is only named in comments (the
// command line a user types); nothing is written. The output depends on
// nothing but o and dir.
func Render(o Options, dir string) ([]File, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	devices, _ := o.gpuDevices()
	// The model is `vllm serve`'s positional argument: recent images
	// deprecate --model.
	command := []string{o.Model, "--host", "0.0.0.0", "--port", strconv.Itoa(vllmContainerPort)}
	if !o.hasVLLMArg("--max-model-len") {
		// Without it vLLM takes the model's whole context (128k for Llama
		// 3.1 8B) and stops at start when its KV cache does not fit a 24 GB
		// GPU; auto picks the longest that fits.
		command = append(command, "--max-model-len", "auto")
	}
	command = append(command, o.VLLMArgs...)
	hfMount := "hf-cache:/root/.cache/huggingface"
	if o.HFCache != "" {
		hfMount = o.HFCache + ":/root/.cache/huggingface"
	}
	bind := ""
	if o.Bind != "" {
		bind = o.Bind + ":"
		if strings.Contains(o.Bind, ":") { // IPv6
			bind = "[" + o.Bind + "]:"
		}
	}
	composeFuncs := template.FuncMap{
		"q":       composeQuote,
		"publish": func(host, container int) string { return fmt.Sprintf("%s%d:%d", bind, host, container) },
	}
	composeYAML, err := execute("compose.yaml.tmpl", composeFuncs, map[string]any{
		"Version": o.Version, "Dir": dir,
		"VLLMImage": o.VLLMImage, "VLLMCommand": command, "HFTokenEnv": o.HFTokenEnv,
		"HFCache": o.HFCache, "HFCacheMount": hfMount, "DeviceIDs": devices,
		"Port": o.Port, "DCGMPort": o.DCGMPort, "PrometheusPort": o.PrometheusPort, "GrafanaPort": o.GrafanaPort,
		"DCGMImage": o.DCGMImage, "PrometheusImage": o.PrometheusImage, "GrafanaImage": o.GrafanaImage,
		"CollectMillis": strconv.FormatInt(o.ScrapeInterval.Milliseconds(), 10),
		"StartPeriod":   composeDuration(o.HealthStartPeriod), "Grafana": !o.NoGrafana, "GPUs": o.GPUs != GPUsNone,
		"GrafanaAnonymous": o.GrafanaAnonymous,
	})
	if err != nil {
		return nil, err
	}
	prom, err := RenderPrometheus(ScrapeTargets{
		VLLM:     []string{net.JoinHostPort("vllm", strconv.Itoa(vllmContainerPort))},
		DCGM:     []string{net.JoinHostPort("dcgm-exporter", strconv.Itoa(dcgmContainerPort))},
		Client:   o.ClientMetrics,
		Interval: o.ScrapeInterval,
	}, o.Version)
	if err != nil {
		return nil, err
	}
	plain := template.FuncMap{}
	grafanaData := map[string]any{"DatasourceUID": DatasourceUID, "Interval": promDuration(o.ScrapeInterval)}
	datasource, err := execute("grafana/provisioning/datasources/prometheus.yaml.tmpl", plain, grafanaData)
	if err != nil {
		return nil, err
	}
	provider, err := execute("grafana/provisioning/dashboards/llmload.yaml.tmpl", plain, grafanaData)
	if err != nil {
		return nil, err
	}
	counters, err := templates.ReadFile("templates/" + DCGMCountersFile)
	if err != nil {
		return nil, err
	}
	dash, err := DashboardJSON()
	if err != nil {
		return nil, err
	}
	state, err := json.MarshalIndent(State{
		Version: o.Version, Model: o.Model, GPUs: o.GPUs, VLLMImage: o.VLLMImage, VLLMArgs: nonNil(o.VLLMArgs),
		Bind: o.Bind, Port: o.Port, DCGMPort: o.DCGMPort, GrafanaPort: o.GrafanaPort, PrometheusPort: o.PrometheusPort,
		ClientMetrics: nonNil(o.ClientMetrics), ScrapeInterval: o.ScrapeInterval.String(), NoGrafana: o.NoGrafana,
		ServedGPUs: nonNil(o.ServedGPUs()),
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	return []File{
		{ComposeFile, composeYAML},
		{PrometheusFile, prom},
		{DCGMCountersFile, counters},
		{"grafana/provisioning/datasources/prometheus.yaml", datasource},
		{"grafana/provisioning/dashboards/llmload.yaml", provider},
		{DashboardFile, dash},
		{StateFile, append(state, '\n')},
	}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ErrExists is returned by Write when a file would be overwritten without
// force.
var ErrExists = errors.New("file exists")

// Write writes files under dir. Without force it refuses, before writing
// anything, when any of them exists, so a stack someone edited is never
// half-overwritten.
func Write(dir string, files []File, force bool) error {
	if !force {
		var existing []string
		for _, f := range files {
			p := filepath.Join(dir, filepath.FromSlash(f.Path))
			if _, err := os.Stat(p); err == nil {
				existing = append(existing, p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if len(existing) > 0 {
			slices.Sort(existing)
			return fmt.Errorf("%w: %s (pass --force to overwrite, or choose another --dir)", ErrExists, strings.Join(existing, ", "))
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		// World-readable: the containers read them as their own users.
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// DCGMCounters returns the DCGM fields the rendered dcgm/counters.csv
// makes the exporter serve, in file order.
func DCGMCounters() []string {
	b, err := templates.ReadFile("templates/" + DCGMCountersFile)
	if err != nil {
		panic(err) // embedded at build time
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			name, _, _ := strings.Cut(line, ",")
			names = append(names, strings.TrimSpace(name))
		}
	}
	return names
}

// ReadState reads dir/stack.json.
func ReadState(dir string) (State, error) {
	var s State
	p := filepath.Join(dir, StateFile)
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return s, fmt.Errorf("%s not found: is %s a stack directory? (create one with llmload stack init --dir %s)", p, dir, dir)
		}
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", p, err)
	}
	return s, nil
}
