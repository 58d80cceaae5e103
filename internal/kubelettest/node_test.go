package kubelettest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testJob is an Indexed Job of 3 whose container uses every emulated
// feature: a ConfigMap volume, a PVC, an emptyDir, env values referring
// to earlier ones, a Secret key, a declared port and a working directory.
func testJob() *batchv1.Job {
	indexed, n := batchv1.IndexedCompletion, int32(3)
	c := corev1.Container{Name: "main", Command: []string{"tool"}, WorkingDir: "/etc/conf",
		Args: []string{"--out", "/data/shard-$(JOB_COMPLETION_INDEX)", "--conf=/etc/conf/a.txt", "$(GREETING)", "$$(GREETING)",
			"$(UNDEFINED)", "$(PATH)", "--listen", "0.0.0.0:9000", "http://server:8000/v1", "/tmp/scratch"},
		Env: []corev1.EnvVar{{Name: "NAME", Value: "world"}, {Name: "GREETING", Value: "hello-$(NAME)-$(LATER)"}, {Name: "LATER", Value: "late"},
			{Name: "KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "api"}, Key: "token"}}}},
		Ports:        []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9000}},
		VolumeMounts: []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/conf"}, {Name: "data", MountPath: "/data"}, {Name: "tmp", MountPath: "/tmp"}},
	}
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "job", Namespace: "ns"}, Spec: batchv1.JobSpec{
		CompletionMode: &indexed, Completions: &n,
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Subdomain: "job", Containers: []corev1.Container{c}, Volumes: []corev1.Volume{
			{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}}}},
			{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "results"}}},
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		}}},
	}}
}

func testNode(t *testing.T) *Node {
	n := NewNode(t)
	n.ConfigMaps["conf"] = &corev1.ConfigMap{Data: map[string]string{"a.txt": "A"}, BinaryData: map[string][]byte{"b.bin": {0xff}}}
	n.Secrets["api"] = map[string]string{"token": "sk-test"}
	n.Commands["tool"] = "/usr/local/bin/tool"
	n.ImageEnv = []string{"PATH=/usr/local/bin"}
	return n
}

func TestIndexedPodCommand(t *testing.T) {
	n := testNode(t)
	pod, err := IndexedPod(testJob(), 2)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := n.Command(context.Background(), pod, &pod.Spec.Containers[0])
	if err != nil {
		t.Fatal(err)
	}
	claim, _ := n.ClaimDir("results")
	conf := cmd.Dir
	want := []string{"/usr/local/bin/tool", "--out", filepath.Join(claim, "shard-2"), "--conf=" + filepath.Join(conf, "a.txt"),
		"hello-world-$(LATER)", "$(GREETING)", "$(UNDEFINED)", "$(PATH)", "--listen", "127.0.0.1:0", "http://server:8000/v1",
		filepath.Join(filepath.Dir(claim), "..", "pods", "job-2", "volumes", "tmp", "scratch")}
	if want[len(want)-1] = filepath.Clean(want[len(want)-1]); !slices.Equal(cmd.Args, want) {
		t.Errorf("args\n%q\nwant\n%q", cmd.Args, want)
	}
	if b, err := os.ReadFile(filepath.Join(conf, "a.txt")); err != nil || string(b) != "A" {
		t.Errorf("the ConfigMap's a.txt in the working directory: %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(conf, "b.bin")); err != nil || string(b) != "\xff" {
		t.Errorf("the ConfigMap's binary b.bin: %q, %v", b, err)
	}
	for _, kv := range []string{"PATH=/usr/local/bin", "HOSTNAME=job-2", "GREETING=hello-world-$(LATER)", "KEY=sk-test", "JOB_COMPLETION_INDEX=2"} {
		if !slices.Contains(cmd.Env, kv) {
			t.Errorf("env lacks %s: %q", kv, cmd.Env)
		}
	}
	if last := cmd.Env[len(cmd.Env)-1]; last != "JOB_COMPLETION_INDEX=2" {
		t.Errorf("last env %s: the Job controller appends JOB_COMPLETION_INDEX", last)
	}
	// Another pod of the Job shares the claim and sees the ConfigMap at the
	// same path, but has its own emptyDir.
	other, _ := IndexedPod(testJob(), 0)
	cmd0, err := n.Command(context.Background(), other, &other.Spec.Containers[0])
	if err != nil {
		t.Fatal(err)
	}
	if last := len(want) - 1; cmd0.Args[2] != filepath.Join(claim, "shard-0") || cmd0.Dir != cmd.Dir || cmd0.Args[last] == cmd.Args[last] {
		t.Errorf("pod 0: args %q, dir %s (pod 2's %s)", cmd0.Args, cmd0.Dir, cmd.Dir)
	}
}

// What a kubelet would refuse, and what is not emulated, is an error that
// names it; a pod the Job controller did not index keeps the reference.
func TestCommandErrors(t *testing.T) {
	if _, err := IndexedPod(testJob(), 3); err == nil || !strings.Contains(err.Error(), "completion index 3 is out of range") {
		t.Errorf("index 3 of 3: %v", err)
	}
	plain := JobPod(testJob())
	cmd, err := testNode(t).Command(context.Background(), plain, &plain.Spec.Containers[0])
	if err != nil || cmd.Args[2] != filepath.Join(filepath.Dir(cmd.Args[2]), "shard-$(JOB_COMPLETION_INDEX)") {
		t.Errorf("no completion index: %v, %q; want the reference left as written", err, cmd.Args)
	}
	for want, edit := range map[string]func(*Node, *corev1.Container){
		`env KEY: secret "api" not found`:                                           func(n *Node, _ *corev1.Container) { delete(n.Secrets, "api") },
		"env KEY: couldn't find key token in secret api":                            func(n *Node, _ *corev1.Container) { n.Secrets["api"] = map[string]string{} },
		`volume conf: configmap "conf" not found`:                                   func(n *Node, _ *corev1.Container) { delete(n.ConfigMaps, "conf") },
		`command "tool" is not in the image`:                                        func(n *Node, _ *corev1.Container) { delete(n.Commands, "tool") },
		`argument "/etc/passwd": /etc/passwd is on none of the container's volumes`: func(_ *Node, c *corev1.Container) { c.Args = []string{"/etc/passwd"} },
		"subPath is not emulated":                                                   func(_ *Node, c *corev1.Container) { c.VolumeMounts[0].SubPath = "x" },
		"workingDir /srv is on none of its volumes":                                 func(_ *Node, c *corev1.Container) { c.WorkingDir = "/srv" },
		"envFrom is not emulated":                                                   func(_ *Node, c *corev1.Container) { c.EnvFrom = []corev1.EnvFromSource{{}} },
	} {
		n := testNode(t)
		pod, _ := IndexedPod(testJob(), 1)
		edit(n, &pod.Spec.Containers[0])
		if _, err := n.Command(context.Background(), pod, &pod.Spec.Containers[0]); err == nil ||
			!strings.Contains(err.Error(), "pod job-1, container main: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v; want an error saying %s", err, want)
		}
	}
}
