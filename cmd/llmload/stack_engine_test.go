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
//     busybox-based too);
//   - router (nginx:alpine, --replicas above 1): Debian's nginx binary with
//     its libraries and a static busybox for the healthcheck's wget; it runs
//     the rendered router/nginx.conf (stack_replicas_test.go).
//
// Grafana is not available here: the stack is rendered with --grafana=false.
// The engine is the one DOCKER_HOST names; .ci/run starts one
// (.ci/docker-engine.sh). Without docker, the compose plugin or a reachable
// engine the test skips, unless CI=true.

import (
	"context"
	"fmt"
	"net"
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
	img := standInImages(t, ctx, docker, t.TempDir())
	t.Logf("stand-in images built in %s", time.Since(t0).Round(time.Millisecond))

	// The unhealthy stack spends its time waiting for three failed
	// healthchecks; the healthy one and then the two replicas come up
	// meanwhile (two at a time: -parallel is GOMAXPROCS, 2 here).
	t.Run("stacks", func(t *testing.T) {
		t.Run("unhealthy", func(t *testing.T) {
			t.Parallel()
			stackUnhealthyAgainstEngine(t, ctx, docker, img)
		})
		t.Run("up", func(t *testing.T) {
			t.Parallel()
			t.Run("healthy", func(t *testing.T) { stackHealthyAgainstEngine(t, ctx, docker, img) })
			t.Run("replicas", func(t *testing.T) { stackReplicasAgainstEngine(t, ctx, docker, img) })
		})
	})
	t.Logf("done in %s", time.Since(t0).Round(time.Millisecond))
}

func stackHealthyAgainstEngine(t *testing.T, ctx context.Context, docker string, img standIns) {
	const model = "llmload/e2e-model"
	project := fmt.Sprintf("llmload-e2e-%d", os.Getpid())
	vllmPort, dcgmPort, promPort, clientPort := freePort(t), freePort(t), freePort(t), freePort(t)
	dir := stackProject(t, docker, project, "--model", model,
		"--vllm-image", img.vllm, "--dcgm-image", img.dcgm, "--prometheus-image", img.prom,
		"--port", vllmPort, "--dcgm-port", dcgmPort, "--prometheus-port", promPort,
		"--client-metrics", "host.docker.internal:"+clientPort, "--scrape-interval", "1s",
		"--health-start-period", "60s")
	t0 := time.Now()
	if code, out, errs := runStack("up", "--dir", dir, "--wait"); code != exitOK {
		t.Fatalf("stack up --wait: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("up --wait in %s", time.Since(t0).Round(time.Millisecond))

	checkStackStatus(t, dir, model, 1)
	runThroughStack(t, ctx, docker, dir, vllmPort, promPort, clientPort)

	code, out, errs := runStack("logs", "--dir", dir)
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

	stackDownClean(t, docker, dir, project)
	if code, out, errs := runStack("down", "--dir", dir); code != exitOK {
		t.Errorf("a second stack down: exit %d\n%s%s", code, out, errs)
	}
}

func stackUnhealthyAgainstEngine(t *testing.T, ctx context.Context, docker string, img standIns) {
	project := fmt.Sprintf("llmload-e2e-bad-%d", os.Getpid())
	dir := stackProject(t, docker, project, "--model", "llmload/e2e-model",
		"--vllm-image", img.vllmBroken, "--dcgm-image", img.dcgm, "--prometheus-image", img.prom,
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
	stackDownClean(t, docker, dir, project)
}

// stackDownClean runs `stack down --volumes` and checks that it left no
// container, network or volume of the project.
func stackDownClean(t *testing.T, docker, dir, project string) {
	t.Helper()
	if code, out, errs := runStack("down", "--dir", dir, "--volumes"); code != exitOK {
		t.Fatalf("stack down: exit %d\n%s%s", code, out, errs)
	}
	if left := composeLeftovers(t, docker, project); left != "" {
		t.Errorf("after stack down: %s", left)
	}
}

// checkStackStatus: every service healthy, the model served, the
// Prometheus targets up, and no Grafana probe in a stack without it. With
// replicas above 1, vllm is the router and each replica's container has a
// row of its own.
func checkStackStatus(t *testing.T, dir, model string, replicas int) {
	t.Helper()
	code, out, errs := runStack("status", "--dir", dir)
	if code != exitOK {
		t.Fatalf("stack status: exit %d\n%s%s", code, out, errs)
	}
	wants := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^vllm +running \(healthy\) +GET \S+/health +ok`),
		regexp.MustCompile(`(?m)^vllm +running \(healthy\) +GET \S+/v1/models +ok +serves ` + regexp.QuoteMeta(model) + `$`),
		regexp.MustCompile(fmt.Sprintf(`(?m)^vllm +running \(healthy\) +prometheus scrape job vllm +ok +%d/%d targets up`, replicas, replicas)),
		regexp.MustCompile(`(?m)^dcgm-exporter +running +GET \S+/metrics +ok`),
		regexp.MustCompile(`(?m)^dcgm-exporter +running +prometheus scrape job dcgm +ok +1/1 targets up`),
		regexp.MustCompile(`(?m)^prometheus +running \(healthy\) +GET \S+/-/ready +ok`),
	}
	for i := 1; replicas > 1 && i <= replicas; i++ {
		wants = append(wants, regexp.MustCompile(fmt.Sprintf(`(?m)^vllm-%d +running \(healthy\) +container +ok`, i)))
	}
	for _, want := range wants {
		if !want.MatchString(out) {
			t.Errorf("stack status lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "grafana") {
		t.Errorf("stack status probes Grafana in a stack without it:\n%s", out)
	}

}

// runThroughStack runs llmload against the stack's vLLM with its exporter
// where the stack's Prometheus scrapes it, and checks through that
// Prometheus the run's series and the server's count of the same tokens.
func runThroughStack(t *testing.T, ctx context.Context, docker, dir, vllmPort, promPort, clientPort string) {
	t.Helper()
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

}
