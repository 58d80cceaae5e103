package main

// The stack driven against a real Docker engine: `llmload stack init`, `up
// --wait`, `status`, `logs` and `down` run docker compose for real, with
// images built here FROM scratch and nothing pulled. The images stand in
// for the ones a GPU node runs:
//
//   - vllm: the llmload binary as `llmload sim` behind a `vllm` command that
//     takes `vllm serve MODEL --host H --port P ...` (the rendered entrypoint
//     and command), plus Debian's python3 with just the modules the rendered
//     healthcheck imports, so the healthcheck runs as written;
//   - dcgm-exporter: `llmload sim` on port 9400 (it serves DCGM_FI_DEV_*);
//   - prometheus: Debian's prometheus binary with its shared libraries and a
//     static busybox for the healthcheck's wget (the real image is
//     busybox-based too).
//
// Grafana is not available here: the stack is rendered with --grafana=false.
// The engine is the one DOCKER_HOST names; .ci/run starts one
// (.ci/docker-engine.sh). Without docker, the compose plugin or a reachable
// engine the test skips, unless CI=true.

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

// stackEngine returns the docker executable once docker, its compose plugin
// and the engine all answer; otherwise the test skips (fails under CI=true).
func stackEngine(t *testing.T) string {
	t.Helper()
	docker := testenv.Tool(t, "docker")
	for _, probe := range [][]string{{"compose", "version"}, {"version", "--format", "{{.Server.Version}}"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, docker, probe...).CombinedOutput()
		cancel()
		if err != nil {
			first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
			testenv.Missing(t, fmt.Sprintf("`docker %s` failed (%v: %s): no compose plugin or no engine (DOCKER_HOST=%q)", strings.Join(probe, " "), err, first, os.Getenv("DOCKER_HOST")))
		}
	}
	return docker
}

// imageFile is one entry of a stand-in image's root file system.
type imageFile struct {
	mode    int64
	data    []byte
	symlink string // a symlink to this target when not empty
}

// rootfs is an image's files by absolute path.
type rootfs map[string]imageFile

// addHostFile copies a host file (symlinks followed) to path in the image.
func (r rootfs) addHostFile(t *testing.T, path, host string) {
	t.Helper()
	b, err := os.ReadFile(host)
	if err != nil {
		t.Fatalf("stand-in image: %v", err)
	}
	st, err := os.Stat(host)
	if err != nil {
		t.Fatal(err)
	}
	r[path] = imageFile{mode: int64(st.Mode().Perm()), data: b}
}

// addBinary copies a host executable and the shared libraries ldd lists
// for it, at the same paths.
func (r rootfs) addBinary(t *testing.T, path, host string) {
	t.Helper()
	r.addHostFile(t, path, host)
	out, err := exec.Command("ldd", host).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") {
			return
		}
		t.Fatalf("ldd %s: %v\n%s", host, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				r.addHostFile(t, f, f)
			}
		}
	}
}

func (r rootfs) addText(path, text string, mode int64) {
	r[path] = imageFile{mode: mode, data: []byte(text)}
}

// importImage writes r as a tar stream into `docker import`, FROM scratch
// in effect; changes are Dockerfile instructions (ENTRYPOINT, ENV).
func importImage(t *testing.T, ctx context.Context, docker, tag string, r rootfs, changes ...string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	var paths []string
	for p := range r {
		paths = append(paths, p)
		for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	dirs["/tmp"] = true
	var dirList []string
	for d := range dirs {
		dirList = append(dirList, d)
	}
	slices.Sort(dirList)
	slices.Sort(paths)
	for _, d := range dirList {
		mode := int64(0o755)
		if d == "/tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: mode}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range paths {
		f := r[p]
		h := &tar.Header{Name: strings.TrimPrefix(p, "/"), Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}
		if f.symlink != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.symlink, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	cmd := exec.CommandContext(ctx, docker, append(args, "-", tag)...)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import %s: %v\n%s", tag, err, out)
	}
	t.Cleanup(func() { exec.Command(docker, "image", "rm", "--force", tag).Run() })
}

// staticLLMLoad builds the llmload binary without cgo, so it runs FROM
// scratch.
func staticLLMLoad(t *testing.T, ctx context.Context, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "llmload-static")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build (static): %v\n%s", err, out)
	}
	return bin
}

