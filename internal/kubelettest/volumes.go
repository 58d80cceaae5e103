package kubelettest

import (
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// volumes materialises pod's volumes once, on its first container:
// volume name -> directory; "" is the pod's own root (the image's files,
// emulated as an empty directory).
func (n *Node) volumes(pod *corev1.Pod) (map[string]string, error) {
	if v, ok := n.pods[pod.Name]; ok {
		return v, nil
	}
	dir := filepath.Join(n.root, "pods", pod.Name)
	vols := map[string]string{"": filepath.Join(dir, "rootfs")}
	if err := os.MkdirAll(vols[""], 0o755); err != nil {
		return nil, err
	}
	for _, v := range pod.Spec.Volumes {
		d := filepath.Join(dir, "volumes", v.Name)
		var err error
		switch {
		case v.ConfigMap != nil:
			d, err = n.configMapVolume(v.ConfigMap.Name, len(v.ConfigMap.Items) > 0)
		case v.PersistentVolumeClaim != nil:
			d, err = n.ClaimDir(v.PersistentVolumeClaim.ClaimName)
		case v.EmptyDir != nil:
			err = os.MkdirAll(d, 0o755)
		default:
			err = fmt.Errorf("its source is not emulated (configMap, persistentVolumeClaim and emptyDir are)")
		}
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		vols[v.Name] = d
	}
	n.pods[pod.Name] = vols
	return vols, nil
}

// configMapVolume is the directory of the ConfigMap name's volume, which
// holds each key as a file, as the kubelet's configMap volume does
// (without its ..data symlinks). It is written once and shared by every
// pod: its files are the same in each, and so, as in a cluster, is the
// path under which a pod sees them.
func (n *Node) configMapVolume(name string, items bool) (string, error) {
	cm, ok := n.ConfigMaps[name]
	switch {
	case !ok:
		return "", fmt.Errorf("configmap %q not found", name)
	case items:
		return "", fmt.Errorf("configmap %q: items are not emulated", name)
	}
	dir := filepath.Join(n.root, "configmaps", name)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files := map[string][]byte{}
	for k, v := range cm.Data {
		files[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		files[k] = v
	}
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(dir, k), v, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}
