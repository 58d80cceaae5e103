package k8s

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// maxNameLen leaves room for the suffixes added to Name (-merge,
// -scenario, -results) and for the Indexed Job's pod hostnames
// (NAME-INDEX), all of which must stay DNS-1123 labels of 63 characters.
const maxNameLen = 40

// maxConfigMapBytes is Kubernetes' limit on a ConfigMap's data (etcd's
// object size limit, 1 MiB), less room for the object's metadata.
const maxConfigMapBytes = 1<<20 - 16<<10

// File is one file of the scenario ConfigMap: Name is its key and its name
// beside the scenario in the pod; Data its bytes (UTF-8 text goes to data,
// anything else to binaryData).
type File struct {
	Name string
	Data []byte
}

// Options are everything the manifests are rendered from. Start from
// Defaults; Validate names the flag of the first bad field.
type Options struct {
	Name      string // base name of every object (app.kubernetes.io/instance)
	Namespace string // "" = kubectl's current namespace
	Shards    int    // completions = parallelism = shards

	URL             string   // the server's base URL as the pods reach it (a router or Service)
	Image           string   // an image with /llmload (docs/stack.md shows a Dockerfile)
	ImagePullPolicy string   // "", Always, IfNotPresent or Never
	Scenario        File     // the scenario file
	Files           []File   // data files the scenario reads, placed beside it
	RunArgs         []string // more `llmload run` flags and scenario options, already split

	// StartAt is every shard's --start-at: the one epoch they share. The
	// caller picks it (now + a delay), so rendering is reproducible.
	StartAt time.Time

	APIKeySecret string // "secret/key" whose value becomes $LLMLOAD_API_KEY; "" = none

	CPU, CPULimit, Memory string // quantities; CPULimit "" = same as CPU, "0" = no CPU limit

	StorageSize  string // the results PVC's request
	StorageClass string // "" = the cluster's default class

	MetricsPort    int           // each shard's --metrics-addr port
	MetricsLinger  time.Duration // --metrics-linger: keep serving after the run for the last scrape
	ScrapeInterval time.Duration // the PodMonitor's interval
	PodMonitor     bool          // render the PodMonitor (needs the prometheus-operator CRDs)
	MonitorLabels  map[string]string

	MergeTimeout time.Duration // how long the merge Job waits for every shard's results
	AllowPartial bool          // merge what exists after MergeTimeout (llmload merge --allow-partial)

	Version string // llmload's version, for app.kubernetes.io/version
}

// Defaults returns the options `llmload stack k8s` starts from.
func Defaults() Options {
	return Options{
		Name:            "llmload",
		Shards:          1,
		Image:           "llmload:dev",
		ImagePullPolicy: "IfNotPresent",
		CPU:             "2",
		Memory:          "2Gi",
		StorageSize:     "1Gi",
		MetricsPort:     9464,
		MetricsLinger:   30 * time.Second,
		ScrapeInterval:  5 * time.Second,
		PodMonitor:      true,
		// kube-prometheus-stack's Prometheus selects PodMonitors by its
		// Helm release label; this is the chart's usual release name.
		MonitorLabels: map[string]string{"release": "kube-prometheus-stack"},
		MergeTimeout:  6 * time.Hour,
		Version:       "dev",
	}
}

// reservedRunArgs are `llmload run` flags the manifests set for each
// shard; a second copy in --run-args would clash or break the sharding.
var reservedRunArgs = map[string]string{
	"--shard":          "the completion index sets it (--shards N)",
	"--start-at":       "use --start-at or --start-delay of llmload stack k8s",
	"--out":            "each shard writes to its own directory of the results volume",
	"--overwrite":      "each rendering writes a new run directory",
	"--url":            "use --url of llmload stack k8s",
	"--metrics-addr":   "use --metrics-port",
	"--metrics-linger": "use --metrics-linger of llmload stack k8s",
	"--api-key":        "a key in the manifests would be readable by anyone who reads the Job: use --api-key-secret NAME/KEY",
	"--no-ui":          "the pods always run without the dashboard",
}

// Validate reports the first option that cannot be rendered, naming its
// flag and what to do.
func (o Options) Validate() error {
	if err := dnsLabel("--name", o.Name, maxNameLen); err != nil {
		return err
	}
	if o.Namespace != "" {
		if err := dnsLabel("--namespace", o.Namespace, 63); err != nil {
			return err
		}
	}
	if o.Shards < 1 || o.Shards > 10000 {
		return fmt.Errorf("--shards %d: want 1 to 10000 pods", o.Shards)
	}
	if err := checkURL(o.URL); err != nil {
		return err
	}
	if err := o.checkPod(); err != nil {
		return err
	}
	if err := o.checkFiles(); err != nil {
		return err
	}
	if err := o.checkMonitoring(); err != nil {
		return err
	}
	if o.StartAt.IsZero() {
		return fmt.Errorf("the start instant is not set: give --start-at or --start-delay")
	}
	if o.MergeTimeout < time.Minute {
		return fmt.Errorf("--merge-timeout %s: want at least 1m (the run's length plus the start delay)", o.MergeTimeout)
	}
	return nil
}