// pythonForHealthcheck adds Debian's python3 and the standard library
// modules that the rendered vLLM healthcheck loads, found by running the
// same urlopen on the host against a loopback server.
func (r rootfs) pythonForHealthcheck(t *testing.T, ctx context.Context) {
	t.Helper()
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		testenv.Missing(t, python+" not found (Debian's python3 goes into the vLLM stand-in image for its healthcheck)")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	script := `import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=5)
for m in list(sys.modules.values()):
    f = getattr(m, "__file__", None)
    if f: print(f)`
	out, err := exec.CommandContext(ctx, python, "-c", script, srv.URL+"/health").Output()
	if err != nil {
		t.Fatalf("%s: %v", python, err)
	}
	r.addBinary(t, python, python)
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/usr/lib/python3") {
			r.addHostFile(t, f, f)
		}
	}
}

// standInVLLM takes the rendered entrypoint and command, `vllm serve MODEL
// --host H --port P [vLLM flags]`, says what it got, and runs the simulator
// on that port (STANDIN_PORT overrides it: the unhealthy variant).
const standInVLLM = `#!/bin/sh
[ "$1" = serve ] || { echo "stand-in vllm: want 'vllm serve MODEL ...', got: $*" >&2; exit 2; }
shift
echo "stand-in vllm: serve $*"
model=$1; shift; port=8000
while [ $# -gt 0 ]; do
  case "$1" in --port) port=$2; shift;; --model) echo "stand-in vllm: --model is deprecated" >&2; exit 2;; esac
  shift
done
exec /llmload sim --addr "0.0.0.0:${STANDIN_PORT:-$port}" --model "$model" --profile fixed --ttft 20ms --itl 5ms
`

// standInImages builds the three images; the returned names are tags.
func standInImages(t *testing.T, ctx context.Context, docker, dir string) (vllm, vllmBroken, dcgm, prom string) {
	t.Helper()
	busybox := "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		testenv.Missing(t, "/bin/busybox not found (apt-get install busybox-static)")
	}
	promBin := testenv.Tool(t, "prometheus")
	llmload := staticLLMLoad(t, ctx, dir)
	tag := fmt.Sprintf("llmload-e2e-%d", os.Getpid())
	const path = "ENV PATH=/usr/local/bin:/usr/bin:/bin"

	sim := rootfs{}
	sim.addHostFile(t, "/llmload", llmload)
	dcgm = "llmload-test/dcgm:" + tag
	importImage(t, ctx, docker, dcgm, sim, path, `ENTRYPOINT ["/llmload", "sim", "--addr", "0.0.0.0:9400", "--profile", "fixed"]`)

	v := rootfs{}
	v.addHostFile(t, "/llmload", llmload)
	v.addHostFile(t, "/bin/busybox", busybox)
	v["/bin/sh"] = imageFile{mode: 0o777, symlink: "busybox"}
	v.addText("/usr/local/bin/vllm", standInVLLM, 0o755)
	v.pythonForHealthcheck(t, ctx)
	vllm = "llmload-test/vllm:" + tag
	importImage(t, ctx, docker, vllm, v, path)
	vllmBroken = "llmload-test/vllm-broken:" + tag
	importImage(t, ctx, docker, vllmBroken, v, path, "ENV STANDIN_PORT=8001")

	p := rootfs{}
	p.addBinary(t, "/bin/prometheus", promBin)
	p.addHostFile(t, "/bin/busybox", busybox)
	for _, applet := range []string{"sh", "wget", "cat"} {
		p["/bin/"+applet] = imageFile{mode: 0o777, symlink: "busybox"}
	}
	prom = "llmload-test/prometheus:" + tag
	importImage(t, ctx, docker, prom, p, path, `ENTRYPOINT ["/bin/prometheus"]`)
	return vllm, vllmBroken, dcgm, prom
}

// freePort returns a free loopback port number as a string.
func freePort(t *testing.T) string {
	_, port, _ := net.SplitHostPort(freeLoopbackAddr(t))
	return port
}

