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
	RouterFile       = "router/nginx.conf" // only with --replicas above 1
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
	// TensorParallel and Replicas are omitted at their defaults (0, 1).
	TensorParallel int `json:"tensor_parallel_size,omitempty"`
	Replicas       int `json:"replicas,omitempty"`
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
	// The model is `vllm serve`'s positional argument: recent images
	// deprecate --model.
	command := []string{o.Model, "--host", "0.0.0.0", "--port", strconv.Itoa(vllmContainerPort)}
	if !o.hasVLLMArg("--max-model-len") {
		// Without it vLLM takes the model's whole context (128k for Llama
		// 3.1 8B) and stops at start when its KV cache does not fit a 24 GB
		// GPU; auto picks the longest that fits.
		command = append(command, "--max-model-len", "auto")
	}
	if o.TensorParallel > 0 {
		command = append(command, "--tensor-parallel-size", strconv.Itoa(o.TensorParallel))
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
	replicas := o.vllmServices()
	composeYAML, err := execute("compose.yaml.tmpl", composeFuncs, map[string]any{
		"Version": o.Version, "Dir": dir, "VLLM": replicas, "Router": o.Replicas > 1, "RouterImage": o.RouterImage,
		"DCGMReservation": o.dcgmReservation(),
		"VLLMImage":       o.VLLMImage, "VLLMCommand": command, "HFTokenEnv": o.HFTokenEnv,
		"HFCache": o.HFCache, "HFCacheMount": hfMount,
		"Port": o.Port, "DCGMPort": o.DCGMPort, "PrometheusPort": o.PrometheusPort, "GrafanaPort": o.GrafanaPort,
		"DCGMImage": o.DCGMImage, "PrometheusImage": o.PrometheusImage, "GrafanaImage": o.GrafanaImage,
		"CollectMillis": strconv.FormatInt(o.ScrapeInterval.Milliseconds(), 10),
		"StartPeriod":   composeDuration(o.HealthStartPeriod), "Grafana": !o.NoGrafana,
		"GrafanaAnonymous": o.GrafanaAnonymous,
	})
	if err != nil {
		return nil, err
	}
	var vllmTargets []string
	for _, r := range replicas {
		vllmTargets = append(vllmTargets, net.JoinHostPort(r.Name, strconv.Itoa(vllmContainerPort)))
	}
	prom, err := RenderPrometheus(ScrapeTargets{
		VLLM:     vllmTargets,
		DCGM:     []string{net.JoinHostPort("dcgm-exporter", strconv.Itoa(dcgmContainerPort))},
		Client:   o.ClientMetrics,
		Interval: o.ScrapeInterval,
	}, o.Version)
	if err != nil {
		return nil, err
	}
	rules, err := RenderRules(o.ScrapeInterval, o.Alerts, o.Version)
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
	dash, err := DashboardJSON(DashboardSpec{GPUs: o.ServedGPUs()})
	if err != nil {
		return nil, err
	}
	state, err := json.MarshalIndent(State{
		Version: o.Version, Model: o.Model, GPUs: o.GPUs, VLLMImage: o.VLLMImage, VLLMArgs: nonNil(o.VLLMArgs),
		Bind: o.Bind, Port: o.Port, DCGMPort: o.DCGMPort, GrafanaPort: o.GrafanaPort, PrometheusPort: o.PrometheusPort,
		ClientMetrics: nonNil(o.ClientMetrics), ScrapeInterval: o.ScrapeInterval.String(), NoGrafana: o.NoGrafana,
		Replicas:   replicasInState(o.Replicas),
		ServedGPUs: nonNil(o.ServedGPUs()), TensorParallel: o.TensorParallel,
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	files := []File{
		{ComposeFile, composeYAML},
		{PrometheusFile, prom},
		{RulesFile, rules},
		{DCGMCountersFile, counters},
		{"grafana/provisioning/datasources/prometheus.yaml", datasource},
		{"grafana/provisioning/dashboards/llmload.yaml", provider},
		{DashboardFile, dash},
		{StateFile, append(state, '\n')},
	}
	if o.Replicas > 1 {
		router, err := execute("router/nginx.conf.tmpl", plain, map[string]any{"Version": o.Version, "Replicas": vllmTargets})
		if err != nil {
			return nil, err
		}
		files = append(files, File{RouterFile, router})
	}
	return files, nil
}

// reservation is a service's GPU reservation in compose.yaml.
type reservation struct {
	GPUs      bool     // false: --gpus none, no reservation
	DeviceIDs []string // nil: count all
}

// vllmService is one vLLM container of compose.yaml.
type vllmService struct {
	Name        string
	Publish     bool // its port is the stack's API port (one replica, no router)
	Reservation reservation
}

// vllmServices are the vLLM containers: one named vllm on --gpus, or
// vllm-1 ... vllm-N on their own GPUs behind the router (named vllm, so
// clients and `stack status` find the API under the same name).
func (o Options) vllmServices() []vllmService {
	if o.Replicas <= 1 {
		return []vllmService{{Name: "vllm", Publish: true, Reservation: o.dcgmReservation()}}
	}
	var out []vllmService
	for i, ids := range o.replicaDevices() {
		out = append(out, vllmService{Name: "vllm-" + strconv.Itoa(i+1), Reservation: reservation{GPUs: o.GPUs != GPUsNone, DeviceIDs: ids}})
	}
	for len(out) < o.Replicas { // --gpus none
		out = append(out, vllmService{Name: "vllm-" + strconv.Itoa(len(out)+1)})
	}
	return out
}

// dcgmReservation is --gpus as it is: the exporter watches every GPU
// reserved, whichever replica uses it.
func (o Options) dcgmReservation() reservation {
	ids, _ := o.gpuDevices()
	return reservation{GPUs: o.GPUs != GPUsNone, DeviceIDs: ids}
}

// replicasInState is --replicas as stack.json has it: 0 (left out) for one.
func replicasInState(n int) int {
	if n > 1 {
		return n
	}
	return 0
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