func (o Options) checkPod() error {
	if o.Image == "" || strings.ContainsAny(o.Image, " \t\n\r") {
		return fmt.Errorf("--image %q is not an image reference (want e.g. registry.example.com/llmload:v1.2.3)", o.Image)
	}
	if !slices.Contains([]string{"", "Always", "IfNotPresent", "Never"}, o.ImagePullPolicy) {
		return fmt.Errorf("--image-pull-policy %q: want Always, IfNotPresent or Never", o.ImagePullPolicy)
	}
	for _, q := range []struct{ flag, v string }{{"--cpu", o.CPU}, {"--memory", o.Memory}, {"--storage-size", o.StorageSize}} {
		if _, err := parsePositive(q.flag, q.v); err != nil {
			return err
		}
	}
	if o.CPULimit != "" && o.CPULimit != "0" {
		if _, err := parsePositive("--cpu-limit", o.CPULimit); err != nil {
			return err
		}
	}
	if o.StorageClass != "" {
		if errs := validation.IsDNS1123Subdomain(o.StorageClass); len(errs) > 0 {
			return fmt.Errorf("--storage-class %q: %s", o.StorageClass, strings.Join(errs, "; "))
		}
	}
	if o.APIKeySecret != "" {
		if _, _, err := ParseSecretRef(o.APIKeySecret); err != nil {
			return err
		}
	}
	for _, a := range o.RunArgs {
		flag, _, _ := strings.Cut(a, "=")
		flag = "--" + strings.TrimLeft(flag, "-")
		if why, ok := reservedRunArgs[flag]; ok && strings.HasPrefix(a, "-") {
			return fmt.Errorf("--run-args: %s is set by llmload stack k8s: %s", flag, why)
		}
	}
	return nil
}

func (o Options) checkFiles() error {
	if o.Scenario.Name == "" {
		return fmt.Errorf("no scenario file: llmload stack k8s [flags] SCENARIO.lua")
	}
	seen := map[string]bool{}
	total := 0
	for i, f := range append([]File{o.Scenario}, o.Files...) {
		what := "--file " + f.Name
		if i == 0 {
			what = "the scenario " + f.Name
		}
		if errs := validation.IsConfigMapKey(f.Name); len(errs) > 0 {
			return fmt.Errorf("%s: its name cannot be a ConfigMap key (%s): rename it", what, strings.Join(errs, "; "))
		}
		if seen[f.Name] {
			return fmt.Errorf("%s: two files are named %s; each lands beside the scenario under its own name", what, f.Name)
		}
		seen[f.Name] = true
		total += len(f.Data)
	}
	if total > maxConfigMapBytes {
		return fmt.Errorf("the scenario and --file files hold %d bytes, more than a ConfigMap's ~1 MiB: put large traces in the image and give their directory with --run-args \"--allow-read DIR\"", total)
	}
	return nil
}

func (o Options) checkMonitoring() error {
	if o.MetricsPort < 1 || o.MetricsPort > 65535 {
		return fmt.Errorf("--metrics-port %d is not a TCP port (1-65535)", o.MetricsPort)
	}
	if o.MetricsLinger < 0 {
		return fmt.Errorf("--metrics-linger %s is negative", o.MetricsLinger)
	}
	if o.ScrapeInterval < time.Second || o.ScrapeInterval%time.Second != 0 {
		return fmt.Errorf("--scrape-interval %s: want whole seconds, at least 1s", o.ScrapeInterval)
	}
	for k, v := range o.MonitorLabels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("--monitor-label %s=%s: the key is not a label key (%s)", k, v, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return fmt.Errorf("--monitor-label %s=%s: the value is not a label value (%s)", k, v, strings.Join(errs, "; "))
		}
	}
	return nil
}

// ParseSecretRef splits --api-key-secret NAME/KEY into the Secret's name (a
// DNS-1123 subdomain) and the key inside it.
func ParseSecretRef(ref string) (name, key string, err error) {
	name, key, ok := strings.Cut(ref, "/")
	if !ok || name == "" || key == "" {
		return "", "", fmt.Errorf("--api-key-secret %q: want SECRET/KEY, e.g. llm-api/token (kubectl create secret generic llm-api --from-literal=token=...)", ref)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", "", fmt.Errorf("--api-key-secret %q: the Secret name %q: %s", ref, name, strings.Join(errs, "; "))
	}
	if errs := validation.IsConfigMapKey(key); len(errs) > 0 { // Secret keys follow the same rule
		return "", "", fmt.Errorf("--api-key-secret %q: the key %q: %s", ref, key, strings.Join(errs, "; "))
	}
	return name, key, nil
}

func dnsLabel(flag, v string, maxLen int) error {
	if errs := validation.IsDNS1123Label(v); len(errs) > 0 {
		return fmt.Errorf("%s %q is not a DNS-1123 label: %s", flag, v, strings.Join(errs, "; "))
	}
	if len(v) > maxLen {
		return fmt.Errorf("%s %q is %d characters: at most %d (suffixes such as -merge and pod indexes are added)", flag, v, len(v), maxLen)
	}
	return nil
}

func checkURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("--url is empty: give the server's base URL as the pods reach it, e.g. http://vllm-router.llm:8000")
	}
	// The URL is not quoted back: it could carry a password.
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--url cannot be parsed as a URL: want one such as http://vllm-router.llm:8000")
	}
	if u.User != nil {
		return fmt.Errorf("--url carries a user name or password: remove it and give the key with --api-key-secret NAME/KEY")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q: want an http(s) URL such as http://vllm-router.llm:8000", u.Redacted())
	}
	return nil
}

func parsePositive(flag, v string) (resource.Quantity, error) {
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return q, fmt.Errorf("%s %q is not a Kubernetes quantity (e.g. 500m or 2 for CPUs, 2Gi for bytes)", flag, v)
	}
	if q.Sign() <= 0 {
		return q, fmt.Errorf("%s %q: want more than zero", flag, v)
	}
	return q, nil
}