// composeLeftovers lists the containers, networks and volumes docker still
// has for a compose project.
func composeLeftovers(t *testing.T, docker, project string) string {
	t.Helper()
	var left []string
	for _, kind := range [][]string{{"ps", "--all"}, {"network", "ls"}, {"volume", "ls"}} {
		args := append(slices.Clone(kind), "--quiet", "--filter", "label=com.docker.compose.project="+project)
		out, err := exec.Command(docker, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
		if s := strings.TrimSpace(string(out)); s != "" {
			left = append(left, kind[0]+": "+strings.ReplaceAll(s, "\n", " "))
		}
	}
	return strings.Join(left, "; ")
}

// stackProject inits a stack in a fresh directory named like the compose
// project, with cleanup that takes it down whatever happened.
func stackProject(t *testing.T, docker, name string, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	code, out, errs := runStack(append([]string{"init", "--dir", dir, "--gpus", "none", "--grafana=false"}, args...)...)
	if code != exitOK {
		t.Fatalf("stack init: exit %d\n%s%s", code, out, errs)
	}
	t.Cleanup(func() {
		exec.Command(docker, "compose", "-f", filepath.Join(dir, "compose.yaml"), "down", "--volumes", "--timeout", "2").Run()
	})
	return dir
}

func TestStackAgainstDockerEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images and runs a compose stack; skipped with -short")
	}
	docker := stackEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	t0 := time.Now()
	vllm, vllmBroken, dcgm, prom := standInImages(t, ctx, docker, t.TempDir())
	t.Logf("stand-in images built in %s", time.Since(t0).Round(time.Millisecond))

	// Both stacks come up at once: the unhealthy one spends its time
	// waiting for three failed healthchecks.
	t.Run("stacks", func(t *testing.T) {
		t.Run("healthy", func(t *testing.T) {
			t.Parallel()
			stackHealthyAgainstEngine(t, ctx, docker, vllm, dcgm, prom)
		})
		t.Run("unhealthy", func(t *testing.T) {
			t.Parallel()
			stackUnhealthyAgainstEngine(t, ctx, docker, vllmBroken, dcgm, prom)
		})
	})
	t.Logf("done in %s", time.Since(t0).Round(time.Millisecond))
}

