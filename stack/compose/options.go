package compose

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Pinned images. Tags were current in late 2026; a pinned tag keeps a stack
// rendered today the same stack next month. Override with Options (the CLI
// exposes --vllm-image; the others are edited in compose.yaml).
const (
	// DefaultVLLMImage is built on CUDA 13 (NVIDIA driver 580 or newer); the
	// "-cu129" build of the same version runs on CUDA 12.x drivers.
	DefaultVLLMImage = "vllm/vllm-openai:v0.31.0"
	// DefaultDCGMImage: DCGM 4.x exporters are published as "-distroless"
	// (the "-ubuntu22.04" suffix stopped with 4.x).
	DefaultDCGMImage       = "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless"
	DefaultPrometheusImage = "prom/prometheus:v3.15.0"
	DefaultGrafanaImage    = "grafana/grafana:13.2.3"
	// DefaultRouterImage balances requests over the vLLM replicas
	// (--replicas above 1); nginx's open-source build, least connections.
	DefaultRouterImage = "nginx:1.29.3-alpine"
)

// Ports inside the containers; Options choose only the published ones.
const (
	vllmContainerPort       = 8000
	dcgmContainerPort       = 9400
	prometheusContainerPort = 9090
	grafanaContainerPort    = 3000
)

// Options are everything `llmload stack init` renders from. The zero value
// is not useful: start from Defaults.
type Options struct {
	Model string // served model, vLLM's --model
	GPUs  string // "all" or a comma list of device ids / UUIDs
	// TensorParallel is vLLM's --tensor-parallel-size; 0: not set (vLLM's
	// 1, or what --vllm-args says).
	TensorParallel int
	// Replicas is the number of vLLM containers, each on its own
	// GPUs, behind a router (nginx) on Port when more than one.
	Replicas   int
	VLLMImage  string   // vllm/vllm-openai:TAG
	VLLMArgs   []string // extra `vllm serve` arguments, already split
	HFTokenEnv string   // name of the variable holding the Hugging Face token
	HFCache    string   // host directory for the HF cache; "" = named volume hf-cache

	Bind           string // host address the ports are published on; "" or 0.0.0.0 = all
	Port           int    // vLLM's published port
	DCGMPort       int    // the DCGM exporter's, for llmload run --gpu-metrics
	GrafanaPort    int
	PrometheusPort int

	ClientMetrics  []string      // host:port of each `llmload run --metrics-addr`, seen from Prometheus
	ScrapeInterval time.Duration // Prometheus scrape and DCGM collection interval

	// HealthStartPeriod is vLLM's healthcheck start_period: failed checks
	// do not count while the weights download and load.
	HealthStartPeriod time.Duration
	// NoGrafana leaves the grafana service out (a Grafana of one's own,
	// or a host without its image); status then does not probe it.
	NoGrafana bool
	// GrafanaAnonymous lets anyone who reaches Grafana view the dashboards
	// without logging in.
	GrafanaAnonymous bool

	DCGMImage, PrometheusImage, GrafanaImage, RouterImage string

	// Alerts are the objectives of the rendered Prometheus alerting rules.
	Alerts Objectives

	// Version is written into the files' header comment and stack.json.
	Version string
}

// Defaults returns the options `llmload stack init` uses without flags.
func Defaults() Options {
	return Options{
		Model: "meta-llama/Llama-3.1-8B-Instruct",
		GPUs:  "all",
		// Nothing is reachable from the network unless asked (--bind 0.0.0.0):
		// vLLM has no API key and Grafana an admin login by default.
		Bind:           "127.0.0.1",
		VLLMImage:      DefaultVLLMImage,
		HFTokenEnv:     "HF_TOKEN",
		Port:           8000,
		DCGMPort:       9400,
		GrafanaPort:    3000,
		PrometheusPort: 9090,
		ClientMetrics:  []string{"host.docker.internal:9464"},
		ScrapeInterval: 5 * time.Second,
		// A first start downloads 16 GB (8B in bf16) and compiles CUDA
		// graphs; 70B models take far longer: raise it with --health-start-period.
		HealthStartPeriod: 30 * time.Minute,
		DCGMImage:         DefaultDCGMImage,
		PrometheusImage:   DefaultPrometheusImage,
		GrafanaImage:      DefaultGrafanaImage,
		RouterImage:       DefaultRouterImage,
		Replicas:          1,
		Alerts:            DefaultObjectives(),
		Version:           "dev",
	}
}

