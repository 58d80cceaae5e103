package k8s

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/llmload/llmload/internal/kubelettest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var startAt = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// goldenCases are the option sets whose manifests are kept in
// testdata/NAME.yaml: the defaults, every flag set, and no PodMonitor.
func goldenCases() map[string]Options {
	def := Defaults()
	def.URL = "http://vllm-router.llm:8000"
	def.Scenario = File{Name: "azure_conv.lua", Data: []byte("return llm.scenario{ rate = 2 }\n")}
	def.StartAt = startAt

	custom := def
	custom.Name = "bench-a"
	custom.Namespace = "llm-bench"
	custom.Shards = 8
	custom.URL = "https://llm-d-gateway.llm-d.svc.cluster.local"
	custom.Image = "registry.example.com/llmload:v1.2.3"
	custom.ImagePullPolicy = "Always"
	custom.Files = []File{{Name: "trace.csv", Data: []byte("timestamp,input,output\n0,100,20\n")},
		{Name: "trace.bin", Data: []byte{0xff, 0x00, 0xfe}}}
	custom.RunArgs = []string{"--seed", "7", "--duration", "10m", "rate=40"}
	custom.APIKeySecret = "llm-api/token"
	custom.CPU, custom.CPULimit, custom.Memory = "4", "0", "8Gi"
	custom.StorageSize, custom.StorageClass = "20Gi", "nfs-client"
	custom.MetricsPort, custom.MetricsLinger, custom.ScrapeInterval = 9500, time.Minute, 2*time.Second
	custom.MonitorLabels = map[string]string{"release": "prom", "team": "inference"}
	custom.MergeTimeout = 90 * time.Minute
	custom.AllowPartial = true
	custom.Version = "v1.2.3"

	noMonitor := def
	noMonitor.PodMonitor = false
	noMonitor.Version = "v1.2.3+dirty" // not a label value: the version label is left out
	return map[string]Options{"default": def, "custom": custom, "nomonitor": noMonitor}
}

func TestRenderGolden(t *testing.T) {
	for name, o := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			got, err := Render(o)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./stack/k8s -run TestRenderGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				gotPath := filepath.Join(t.TempDir(), name+".yaml")
				os.WriteFile(gotPath, got, 0o644)
				t.Errorf("%s differs from the golden file (-update to accept): diff %s %s", path, path, gotPath)
			}
			m, err := decodeStrict(want)
			if err != nil {
				t.Fatal(err)
			}
			checkManifests(t, o, m)
		})
	}
}

// manifests are one rendering decoded into the API's own types.
type manifests struct {
	configMap  *corev1.ConfigMap
	pvc        *corev1.PersistentVolumeClaim
	service    *corev1.Service
	podMonitor *monitoringv1.PodMonitor
	jobs       []*batchv1.Job
}

// decodeStrict decodes a rendering strictly (kubelettest.DecodeStrict)
// and checks it holds one ConfigMap, PVC and Service, at most one
// PodMonitor and two Jobs.
func decodeStrict(data []byte) (manifests, error) {
	o, err := kubelettest.DecodeStrict(data)
	if err != nil {
		return manifests{}, err
	}
	if len(o.ConfigMaps) != 1 || len(o.PVCs) != 1 || len(o.Services) != 1 || len(o.PodMonitors) > 1 || len(o.Jobs) != 2 {
		return manifests{}, fmt.Errorf("want a ConfigMap, a PVC, a Service, at most one PodMonitor and two Jobs; got %+v", o)
	}
	m := manifests{configMap: o.ConfigMaps[0], pvc: o.PVCs[0], service: o.Services[0], jobs: o.Jobs}
	if len(o.PodMonitors) == 1 {
		m.podMonitor = o.PodMonitors[0]
	}
	return m, nil
}