func stackHealthyAgainstEngine(t *testing.T, ctx context.Context, docker, vllm, dcgm, prom string) {
	const model = "llmload/e2e-model"
	project := fmt.Sprintf("llmload-e2e-%d", os.Getpid())
	vllmPort, dcgmPort, promPort, clientPort := freePort(t), freePort(t), freePort(t), freePort(t)
	dir := stackProject(t, docker, project, "--model", model,
		"--vllm-image", vllm, "--dcgm-image", dcgm, "--prometheus-image", prom,
		"--port", vllmPort, "--dcgm-port", dcgmPort, "--prometheus-port", promPort,
		"--client-metrics", "host.docker.internal:"+clientPort, "--scrape-interval", "1s",
		"--health-start-period", "60s")
	t0 := time.Now()
	if code, out, errs := runStack("up", "--dir", dir, "--wait"); code != exitOK {
		t.Fatalf("stack up --wait: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("up --wait in %s", time.Since(t0).Round(time.Millisecond))

	code, out, errs := runStack("status", "--dir", dir)
	if code != exitOK {
		t.Fatalf("stack status: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^vllm +running \(healthy\) +GET \S+/health +ok`),
		regexp.MustCompile(`(?m)^vllm +running \(healthy\) +GET \S+/v1/models +ok +serves ` + regexp.QuoteMeta(model) + `$`),
		regexp.MustCompile(`(?m)^vllm +running \(healthy\) +prometheus scrape job vllm +ok +1/1 targets up`),
		regexp.MustCompile(`(?m)^dcgm-exporter +running +GET \S+/metrics +ok`),
		regexp.MustCompile(`(?m)^dcgm-exporter +running +prometheus scrape job dcgm +ok +1/1 targets up`),
		regexp.MustCompile(`(?m)^prometheus +running \(healthy\) +GET \S+/-/ready +ok`),
	} {
		if !want.MatchString(out) {
			t.Errorf("stack status lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "grafana") {
		t.Errorf("stack status probes Grafana in a stack without it:\n%s", out)
	}

	// The client's exporter listens where host.docker.internal points
	// inside the stack's network (a bridge this engine created), not on
	// every interface.
	hosts, err := exec.CommandContext(ctx, docker, "compose", "-f", filepath.Join(dir, "compose.yaml"), "exec", "-T", "prometheus", "cat", "/etc/hosts").CombinedOutput()
	if err != nil {
		t.Fatalf("reading the prometheus container's /etc/hosts: %v\n%s", err, hosts)
	}
	gateway := regexp.MustCompile(`(?m)^(\S+)\s+host\.docker\.internal`).FindSubmatch(hosts)
	if gateway == nil || net.ParseIP(string(gateway[1])) == nil {
		t.Fatalf("host.docker.internal has no address in the prometheus container's /etc/hosts (an engine without a default bridge needs --host-gateway-ip, see .ci/docker-engine.sh):\n%s", hosts)
	}
	scenario := filepath.Join(t.TempDir(), "stack_test.lua")
	if err := os.WriteFile(scenario, []byte(stackTestScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	run := exec.CommandContext(ctx, binPath, "run", scenario, "--url", "http://127.0.0.1:"+vllmPort,
		"--no-ui", "--log-every", "0", "--out", filepath.Join(t.TempDir(), "results"),
		"--metrics-addr", net.JoinHostPort(string(gateway[1]), clientPort), "--metrics-linger", "60s")
	runOut := startChild(t, run)
	runOut.waitFor(t, ctx, "more (Ctrl-C to stop now)")
	runEnd := time.Now()

	// Through the stack's Prometheus: the run's own series, scraped after
	// it ended, and the server's count of the same tokens.
	promURL := "http://127.0.0.1:" + promPort
	stackWaitFor(t, ctx, promURL, `max(timestamp(llmload_requests_total{outcome="completed"}))`,
		func(ts float64) bool { return ts > float64(runEnd.UnixMilli())/1000 })
	completed := promQueryScalar(t, ctx, promURL, `sum(llmload_requests_total{job="llmload",outcome="completed"})`)
	if completed != 60 {
		t.Errorf("Prometheus has %v completed requests from the run, want 60", completed)
	}
	stackWaitFor(t, ctx, promURL, `sum(vllm:generation_tokens_total{job="vllm"}) - sum(llmload_output_tokens_total{job="llmload"})`,
		func(v float64) bool { return v == 0 })
	if code, out, _ := runStack("status", "--dir", dir); code != exitOK || !regexp.MustCompile(`(?m)^llmload +- +prometheus scrape job llmload +ok`).MatchString(out) {
		t.Errorf("stack status during the run's linger: exit %d, want the llmload job up:\n%s", code, out)
	}
	run.Process.Signal(os.Interrupt)
	if err := runOut.wait(ctx); err != nil {
		t.Errorf("llmload run: %v\n%s", err, runOut.String())
	}

	code, out, errs = runStack("logs", "--dir", dir)
	if code != exitOK {
		t.Fatalf("stack logs: exit %d\n%s", code, errs)
	}
	for svc, line := range map[string]string{
		"vllm":          "stand-in vllm: serve " + model + " --host 0.0.0.0 --port 8000 --max-model-len auto",
		"dcgm-exporter": "llmload sim: serving",
		"prometheus":    "Server is ready to receive web requests",
	} {
		if !regexp.MustCompile(`(?m)^` + svc + `-1 +\| .*` + regexp.QuoteMeta(line)).MatchString(out) {
			t.Errorf("stack logs: no %q from %s:\n%s", line, svc, out)
		}
	}

	if code, out, errs := runStack("down", "--dir", dir, "--volumes"); code != exitOK {
		t.Fatalf("stack down: exit %d\n%s%s", code, out, errs)
	}
	if left := composeLeftovers(t, docker, project); left != "" {
		t.Errorf("after stack down: %s", left)
	}
	if code, out, errs := runStack("down", "--dir", dir); code != exitOK {
		t.Errorf("a second stack down: exit %d\n%s%s", code, out, errs)
	}
}

func stackUnhealthyAgainstEngine(t *testing.T, ctx context.Context, docker, vllmBroken, dcgm, prom string) {
	project := fmt.Sprintf("llmload-e2e-bad-%d", os.Getpid())
	dir := stackProject(t, docker, project, "--model", "llmload/e2e-model",
		"--vllm-image", vllmBroken, "--dcgm-image", dcgm, "--prometheus-image", prom,
		"--port", freePort(t), "--dcgm-port", freePort(t), "--prometheus-port", freePort(t),
		"--client-metrics", "", "--health-start-period", "1s")
	t0 := time.Now()
	code, out, errs := runStack("up", "--dir", dir, "--wait")
	t.Logf("up --wait failed in %s", time.Since(t0).Round(time.Millisecond))
	if code != exitStackFailed {
		t.Fatalf("stack up --wait with an unhealthy vllm: exit %d, want %d\n%s%s", code, exitStackFailed, out, errs)
	}
	for _, want := range []string{
		"service vllm is unhealthy",
		"last healthcheck: exit 1:", // python's urlopen: connection refused
		"llmload sim: serving",      // the service's own last log lines
		"]:8001",                    // where it really listens
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stack up --wait stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "service prometheus") || strings.Contains(errs, "service dcgm-exporter") {
		t.Errorf("healthy services named as failing:\n%s", errs)
	}
	if code, _, errs := runStack("down", "--dir", dir, "--volumes"); code != exitOK {
		t.Errorf("stack down: exit %d\n%s", code, errs)
	}
	if left := composeLeftovers(t, docker, project); left != "" {
		t.Errorf("after stack down: %s", left)
	}
}
