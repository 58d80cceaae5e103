package kubelettest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Node plays one kubelet for a test: it starts containers of pods as local
// processes. Fill the exported maps before the first Command. A Node is not
// safe for concurrent use: call Command from one goroutine; the commands it
// returns may run concurrently.
type Node struct {
	ConfigMaps map[string]*corev1.ConfigMap // by name: configMap volumes and configMapKeyRef
	Secrets    map[string]map[string]string // by Secret name, its keys' values: secretKeyRef
	Commands   map[string]string            // the image: command name -> local executable
	ImageEnv   []string                     // the image's env, NAME=VALUE; HOME defaults to an empty directory of the pod's

	root   string
	claims map[string]string            // PVC name -> directory, shared by every pod
	pods   map[string]map[string]string // pod name -> volume name -> directory
}

// NewNode returns a Node whose volumes live under a temporary directory
// of t, removed when t ends.
func NewNode(t testing.TB) *Node {
	return &Node{ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]map[string]string{},
		Commands: map[string]string{}, root: t.TempDir(), claims: map[string]string{}, pods: map[string]map[string]string{}}
}

// ClaimDir is the directory that holds the PersistentVolumeClaim claim's
// files, as every pod mounting it sees them.
func (n *Node) ClaimDir(claim string) (string, error) {
	if d, ok := n.claims[claim]; ok {
		return d, nil
	}
	d := filepath.Join(n.root, "claims", claim)
	n.claims[claim] = d
	return d, os.MkdirAll(d, 0o755)
}

// Command returns container c of pod as a process ready to start, or the
// error for which a kubelet would not start it (a missing Secret, key or
// ConfigMap: CreateContainerConfigError), or which this Node does not
// emulate. Its env is the image's, then the container's, resolved in
// order as the kubelet does; its arguments are command[1:] and args with
// $(VAR) expanded from that env, paths on the pod's volumes mapped to
// their directories here.
func (n *Node) Command(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (*exec.Cmd, error) {
	fail := func(err error) (*exec.Cmd, error) {
		return nil, fmt.Errorf("pod %s, container %s: %w", pod.Name, c.Name, err)
	}
	if len(c.Command) == 0 {
		return fail(fmt.Errorf("no command: the image's entrypoint is not emulated"))
	}
	exe, ok := n.Commands[c.Command[0]]
	if !ok {
		return fail(fmt.Errorf("command %q is not in the image (Node.Commands)", c.Command[0]))
	}
	m, err := n.mounts(pod, c)
	if err != nil {
		return fail(err)
	}
	env, vars, err := n.env(pod, c)
	if err != nil {
		return fail(err)
	}
	var args []string
	for _, a := range append(slices.Clone(c.Command[1:]), c.Args...) {
		a, err := m.arg(podAddr(Expand(a, lookupIn(vars)), c.Ports))
		if err != nil {
			return fail(err)
		}
		args = append(args, a)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = env
	cmd.Dir = m.rootfs
	if c.WorkingDir != "" {
		if cmd.Dir, ok = m.host(path.Clean(c.WorkingDir)); !ok {
			return fail(fmt.Errorf("workingDir %s is on none of its volumes; the image's files are not emulated", c.WorkingDir))
		}
	}
	return cmd, nil
}

// mounts are a container's volume mounts: in-pod path -> directory here.
type mounts struct {
	paths  map[string]string
	rootfs string // the image's root: an empty directory of the pod's
}

func (n *Node) mounts(pod *corev1.Pod, c *corev1.Container) (mounts, error) {
	vols, err := n.volumes(pod)
	if err != nil {
		return mounts{}, err
	}
	m := mounts{paths: map[string]string{}, rootfs: vols[""]}
	for _, vm := range c.VolumeMounts {
		d, ok := vols[vm.Name]
		switch {
		case !ok:
			return m, fmt.Errorf("volumeMount %s: the pod has no volume %s", vm.MountPath, vm.Name)
		case vm.SubPath != "" || vm.SubPathExpr != "":
			return m, fmt.Errorf("volumeMount %s: subPath is not emulated", vm.MountPath)
		}
		m.paths[path.Clean(vm.MountPath)] = d
	}
	return m, nil
}

// host maps an absolute in-pod path to here through the deepest mount
// that holds it.
func (m mounts) host(p string) (string, bool) {
	for mp := p; ; mp = path.Dir(mp) {
		if d, ok := m.paths[mp]; ok {
			return filepath.Join(d, filepath.FromSlash(strings.TrimPrefix(p, mp))), true
		}
		if mp == "/" {
			return "", false
		}
	}
}

// arg maps an argument that is an absolute path, or a --flag=PATH, to
// here. One outside every volume would name the image's files (or this
// machine's): an error.
func (m mounts) arg(a string) (string, error) {
	prefix, p := "", a
	if k := strings.IndexByte(a, '='); strings.HasPrefix(a, "-") && k > 0 {
		prefix, p = a[:k+1], a[k+1:]
	}
	if !path.IsAbs(p) {
		return a, nil
	}
	h, ok := m.host(path.Clean(p))
	if !ok {
		return "", fmt.Errorf("argument %q: %s is on none of the container's volumes; the image's files are not emulated", a, p)
	}
	return prefix + h, nil
}

// podAddr gives a listen address on a declared container port
// ("0.0.0.0:PORT", ":PORT", possibly as --flag=ADDR) a free loopback port:
// in a cluster each pod has its own network namespace, here they share one.
func podAddr(a string, ports []corev1.ContainerPort) string {
	prefix, addr := "", a
	if k := strings.IndexByte(a, '='); strings.HasPrefix(a, "-") && k > 0 {
		prefix, addr = a[:k+1], a[k+1:]
	}
	for _, p := range ports {
		port := ":" + strconv.Itoa(int(p.ContainerPort))
		if addr == port || addr == "0.0.0.0"+port {
			return prefix + "127.0.0.1:0"
		}
	}
	return a
}
