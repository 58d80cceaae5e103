package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/llmload/llmload/internal/kubelettest"
	"github.com/llmload/llmload/internal/testenv"
	"github.com/llmload/llmload/stack/sim"
)

// The pods of `llmload stack k8s --shards 3`, run as the Job controller
// and a kubelet would start them (internal/kubelettest): the rendered
// manifests are decoded strictly, the ConfigMap's keys become files at its
// mount, the results PVC one directory every pod shares, the API key comes
// from a Secret, and each container's args are expanded with Kubernetes'
// $(VAR) rules from its env, JOB_COMPLETION_INDEX set per pod. The three
// shard pods run at once against one simulator that wants the Secret's
// key; then the merge Job's init container (`stack k8s wait`) and its
// merge. Each shard fails the scenario's "completed >= 40" on its slice;
// the merge, which judges the merged data, passes: its exit code is the
// run's verdict.
func TestStackK8sPodsRunLocally(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const key = "sk-from-the-secret"
	url, rejected := startKeyedSim(t, key)
	var out, errb bytes.Buffer
	if code := stackCmd([]string{"k8s", "--shards", "3", "--url", url, "--start-delay", "4s", "--metrics-linger", "0s",
		"--api-key-secret", "llm-api/token", "--run-args", "--seed 7 --log-every 0 --server-metrics off",
		filepath.Join(testenv.ModuleRoot(t), shardScenario)}, &out, &errb); code != exitOK {
		t.Fatalf("llmload stack k8s: exit %d: %s", code, errb.String())
	}
	objs, err := kubelettest.DecodeStrict(out.Bytes())
	if err != nil || len(objs.ConfigMaps) != 1 || len(objs.Jobs) != 2 {
		t.Fatalf("decoding the rendering: %v; %d ConfigMaps, %d Jobs", err, len(objs.ConfigMaps), len(objs.Jobs))
	}
	shardJob, mergeJob := objs.Jobs[0], objs.Jobs[1]
	node := kubelettest.NewNode(t)
	node.ConfigMaps[objs.ConfigMaps[0].Name] = objs.ConfigMaps[0]
	node.Secrets["llm-api"] = map[string]string{"token": key}
	node.Commands["llmload"] = binPath
	node.ImageEnv = []string{"PATH=" + filepath.Dir(binPath)}
	startAt := argAfter(t, shardJob.Spec.Template.Spec.Containers[0].Args, "--start-at")

	// A pod of the template without the Job controller's index: the
	// reference stays as written and the run refuses it, naming the flag.
	plain := kubelettest.JobPod(shardJob)
	if code, log := runContainer(t, ctx, node, plain, &plain.Spec.Containers[0]); code != exitConfig ||
		!strings.Contains(log, `--shard "$(JOB_COMPLETION_INDEX)/3": want i/n`) {
		t.Errorf("no completion index: exit %d, want %d naming --shard\n%s", code, exitConfig, log)
	}

	var dirs []string
	merged := runMergePod(t, ctx, node, mergeJob, func() []string {
		dirs = runShardPods(t, ctx, node, shardJob, 3)
		return dirs
	})
	if t.Failed() {
		return
	}
	completed := 0
	for i, d := range dirs {
		s := readShardRun(t, d)
		completed += s.sum.Completed
		sh := s.meta.Shard
		if sh["index"] != float64(i) || sh["count"] != 3.0 || sh["start_at"] != startAt {
			t.Errorf("shard %d (%s): meta.shard %v; want index %d of 3 from %s", i, d, sh, i, startAt)
		}
		if started := summaryOf(t, d)["started_at"]; !sameInstant(started, startAt) {
			t.Errorf("shard %d: epoch (started_at) %v; want the rendered start instant %s", i, started, startAt)
		}
	}
	m := summaryOf(t, merged)
	sh, _ := m["meta"].(map[string]any)["shard"].(map[string]any)
	if m["completed"] != float64(completed) || completed != 40 || m["failed"] != 0.0 || fmt.Sprint(sh["merged"]) != "[0 1 2]" {
		t.Errorf("merged: completed %v (shards %d, want 40), failed %v, meta.shard.merged %v", m["completed"], completed, m["failed"], sh["merged"])
	}
	if n := rejected.Load(); n > 0 {
		t.Errorf("the simulator refused %d requests without the Secret's key", n)
	}
}

