package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/llmload/llmload/stack/compose"
	"github.com/llmload/llmload/stack/k8s"
)

const stackK8sAbout = `Prints Kubernetes manifests for a sharded run of SCENARIO.lua (kubectl apply -f):
a ConfigMap with the scenario and --file files, a ReadWriteMany PVC for the
results, an Indexed Job of --shards pods (pod i runs --shard i/N, all from one
start instant), a merge Job (llmload merge once every shard finished), a
headless Service and a PodMonitor for kube-prometheus-stack. The start instant
is rendered now: apply the manifests before it (docs/stack.md, Kubernetes).`

// stackK8s renders the manifests to stdout; `stack k8s wait` is the merge
// Job's init step.
func stackK8s(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "wait" {
		return stackK8sWait(args[1:], stdout, stderr)
	}
	o := k8s.Defaults()
	o.Version = version
	fs := flag.NewFlagSet("llmload stack k8s", flag.ContinueOnError)
	k := k8sFlags(fs, &o)
	pos, code, done := parseCommandFlags(fs, args, stackK8sAbout, stdout, stderr)
	if done {
		return code
	}
	if err := k.apply(&o, pos, setFlags(fs), time.Now()); err != nil {
		fmt.Fprintf(stderr, "llmload stack k8s: %v\n", err)
		return exitConfig
	}
	out, err := k8s.Render(o)
	if err != nil {
		fmt.Fprintf(stderr, "llmload stack k8s: %v\n", err)
		return exitConfig
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "llmload stack k8s: %v\n", err)
		return exitStackFailed
	}
	return exitOK
}

// k8sFlagValues are the flags that need work before they become Options.
type k8sFlagValues struct {
	startAt, runArgs string
	startDelay       time.Duration
	files, labels    []string
}

func k8sFlags(fs *flag.FlagSet, o *k8s.Options) *k8sFlagValues {
	var k k8sFlagValues
	fs.IntVar(&o.Shards, "shards", o.Shards, "pods of the Indexed Job; pod i runs llmload run --shard i/N")
	fs.StringVar(&o.URL, "url", "", "the server's base URL as the pods reach it: a router or Service (vLLM production-stack, llm-d)")
	fs.StringVar(&o.Name, "name", o.Name, "base name of the objects (a DNS-1123 label, at most 40 characters)")
	fs.StringVar(&o.Namespace, "namespace", "", "namespace of the objects; empty: kubectl's current namespace")
	fs.StringVar(&o.Image, "image", o.Image, "image with llmload on its PATH (docs/stack.md shows a Dockerfile)")
	fs.StringVar(&o.ImagePullPolicy, "image-pull-policy", o.ImagePullPolicy, "Always, IfNotPresent or Never")
	fs.StringVar(&k.startAt, "start-at", "", "the shards' shared start instant, RFC 3339 (e.g. 2026-12-07T10:00:00Z); default now + --start-delay")
	durationVar(fs, &k.startDelay, "start-delay", 2*time.Minute, "start instant = now + this, when --start-at is not given: time to apply and pull the image")
	fs.Var(listFlag{&k.files}, "file", "a data file the scenario reads (a trace), put beside it in the ConfigMap (repeatable or comma-separated)")
	fs.StringVar(&k.runArgs, "run-args", "", `more llmload run flags and scenario options, split like a shell does, e.g. "--seed 7 --duration 10m rate=40"`)
	fs.StringVar(&o.APIKeySecret, "api-key-secret", "", "SECRET/KEY of a Secret in the namespace whose value the pods get as $LLMLOAD_API_KEY")
	fs.StringVar(&o.CPU, "cpu", o.CPU, "CPU request of each shard pod")
	fs.StringVar(&o.CPULimit, "cpu-limit", "", `CPU limit of each shard pod; empty: as --cpu; "0": none (no CFS throttling)`)
	fs.StringVar(&o.Memory, "memory", o.Memory, "memory request and limit of each shard pod and of the merge pod")
	fs.StringVar(&o.StorageSize, "storage-size", o.StorageSize, "size of the results PVC")
	fs.StringVar(&o.StorageClass, "storage-class", "", "storage class of the results PVC (one with ReadWriteMany); empty: the cluster's default")
	fs.IntVar(&o.MetricsPort, "metrics-port", o.MetricsPort, "port of each shard's --metrics-addr")
	durationVar(fs, &o.MetricsLinger, "metrics-linger", o.MetricsLinger, "each shard's --metrics-linger: serve metrics this long after the run for the last scrape")
	durationVar(fs, &o.ScrapeInterval, "scrape-interval", o.ScrapeInterval, "the PodMonitor's scrape interval")
	fs.BoolVar(&o.PodMonitor, "pod-monitor", o.PodMonitor, "render the PodMonitor (false on clusters without the prometheus-operator CRDs)")
	fs.Var(listFlag{&k.labels}, "monitor-label", "KEY=VALUE label of the PodMonitor, which Prometheus' podMonitorSelector must match (repeatable; default release=kube-prometheus-stack)")
	durationVar(fs, &o.MergeTimeout, "merge-timeout", o.MergeTimeout, "how long the merge Job waits for every shard's results")
	fs.BoolVar(&o.AllowPartial, "allow-partial", false, "after --merge-timeout, merge the shards that finished (llmload merge --allow-partial) instead of failing")
	return &k
}