func TestDecodeStrictCatchesTypos(t *testing.T) {
	data, err := Render(goldenCases()["default"])
	if err != nil {
		t.Fatal(err)
	}
	for _, typo := range [][2]string{{"completionMode:", "completionMod:"}, {"readOnlyRootFilesystem:", "readOnlyRootFileSystem:"},
		{"podMetricsEndpoints:", "podMetricEndpoints:"}, {"accessModes:", "accessMode:"}} {
		bad := bytes.Replace(data, []byte(typo[0]), []byte(typo[1]), 1)
		if bytes.Equal(bad, data) {
			t.Fatalf("%s is not in the rendering", typo[0])
		}
		if _, err := decodeStrict(bad); err == nil {
			t.Errorf("strict decoding accepted the misspelt field %s", typo[1])
		} else if !strings.Contains(err.Error(), strings.TrimSuffix(typo[1], ":")) {
			t.Errorf("the error for %s does not name it: %v", typo[1], err)
		}
	}
}

// checkManifests checks what the golden file alone would not show is
// right: the pieces fit together (selectors, ports, names, volumes) and
// the pods are locked down.
func checkManifests(t *testing.T, o Options, m manifests) {
	t.Helper()
	names := NamesOf(o)
	shard, merge := m.jobs[0], m.jobs[1]
	if shard.Name != names.Job || merge.Name != names.MergeJob {
		t.Fatalf("jobs %s, %s; want %s then %s", shard.Name, merge.Name, names.Job, names.MergeJob)
	}
	s := shard.Spec
	if *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != int32(o.Shards) || *s.Parallelism != int32(o.Shards) {
		t.Errorf("shard Job: mode %v, completions %d, parallelism %d; want Indexed, %d, %d", *s.CompletionMode, *s.Completions, *s.Parallelism, o.Shards, o.Shards)
	}
	c := s.Template.Spec.Containers[0]
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"--shard $(JOB_COMPLETION_INDEX)/" + strconv.Itoa(o.Shards), "--start-at " + o.StartAt.UTC().Format(time.RFC3339),
		"--out " + RunDir(o) + "/shard-$(JOB_COMPLETION_INDEX)", "--url " + o.URL, ScenarioDir + "/" + o.Scenario.Name} {
		if !strings.Contains(args, want) {
			t.Errorf("shard args %q lack %q", args, want)
		}
	}
	for k, v := range m.service.Spec.Selector {
		if s.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the shard pods do not carry", k, v)
		}
	}
	if c.Ports[0].Name != "metrics" || m.service.Spec.Ports[0].TargetPort.StrVal != "metrics" || m.service.Spec.ClusterIP != "None" {
		t.Errorf("metrics port: container %+v, service %+v", c.Ports, m.service.Spec)
	}
	if o.PodMonitor != (m.podMonitor != nil) {
		t.Fatalf("PodMonitor rendered: %v; want %v", m.podMonitor != nil, o.PodMonitor)
	}
	if m.podMonitor != nil {
		for k, v := range m.podMonitor.Spec.Selector.MatchLabels {
			if s.Template.Labels[k] != v {
				t.Errorf("the PodMonitor selects %s=%s, which the shard pods do not carry", k, v)
			}
		}
		if ep := m.podMonitor.Spec.PodMetricsEndpoints[0]; ep.Port == nil || *ep.Port != "metrics" {
			t.Errorf("PodMonitor endpoint %+v: want port metrics", ep)
		}
	}
	if !slices.Contains(m.pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("results PVC access modes %v: want ReadWriteMany", m.pvc.Spec.AccessModes)
	}
	checkPod(t, o, s.Template.Spec, names)
	checkPod(t, o, merge.Spec.Template.Spec, names)
	wait := strings.Join(merge.Spec.Template.Spec.InitContainers[0].Args, " ")
	mergeArgs := strings.Join(merge.Spec.Template.Spec.Containers[0].Args, " ")
	dirs := strings.Join(ShardDirs(o), " ")
	if !strings.HasPrefix(wait, "stack k8s wait") || !strings.HasSuffix(wait, dirs) || !strings.Contains(mergeArgs, dirs+" --out "+MergedDir(o)) {
		t.Errorf("merge Job: wait %q, merge %q; want both over %s", wait, mergeArgs, dirs)
	}
	checkAPIKey(t, o, c)
}

