package k8s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Paths inside the pods.
const (
	ScenarioDir = "/etc/llmload/scenario" // the ConfigMap: scenario and --file files
	ResultsDir  = "/results"              // the results PVC
	tmpDir      = "/tmp"                  // an emptyDir: the root filesystem is read-only
)

// The pods run as this non-root user (distroless's "nonroot"), and the
// results volume is made writable for its group.
const podUser = 65532

// Component names: app.kubernetes.io/component of each object.
const (
	componentShard    = "shard"
	componentMerge    = "merge"
	componentScenario = "scenario"
	componentResults  = "results"
)

// Names of the objects Render makes, from Options.Name.
type Names struct {
	Job, MergeJob, ConfigMap, PVC, Service, PodMonitor string
}

// NamesOf returns the names of the objects rendered for o.
func NamesOf(o Options) Names {
	return Names{Job: o.Name, MergeJob: o.Name + "-merge", ConfigMap: o.Name + "-scenario",
		PVC: o.Name + "-results", Service: o.Name, PodMonitor: o.Name}
}

// RunDir is the directory on the results volume of the run starting at
// o.StartAt: each rendering starts a new one, so a second apply never
// mixes its shards with an earlier run's.
func RunDir(o Options) string {
	return ResultsDir + "/run-" + o.StartAt.UTC().Format("20060102T150405Z")
}

// ShardDirs are the shards' --out directories, in index order.
func ShardDirs(o Options) []string {
	dirs := make([]string, o.Shards)
	for i := range dirs {
		dirs[i] = fmt.Sprintf("%s/shard-%d", RunDir(o), i)
	}
	return dirs
}

// MergedDir is where the merge Job writes the merged results.
func MergedDir(o Options) string { return RunDir(o) + "/merged" }

// Objects returns the manifests' objects in apply order: the ConfigMap,
// the PVC, the Service, the PodMonitor (when o.PodMonitor), the shards'
// Job and the merge Job.
func Objects(o Options) ([]any, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	objs := []any{configMap(o), resultsPVC(o), headlessService(o)}
	if o.PodMonitor {
		objs = append(objs, podMonitorOf(o))
	}
	return append(objs, shardJob(o), mergeJob(o)), nil
}

// Render returns the manifests as one multi-document YAML file.
func Render(o Options) ([]byte, error) {
	objs, err := Objects(o)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# llmload %s: %d shards of %s against %s, starting at %s.\n",
		o.Version, o.Shards, o.Scenario.Name, o.URL, o.StartAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "# Apply before then: kubectl apply -f FILE. Results: %s on PVC %s (docs/stack.md, Kubernetes).\n",
		MergedDir(o), NamesOf(o).PVC)
	for _, obj := range objs {
		doc, err := marshal(obj)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(doc)
	}
	return b.Bytes(), nil
}

// marshal writes obj as YAML without the status the API types carry
// (a manifest has none: the cluster writes it).
func marshal(obj any) ([]byte, error) {
	j, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("k8s: encoding %T: %w", obj, err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	return yaml.Marshal(m)
}

func labels(o Options, component string) map[string]string {
	l := map[string]string{
		"app.kubernetes.io/name":       "llmload",
		"app.kubernetes.io/instance":   o.Name,
		"app.kubernetes.io/component":  component,
		"app.kubernetes.io/managed-by": "llmload",
	}
	if len(validation.IsValidLabelValue(o.Version)) == 0 {
		l["app.kubernetes.io/version"] = o.Version
	}
	return l
}

// selector picks the pods of one component of this instance; it leaves out
// the version, so it matches whatever version rendered them.
func selector(o Options, component string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      "llmload",
		"app.kubernetes.io/instance":  o.Name,
		"app.kubernetes.io/component": component,
	}
}

func meta(o Options, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: labels(o, component)}
}

func configMap(o Options) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta(o, NamesOf(o).ConfigMap, componentScenario),
	}
	for _, f := range append([]File{o.Scenario}, o.Files...) {
		if utf8.Valid(f.Data) {
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			cm.Data[f.Name] = string(f.Data)
			continue
		}
		if cm.BinaryData == nil {
			cm.BinaryData = map[string][]byte{}
		}
		cm.BinaryData[f.Name] = f.Data
	}
	return cm
}

func resultsPVC(o Options) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: meta(o, NamesOf(o).PVC, componentResults),
		Spec: corev1.PersistentVolumeClaimSpec{
			// Every shard pod, on any node, writes to it at once.
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(o.StorageSize)},
			},
		},
	}
	if o.StorageClass != "" {
		pvc.Spec.StorageClassName = &o.StorageClass
	}
	return pvc
}

func headlessService(o Options) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta(o, NamesOf(o).Service, componentShard),
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  selector(o, componentShard),
			Ports: []corev1.ServicePort{{Name: "metrics", Port: int32(o.MetricsPort),
				TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP}},
		},
	}
}

// podMonitor is the part of prometheus-operator's monitoring.coreos.com/v1
// PodMonitor that is rendered (its Go types would bring in the operator's
// module; the test decodes the output strictly into them).
type podMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              podMonitorSpec `json:"spec"`
}

type podMonitorSpec struct {
	Selector            metav1.LabelSelector `json:"selector"`
	PodMetricsEndpoints []podMetricsEndpoint `json:"podMetricsEndpoints"`
}

type podMetricsEndpoint struct {
	Port     string `json:"port"`
	Path     string `json:"path"`
	Interval string `json:"interval"`
}

func podMonitorOf(o Options) *podMonitor {
	m := meta(o, NamesOf(o).PodMonitor, componentShard)
	for k, v := range o.MonitorLabels {
		m.Labels[k] = v
	}
	return &podMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "PodMonitor"},
		ObjectMeta: m,
		Spec: podMonitorSpec{
			Selector: metav1.LabelSelector{MatchLabels: selector(o, componentShard)},
			PodMetricsEndpoints: []podMetricsEndpoint{{Port: "metrics", Path: "/metrics",
				Interval: strconv.Itoa(int(o.ScrapeInterval/time.Second)) + "s"}},
		},
	}
}