// apply turns the flags that need reading or parsing into o's fields.
func (k *k8sFlagValues) apply(o *k8s.Options, pos []string, set map[string]bool, now time.Time) error {
	if len(pos) != 1 {
		return fmt.Errorf("want one scenario file: llmload stack k8s --shards N --url URL SCENARIO.lua (got %d arguments)", len(pos))
	}
	var err error
	if o.Scenario, err = readK8sFile(pos[0]); err != nil {
		return err
	}
	for _, p := range k.files {
		f, err := readK8sFile(p)
		if err != nil {
			return fmt.Errorf("--file: %w", err)
		}
		o.Files = append(o.Files, f)
	}
	if o.RunArgs, err = compose.SplitArgs(k.runArgs); err != nil {
		return fmt.Errorf("--run-args: %w", err)
	}
	if set["monitor-label"] {
		o.MonitorLabels = map[string]string{}
		for _, l := range k.labels {
			key, v, ok := strings.Cut(l, "=")
			if !ok {
				return fmt.Errorf("--monitor-label %q: want KEY=VALUE, e.g. release=kube-prometheus-stack", l)
			}
			o.MonitorLabels[key] = v
		}
	}
	return k.startInstant(o, set, now)
}

func (k *k8sFlagValues) startInstant(o *k8s.Options, set map[string]bool, now time.Time) error {
	if k.startAt == "" {
		if k.startDelay < 0 {
			return fmt.Errorf("--start-delay %s is negative", k.startDelay)
		}
		// Whole seconds: the instant is read by people in the manifests.
		o.StartAt = now.Add(k.startDelay).Add(time.Second - 1).Truncate(time.Second).UTC()
		return nil
	}
	if set["start-delay"] {
		return fmt.Errorf("--start-at and --start-delay both set: give one")
	}
	t, err := time.Parse(time.RFC3339Nano, k.startAt)
	if err != nil {
		return fmt.Errorf("--start-at %q: want an RFC 3339 instant such as 2026-12-07T10:00:00Z", k.startAt)
	}
	if !t.After(now) {
		return fmt.Errorf("--start-at %s is not in the future: the shards would start late and apart", k.startAt)
	}
	o.StartAt = t.UTC()
	return nil
}

func readK8sFile(path string) (k8s.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return k8s.File{}, err
	}
	return k8s.File{Name: filepath.Base(path), Data: data}, nil
}

// stackK8sWait is the merge Job's init container: it returns when every
// shard directory holds finished results (exit 0), or fails at --timeout
// naming the missing ones (exit 0 with --allow-partial).
func stackK8sWait(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("llmload stack k8s wait", flag.ContinueOnError)
	var timeout, poll time.Duration
	durationVar(fs, &timeout, "timeout", 6*time.Hour, "give up after this long")
	durationVar(fs, &poll, "poll", 5*time.Second, "how often to look at the directories")
	partial := fs.Bool("allow-partial", false, "at --timeout, exit 0 with the missing shards named (for llmload merge --allow-partial)")
	dirs, code, done := parseCommandFlags(fs, args, "Waits until each DIR holds a finished llmload run (its summary.json); the merge\nJob of llmload stack k8s runs it before llmload merge.", stdout, stderr)
	if done {
		return code
	}
	if len(dirs) == 0 || poll <= 0 || timeout <= 0 {
		fmt.Fprintln(stderr, "llmload stack k8s wait: want DIR... and a positive --timeout and --poll")
		return exitConfig
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fmt.Fprintf(stdout, "llmload stack k8s wait: %d shard directories, up to %s\n", len(dirs), timeout)
	missing, err := k8s.WaitForResults(ctx, dirs, poll)
	switch {
	case err == nil:
		fmt.Fprintln(stdout, "llmload stack k8s wait: every shard finished")
		return exitOK
	case errors.Is(err, k8s.ErrTimeout) && *partial:
		fmt.Fprintf(stdout, "llmload stack k8s wait: %v; merging the others (--allow-partial)\n", err)
		return exitOK
	default:
		fmt.Fprintf(stderr, "llmload stack k8s wait: %v (%d missing)\n", err, len(missing))
		return exitStackFailed
	}
}
