package kubelettest

import (
	"errors"
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Objects are the objects of one rendering, by kind, in document order.
type Objects struct {
	ConfigMaps  []*corev1.ConfigMap
	PVCs        []*corev1.PersistentVolumeClaim
	Services    []*corev1.Service
	PodMonitors []*monitoringv1.PodMonitor
	Jobs        []*batchv1.Job
}

// DecodeStrict decodes every "---"-separated document of a rendering into
// its Kubernetes (or prometheus-operator) Go type, refusing unknown and
// duplicate fields, so a misspelt field fails here as kubectl's
// server-side field validation would fail it. Documents of comments only
// are skipped.
func DecodeStrict(data []byte) (Objects, error) {
	var m Objects
	for i, doc := range strings.Split("\n"+string(data), "\n---\n") {
		var head struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return m, fmt.Errorf("document %d: %v", i, err)
		}
		var into any
		switch head.APIVersion + " " + head.Kind {
		case " ":
			if commentsOnly(doc) {
				continue
			}
			return m, fmt.Errorf("document %d: no apiVersion and kind", i)
		case "v1 ConfigMap":
			into = add(&m.ConfigMaps)
		case "v1 PersistentVolumeClaim":
			into = add(&m.PVCs)
		case "v1 Service":
			into = add(&m.Services)
		case "monitoring.coreos.com/v1 PodMonitor":
			into = add(&m.PodMonitors)
		case "batch/v1 Job":
			into = add(&m.Jobs)
		default:
			return m, fmt.Errorf("document %d: unexpected %s %s", i, head.APIVersion, head.Kind)
		}
		// As the API server's strict decoding: field names match case
		// sensitively (encoding/json alone would take readOnlyRootFileSystem),
		// unknown and duplicate fields are errors.
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return m, fmt.Errorf("document %d (%s): %v", i, head.Kind, err)
		}
		if strict, err := kjson.UnmarshalStrict(j, into, kjson.DisallowUnknownFields); err != nil || len(strict) > 0 {
			return m, fmt.Errorf("document %d (%s): %v", i, head.Kind, errors.Join(append(strict, err)...))
		}
	}
	return m, nil
}

// add appends a new zero object to *list and returns it.
func add[T any](list *[]*T) *T {
	v := new(T)
	*list = append(*list, v)
	return v
}

func commentsOnly(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}