var (
	envName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	deviceID = regexp.MustCompile(`^(\d+|GPU-[0-9A-Fa-f-]+|MIG-[0-9A-Za-z/-]+)$`)
	// imageRef is loose on purpose (registries, ports, digests): it only
	// rejects what cannot be an image reference at all.
	imageRef = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$`)
)

// Reserved vLLM arguments: the renderer sets them, and a second copy in
// --vllm-args would silently win or clash.
var reservedVLLMArgs = map[string]string{
	"--model": "--model (init passes it to vllm serve as the positional model)",
	"--host":  "--bind (the container always listens on 0.0.0.0)",
	"--port":  "--port (the container port is fixed at 8000; --port picks the published one)",
}

// maxReplicas bounds --replicas: a node has at most a few dozen GPUs.
const maxReplicas = 64

// Validate reports the first option that cannot be rendered, naming the
// flag and what to do.
func (o Options) Validate() error {
	if strings.TrimSpace(o.Model) == "" {
		return fmt.Errorf("--model is empty: give a Hugging Face model id such as meta-llama/Llama-3.1-8B-Instruct")
	}
	if strings.ContainsAny(o.Model, "\n\r") {
		return fmt.Errorf("--model %q contains a line break", o.Model)
	}
	if err := o.validateGPUs(); err != nil {
		return err
	}
	if err := o.Alerts.Validate(); err != nil {
		return err
	}
	for name, img := range map[string]string{"--vllm-image": o.VLLMImage, "--dcgm-image": o.DCGMImage,
		"--prometheus-image": o.PrometheusImage, "--grafana-image": o.GrafanaImage, "--router-image": o.RouterImage} {
		if !imageRef.MatchString(img) {
			return fmt.Errorf("%s %q is not an image reference (want e.g. %s)", name, img, DefaultVLLMImage)
		}
	}
	for _, a := range o.VLLMArgs {
		flag, _, _ := strings.Cut(a, "=")
		if instead, ok := reservedVLLMArgs[flag]; ok {
			return fmt.Errorf("--vllm-args: %s is set by llmload stack init; use %s", flag, instead)
		}
		if strings.ContainsAny(a, "\n\r") {
			return fmt.Errorf("--vllm-args: argument %q contains a line break", a)
		}
	}
	if !envName.MatchString(o.HFTokenEnv) {
		return fmt.Errorf("--hf-token-env %q is not an environment variable name (letters, digits, _; e.g. HF_TOKEN)", o.HFTokenEnv)
	}
	if strings.ContainsAny(o.HFCache, "\n\r:") {
		return fmt.Errorf("--hf-cache %q: a path with ':' or a line break cannot be mounted by compose", o.HFCache)
	}
	if o.Bind != "" && net.ParseIP(o.Bind) == nil {
		return fmt.Errorf("--bind %q is not an IP address (e.g. 127.0.0.1, the default, or 0.0.0.0 for all interfaces)", o.Bind)
	}
	ports := map[string]int{"--port": o.Port, "--dcgm-port": o.DCGMPort, "--grafana-port": o.GrafanaPort, "--prometheus-port": o.PrometheusPort}
	seen := map[int]string{}
	for _, name := range []string{"--port", "--dcgm-port", "--grafana-port", "--prometheus-port"} {
		p := ports[name]
		if p < 1 || p > 65535 {
			return fmt.Errorf("%s %d is not a TCP port (1-65535)", name, p)
		}
		if other, dup := seen[p]; dup {
			return fmt.Errorf("%s and %s are both %d: each service needs its own published port", other, name, p)
		}
		seen[p] = name
	}
	for _, t := range o.ClientMetrics {
		host, port, err := net.SplitHostPort(t)
		if err != nil || host == "" {
			return fmt.Errorf("--client-metrics %q: want host:port as Prometheus sees it (e.g. host.docker.internal:9464)", t)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("--client-metrics %q: port %q is not a TCP port", t, port)
		}
	}
	if o.ScrapeInterval < time.Second || o.ScrapeInterval%time.Second != 0 {
		return fmt.Errorf("--scrape-interval %s: want whole seconds, at least 1s", o.ScrapeInterval)
	}
	if o.HealthStartPeriod < time.Second || o.HealthStartPeriod%time.Second != 0 {
		return fmt.Errorf("--health-start-period %s: want whole seconds, at least 1s (e.g. 30m; a 70B model's first download may need 2h)", o.HealthStartPeriod)
	}
	return nil
}

// hasVLLMArg reports whether --vllm-args sets flag (as "flag value" or
// "flag=value").
func (o Options) hasVLLMArg(flag string) bool {
	return slices.ContainsFunc(o.VLLMArgs, func(a string) bool { return a == flag || strings.HasPrefix(a, flag+"=") })
}

// vllmIntArg returns the value of an integer vLLM flag given in --vllm-args
// under any of names (as "name N" or "name=N"), or def.
func (o Options) vllmIntArg(def int, names ...string) int {
	for i, a := range o.VLLMArgs {
		for _, n := range names {
			v, ok := "", false
			switch {
			case a == n && i+1 < len(o.VLLMArgs):
				v, ok = o.VLLMArgs[i+1], true
			case strings.HasPrefix(a, n+"="):
				v, ok = strings.TrimPrefix(a, n+"="), true
			}
			if n, err := strconv.Atoi(v); ok && err == nil && n > 0 {
				return n
			}
		}
	}
	return def
}

// validateGPUs checks --gpus, --tensor-parallel-size and --replicas
// together: every replica needs its own GPUs.
func (o Options) validateGPUs() error {
	ids, err := o.gpuDevices()
	if err != nil {
		return err
	}
	if o.TensorParallel < 0 {
		return fmt.Errorf("--tensor-parallel-size %d: want 1 or more (0: vLLM's default, 1)", o.TensorParallel)
	}
	if o.TensorParallel > 0 && (o.hasVLLMArg("--tensor-parallel-size") || o.hasVLLMArg("-tp")) {
		return fmt.Errorf("--tensor-parallel-size %d and --vllm-args both set the tensor-parallel size: keep one", o.TensorParallel)
	}
	if o.Replicas < 1 || o.Replicas > maxReplicas {
		return fmt.Errorf("--replicas %d: want 1 to %d vLLM containers", o.Replicas, maxReplicas)
	}
	if need := o.gpusPerReplica() * o.Replicas; len(ids) > 0 && len(ids) < need {
		return fmt.Errorf("--gpus %q has %d GPU(s) but %d replica(s) x %d GPU(s) each (tensor x pipeline x data parallel size) need %d: list more GPUs or lower --replicas / --tensor-parallel-size",
			o.GPUs, len(ids), o.Replicas, o.gpusPerReplica(), need)
	}
	return nil
}

// gpusPerReplica is the number of GPUs one vLLM container uses: its
// tensor x pipeline x data parallel size.
func (o Options) gpusPerReplica() int {
	tp := o.TensorParallel
	if tp == 0 {
		tp = o.vllmIntArg(1, "--tensor-parallel-size", "-tp")
	}
	return tp * o.vllmIntArg(1, "--pipeline-parallel-size", "-pp") * o.vllmIntArg(1, "--data-parallel-size", "-dp")
}

// replicaDevices returns the device ids each vLLM replica reserves:
// consecutive slices of gpusPerReplica of --gpus (of 0, 1, ... for --gpus
// all). nil when there is one replica (it reserves --gpus as it is) or
// --gpus none.
func (o Options) replicaDevices() [][]string {
	if o.Replicas <= 1 || o.GPUs == GPUsNone {
		return nil
	}
	ids, _ := o.gpuDevices()
	per := o.gpusPerReplica()
	if ids == nil { // --gpus all: the node's first GPUs, by index
		for i := range per * o.Replicas {
			ids = append(ids, strconv.Itoa(i))
		}
	}
	var out [][]string
	for r := range o.Replicas {
		out = append(out, ids[r*per:(r+1)*per])
	}
	return out
}

// ServedGPUs returns the GPUs vLLM uses, as the DCGM exporter labels
// them, so energy is attributed to them and not to every GPU of the node.
// Each replica takes the next tensor x pipeline x data parallel size of
// the GPUs reserved (vLLM uses the first that many of those it sees); the
// exporter sees every reserved GPU and, like NVML in any container,
// numbers them from 0. Device UUIDs given with --gpus are returned as
// they are (the exporter's UUID label). nil for --gpus none.
func (o Options) ServedGPUs() []string {
	if o.GPUs == GPUsNone {
		return nil
	}
	n := o.gpusPerReplica() * o.Replicas
	ids, _ := o.gpuDevices()
	if len(ids) > 0 {
		n = min(n, len(ids))
		if strings.HasPrefix(ids[0], "GPU-") {
			return ids[:n]
		}
	}
	var labels []string
	for i := range n {
		labels = append(labels, strconv.Itoa(i))
	}
	return labels
}

// GPUsNone is the --gpus value that reserves no GPU: for stand-in images
// (the end-to-end test) or a CPU build of vLLM.
const GPUsNone = "none"

// gpuDevices returns nil for "all" and "none", else the device ids.
func (o Options) gpuDevices() ([]string, error) {
	if o.GPUs == "all" || o.GPUs == GPUsNone {
		return nil, nil
	}
	var ids []string
	for _, id := range strings.Split(o.GPUs, ",") {
		id = strings.TrimSpace(id)
		if !deviceID.MatchString(id) {
			return nil, fmt.Errorf("--gpus %q: want all, none, or device indexes / UUIDs separated by commas (e.g. 0,1 or GPU-8f2e...)", o.GPUs)
		}
		if slices.Contains(ids, id) {
			return nil, fmt.Errorf("--gpus %q names device %s twice", o.GPUs, id)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// TensorParallelHint returns a note when several GPUs are reserved but the
// vLLM arguments do not spread the model over them: vLLM would then use one
// GPU and leave the others idle while DCGM counts their idle power.
func (o Options) TensorParallelHint() string {
	ids, _ := o.gpuDevices()
	if len(ids) < 2 || o.TensorParallel > 0 || o.Replicas > 1 {
		return ""
	}
	for _, f := range []string{"--tensor-parallel-size", "-tp", "--pipeline-parallel-size", "-pp", "--data-parallel-size", "-dp"} {
		if o.hasVLLMArg(f) {
			return ""
		}
	}
	return fmt.Sprintf("note: %d GPUs reserved but --vllm-args has no --tensor-parallel-size; vLLM will use one of them (add --tensor-parallel-size %d, or --replicas %d for one vLLM per GPU)", len(ids), len(ids), len(ids))
}

// SplitArgs splits a command line the way a POSIX shell splits words:
// blanks separate, single quotes keep everything literal, double quotes keep
// blanks and honour \" \\ \$ \`, a backslash outside quotes escapes the next
// character. No expansion happens. It is how --vllm-args "..." becomes argv.
//
// Why not github.com/mattn/go-shellwords (v1.0.12, in go.sum through
// compose-go), even with ParseEnv and ParseBacktick off: it stops at an
// unquoted ; | & > and returns the words before it without an error
// (`--x a|b` gives ["--x" "a"], the rest silently lost); it answers a
// bare ( or an unterminated quote with "invalid command line string",
// which says neither what nor where; and it drops the backslash of \n
// inside double quotes, which POSIX keeps (TestSplitArgs pins it). Here
// those characters are plain word characters, as vLLM's argv wants them,
// and each error names its cause.
func SplitArgs(s string) ([]string, error) {
	var (
		args  []string
		cur   strings.Builder
		inArg bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		case c == '\'':
			inArg = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote at byte %d of %q", i, s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inArg = true
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if !closed {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
		case c == '\\':
			inArg = true
			if i+1 == len(s) {
				return nil, fmt.Errorf("trailing backslash in %q", s)
			}
			i++
			cur.WriteByte(s[i])
		default:
			inArg = true
			cur.WriteByte(c)
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}
