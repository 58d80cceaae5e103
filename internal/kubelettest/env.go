package kubelettest

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// env is container c's process environment: the image's env, HOME (when
// the image sets none) and HOSTNAME, then c's env resolved in order as the
// kubelet resolves it: a value's $(VAR) from the variables before it, a
// valueFrom from the pod's fields, a Secret or a ConfigMap. A later
// variable overrides an earlier one of the same name. declared is c's env
// alone, which $(VAR) in its command and args may name.
func (n *Node) env(pod *corev1.Pod, c *corev1.Container) (env []string, declared map[string]string, err error) {
	if len(c.EnvFrom) > 0 {
		return nil, nil, fmt.Errorf("envFrom is not emulated")
	}
	host := pod.Spec.Hostname
	if host == "" {
		host = pod.Name
	}
	var names []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			names = append(names, k)
		}
		vals[k] = v
	}
	for _, kv := range n.ImageEnv {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	if _, ok := vals["HOME"]; !ok {
		set("HOME", n.pods[pod.Name][""])
	}
	set("HOSTNAME", host)
	declared = map[string]string{} // only c's own env feeds $(VAR), not the image's
	for _, e := range c.Env {
		v, skip, err := n.envValue(pod, e, declared)
		if err != nil {
			return nil, nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if !skip {
			declared[e.Name] = v
			set(e.Name, v)
		}
	}
	env = make([]string, len(names))
	for i, k := range names {
		env[i] = k + "=" + vals[k]
	}
	return env, declared, nil
}

// envValue is one env variable's value; skip when it comes from an
// optional Secret or ConfigMap key that does not exist.
func (n *Node) envValue(pod *corev1.Pod, e corev1.EnvVar, declared map[string]string) (v string, skip bool, err error) {
	src := e.ValueFrom
	switch {
	case src == nil:
		return Expand(e.Value, lookupIn(declared)), false, nil
	case src.FieldRef != nil:
		v, err = fieldValue(pod, src.FieldRef.FieldPath)
		return v, false, err
	case src.SecretKeyRef != nil:
		r := src.SecretKeyRef
		return keyOf("secret", r.Name, r.Key, n.Secrets[r.Name], n.Secrets[r.Name] != nil, r.Optional)
	case src.ConfigMapKeyRef != nil:
		r := src.ConfigMapKeyRef
		cm := n.ConfigMaps[r.Name]
		var data map[string]string
		if cm != nil {
			data = cm.Data
		}
		return keyOf("configmap", r.Name, r.Key, data, cm != nil, r.Optional)
	}
	return "", false, fmt.Errorf("its valueFrom source is not emulated")
}

// keyOf looks key up in the data of a Secret or ConfigMap as the kubelet
// does, with its messages.
func keyOf(kind, name, key string, data map[string]string, exists bool, optional *bool) (string, bool, error) {
	opt := optional != nil && *optional
	if !exists {
		if opt {
			return "", true, nil
		}
		return "", false, fmt.Errorf("%s %q not found", kind, name)
	}
	v, ok := data[key]
	if !ok {
		if opt {
			return "", true, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in %s %s", key, kind, name)
	}
	return v, false, nil
}

var mapField = regexp.MustCompile(`^metadata\.(labels|annotations)\['(.+)'\]$`)

// fieldValue is a fieldRef's value. A missing label or annotation is "",
// as the kubelet has it.
func fieldValue(pod *corev1.Pod, fieldPath string) (string, error) {
	switch fieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	}
	if m := mapField.FindStringSubmatch(fieldPath); m != nil {
		if m[1] == "labels" {
			return pod.Labels[m[2]], nil
		}
		return pod.Annotations[m[2]], nil
	}
	return "", fmt.Errorf("fieldRef %s is not emulated", fieldPath)
}