func checkPod(t *testing.T, o Options, p corev1.PodSpec, names Names) {
	t.Helper()
	if p.RestartPolicy != corev1.RestartPolicyNever || *p.AutomountServiceAccountToken {
		t.Errorf("pod restart policy %s, token mounted %v", p.RestartPolicy, *p.AutomountServiceAccountToken)
	}
	if sc := p.SecurityContext; !*sc.RunAsNonRoot || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v", sc)
	}
	for _, c := range append(p.InitContainers, p.Containers...) {
		sc := c.SecurityContext
		if !*sc.ReadOnlyRootFilesystem || !*sc.RunAsNonRoot || *sc.AllowPrivilegeEscalation || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("container %s security context %+v", c.Name, sc)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("container %s has no CPU request or no memory limit: %+v", c.Name, c.Resources)
		}
		if c.Name != "llmload" {
			continue
		}
		if c.Resources.Requests.Cpu().String() != o.CPU || c.Resources.Limits.Memory().String() != o.Memory {
			t.Errorf("shard container resources %+v; want --cpu %s, --memory %s", c.Resources, o.CPU, o.Memory)
		}
		if _, limited := c.Resources.Limits["cpu"]; limited == (o.CPULimit == "0") {
			t.Errorf("shard container CPU limit present %v with --cpu-limit %q", limited, o.CPULimit)
		}
	}
	claims := 0
	for _, v := range p.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == names.PVC {
			claims++
		}
	}
	if claims != 1 {
		t.Errorf("pod mounts the results PVC %s %d times; want once", names.PVC, claims)
	}
}

// checkAPIKey: the key comes from the Secret by reference, never as a value.
func checkAPIKey(t *testing.T, o Options, c corev1.Container) {
	t.Helper()
	var key *corev1.EnvVar
	for i, e := range c.Env {
		if e.Name == "LLMLOAD_API_KEY" {
			key = &c.Env[i]
		}
	}
	if o.APIKeySecret == "" {
		if key != nil {
			t.Errorf("LLMLOAD_API_KEY set without --api-key-secret: %+v", key)
		}
		return
	}
	if key == nil || key.Value != "" || key.ValueFrom == nil || key.ValueFrom.SecretKeyRef == nil ||
		key.ValueFrom.SecretKeyRef.Name+"/"+key.ValueFrom.SecretKeyRef.Key != o.APIKeySecret {
		t.Errorf("LLMLOAD_API_KEY %+v: want a secretKeyRef to %s", key, o.APIKeySecret)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	o := goldenCases()["custom"]
	a, _ := Render(o)
	for range 5 {
		if b, _ := Render(o); !bytes.Equal(a, b) {
			t.Fatal("two renderings of the same options differ (map order?)")
		}
	}
}

// TestUserArgsSurviveExpansion: the kubelet expands $(VAR) in args, so a
// user's "$(HOME)" or "$$" in --run-args and --url must reach llmload
// unchanged after Kubernetes' own expansion, with the completion index
// still expanded.
func TestUserArgsSurviveExpansion(t *testing.T) {
	o := goldenCases()["default"]
	o.Shards = 4
	o.URL = "http://router:8000/p$(X)"
	o.RunArgs = []string{"--metadata", "note=$(HOME) costs $$5", "--seed", "7"}
	job := shardJob(o)
	env := map[string]string{completionIndex: "2", "HOME": "/root", "X": "x"}
	var got []string
	for _, a := range job.Spec.Template.Spec.Containers[0].Args {
		got = append(got, kubelettest.Expand(a, func(name string) (string, bool) { v, ok := env[name]; return v, ok }))
	}
	joined := strings.Join(got, " ")
	for _, want := range []string{"--url http://router:8000/p$(X)", "--metadata note=$(HOME) costs $$5 --seed 7", "--shard 2/4", "shard-2"} {
		if !strings.Contains(joined, want) {
			t.Errorf("after the kubelet's expansion the args are\n%s\nwant them to contain %q", joined, want)
		}
	}
}