// runShardPods runs pod i of the Indexed Job job, for i < n, at once, and
// returns each pod's results directory here (its --out). Each must exit
// with exitThresholds: 40 requests in 3 shards fail "completed >= 40".
func runShardPods(t *testing.T, ctx context.Context, node *kubelettest.Node, job *batchv1.Job, n int) []string {
	t.Helper()
	cmds, dirs := make([]*exec.Cmd, n), make([]string, n)
	for i := range n {
		pod, err := kubelettest.IndexedPod(job, i)
		if err != nil {
			t.Fatal(err)
		}
		if cmds[i], err = node.Command(ctx, pod, &pod.Spec.Containers[0]); err != nil {
			t.Fatal(err)
		}
		dirs[i] = argAfter(t, cmds[i].Args, "--out")
	}
	distinct := map[string]bool{}
	for _, d := range dirs {
		distinct[d] = true
	}
	if claim, _ := node.ClaimDir(job.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName); len(distinct) != n ||
		!strings.HasPrefix(dirs[0], claim+string(filepath.Separator)) {
		t.Fatalf("shard directories %q: want %d of them on the results volume %s", dirs, n, claim)
	}
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Go(func() {
			if code, log := runPodProcess(cmd); code != exitThresholds {
				t.Errorf("shard pod %d: exit %d, want %d (its slice fails completed >= 40)\n%s", i, code, exitThresholds, log)
			}
		})
	}
	wg.Wait()
	return dirs
}

// runMergePod runs the merge Job's pod as a cluster does, the Jobs
// applied together: its init container (`stack k8s wait`) from the start,
// while runShards runs the shard pods and returns their directories; then,
// once the wait saw every shard finished, its container (`llmload merge`).
// Each must exit 0; it returns the merged directory.
func runMergePod(t *testing.T, ctx context.Context, node *kubelettest.Node, job *batchv1.Job, runShards func() []string) string {
	t.Helper()
	pod := kubelettest.JobPod(job)
	spec := &pod.Spec
	if len(spec.InitContainers) != 1 || len(spec.Containers) != 1 {
		t.Fatalf("merge pod: %d init containers and %d containers; want 1 and 1", len(spec.InitContainers), len(spec.Containers))
	}
	wait, err := node.Command(ctx, pod, &spec.InitContainers[0])
	if err != nil {
		t.Fatal(err)
	}
	var waitLog bytes.Buffer
	wait.Stdout, wait.Stderr = &waitLog, &waitLog
	if err := wait.Start(); err != nil {
		t.Fatal(err)
	}
	dirs := runShards()
	if t.Failed() {
		wait.Process.Kill() // it would wait for --merge-timeout
		wait.Wait()
		return ""
	}
	code := calibrateExitCode(wait.Wait())
	waited := time.Now()
	if code != exitOK || !strings.Contains(strings.Join(wait.Args, "\x00"), strings.Join(dirs, "\x00")) {
		t.Fatalf("merge pod, init container: exit %d, want 0, waiting for %q\n%s", code, dirs, waitLog.String())
	}
	for _, d := range dirs { // the wait ended only once every shard had finished
		if fi, err := os.Stat(filepath.Join(d, "summary.json")); err != nil || fi.ModTime().After(waited) {
			t.Errorf("%s/summary.json: %v; the wait ended at %s", d, err, waited)
		}
	}
	merge, err := node.Command(ctx, pod, &spec.Containers[0])
	if err != nil {
		t.Fatal(err)
	}
	if code, log := runPodProcess(merge); code != exitOK || !strings.Contains(strings.Join(merge.Args, "\x00"), strings.Join(dirs, "\x00")) {
		t.Fatalf("merge pod, merge container: exit %d, want 0 (the merged run passes its thresholds), merging %q\n%s", code, dirs, log)
	}
	return argAfter(t, merge.Args, "--out")
}

// runContainer runs container c of pod on node; its exit code and output.
func runContainer(t *testing.T, ctx context.Context, node *kubelettest.Node, pod *corev1.Pod, c *corev1.Container) (int, string) {
	t.Helper()
	cmd, err := node.Command(ctx, pod, c)
	if err != nil {
		t.Fatal(err)
	}
	return runPodProcess(cmd)
}

// runPodProcess runs cmd; its exit code and output.
func runPodProcess(cmd *exec.Cmd) (int, string) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return calibrateExitCode(cmd.Run()), out.String()
}

// argAfter is the argument after flag in args.
func argAfter(t *testing.T, args []string, flag string) string {
	t.Helper()
	i := slices.Index(args, flag)
	if i < 0 || i+1 == len(args) {
		t.Fatalf("no %s in %q", flag, args)
	}
	return args[i+1]
}

func sameInstant(a any, b string) bool {
	s, _ := a.(string)
	ta, errA := time.Parse(time.RFC3339Nano, s)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	return errA == nil && errB == nil && ta.Equal(tb)
}

// startKeyedSim serves the simulator on loopback behind a check of
// "Authorization: Bearer key", as a server behind an API gateway would;
// it returns its URL and the count of requests refused (401).
func startKeyedSim(t *testing.T, key string) (string, *atomic.Int64) {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.Profile, cfg.TTFT, cfg.ITL = sim.ProfileFixed, 5*time.Millisecond, time.Millisecond
	s, err := sim.New(cfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var rejected atomic.Int64
	h := s.Handler()
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Request.Header.Peek("Authorization")) != "Bearer "+key {
			rejected.Add(1)
			ctx.Error(`{"error":{"message":"bad API key"}}`, fasthttp.StatusUnauthorized)
			return
		}
		h(ctx)
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		s.Close()
		srv.Shutdown()
	})
	return "http://" + ln.Addr().String(), &rejected
}
