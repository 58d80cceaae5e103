package main

// `stack init --replicas 2` against the real Docker engine: two vLLM
// stand-ins behind the router, nginx (Debian's, built FROM scratch by
// standInImages), with the nginx.conf the stack renders. Part of
// TestStackAgainstDockerEngine, which builds the images and skips without
// an engine.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// replicasScenario: enough concurrent requests that least_conn sends some to
// each replica, each long enough (100 tokens at the stand-in's 5 ms, after
// its fixed 20 ms TTFT) that a router buffering the stream would deliver
// the first token late.
const replicasScenario = `
local llm = require("llmload")
return llm.scenario {
  name = "stack-replicas",
  source = function(i)
    if i > 40 then return nil end
    return { context_tokens = 200, generated_tokens = 100 }
  end,
  arrivals = llm.arrivals.constant { rate = 20 },
  concurrency = 16,
}
`

const (
	replicasRequests = 40
	standInTTFTms    = 20 // the stand-in vLLM's --ttft (standInVLLM)
)

func stackReplicasAgainstEngine(t *testing.T, ctx context.Context, docker string, img standIns) {
	const model = "llmload/e2e-replicas"
	project := fmt.Sprintf("llmload-e2e-rep-%d", os.Getpid())
	port, promPort := freePort(t), freePort(t)
	dir := stackProject(t, docker, project, "--model", model, "--replicas", "2",
		"--vllm-image", img.vllm, "--dcgm-image", img.dcgm, "--prometheus-image", img.prom, "--router-image", img.router,
		"--port", port, "--dcgm-port", freePort(t), "--prometheus-port", promPort,
		"--client-metrics", "", "--scrape-interval", "1s", "--health-start-period", "60s")
	t0 := time.Now()
	if code, out, errs := runStack("up", "--dir", dir, "--wait"); code != exitOK {
		t.Fatalf("stack up --wait (2 replicas): exit %d\n%s%s", code, out, errs)
	}
	t.Logf("up --wait (2 replicas and the router) in %s", time.Since(t0).Round(time.Millisecond))

	checkStackStatus(t, dir, model, 2)
	lines := runReplicasScenario(t, ctx, "http://127.0.0.1:"+port)
	checkStreamedThroughRouter(t, lines)
	checkBothReplicasServed(t, ctx, "http://127.0.0.1:"+promPort)

	// The router (service vllm) read its rendered nginx.conf without a
	// complaint; each replica got the rendered vllm command.
	code, out, errs := runStack("logs", "--dir", dir)
	if code != exitOK {
		t.Fatalf("stack logs: exit %d\n%s", code, errs)
	}
	if bad := regexp.MustCompile(`(?m)^vllm-1 +\| .*\[(emerg|alert|crit|warn)\].*$`).FindAllString(out, -1); bad != nil {
		t.Errorf("the router's nginx complained:\n%s", strings.Join(bad, "\n"))
	}
	for _, replica := range []string{"vllm-1-1", "vllm-2-1"} {
		if !regexp.MustCompile(`(?m)^` + replica + ` +\| stand-in vllm: serve ` + regexp.QuoteMeta(model)).MatchString(out) {
			t.Errorf("stack logs: no vllm command line from replica %s:\n%s", replica, out)
		}
	}

	stackDownClean(t, docker, dir, project)
}

// runReplicasScenario runs replicasScenario against url and returns its
// requests.jsonl, every request complete.
func runReplicasScenario(t *testing.T, ctx context.Context, url string) []requestLine {
	t.Helper()
	scenario := filepath.Join(t.TempDir(), "replicas.lua")
	if err := os.WriteFile(scenario, []byte(replicasScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(t.TempDir(), "results")
	run, out := llmloadCmd(t, ctx, "run", scenario, "--url", url, "--no-ui", "--log-every", "0", "--out", results)
	if err := run.Run(); err != nil {
		t.Fatalf("llmload run through the router: %v\n%s", err, out)
	}
	s, lines := readResults(t, results)
	checkComplete(t, s, lines, replicasRequests)
	return lines
}

// checkStreamedThroughRouter: the router passes the SSE stream on as it
// comes (proxy_buffering off). A buffering nginx holds the answer until a
// buffer fills or it ends, so the client's first token would come a large
// part of the generation (~500 ms) after the stand-in's fixed TTFT; passed
// through, the median TTFT stays within a generous 100 ms of it.
func checkStreamedThroughRouter(t *testing.T, lines []requestLine) {
	t.Helper()
	var ttft, e2e []float64
	for _, l := range lines {
		if l.TTFTms != nil && l.E2ELms != nil {
			ttft, e2e = append(ttft, *l.TTFTms), append(e2e, *l.E2ELms)
		}
	}
	if len(ttft) != replicasRequests {
		t.Fatalf("requests.jsonl: %d requests with a TTFT and an E2E latency, want %d", len(ttft), replicasRequests)
	}
	slices.Sort(ttft)
	slices.Sort(e2e)
	medTTFT, medE2E := ttft[len(ttft)/2], e2e[len(e2e)/2]
	t.Logf("through the router: median TTFT %.1f ms (stand-in: %d ms), median E2E %.1f ms", medTTFT, standInTTFTms, medE2E)
	if medTTFT < standInTTFTms || medTTFT > standInTTFTms+100 || medTTFT > medE2E/4 {
		t.Errorf("median TTFT through the router %.1f ms, want %d to %d ms and under a quarter of the median E2E (%.1f ms): the router buffers the stream?",
			medTTFT, standInTTFTms, standInTTFTms+100, medE2E)
	}
}

// checkBothReplicasServed asks the stack's Prometheus, by instance as the
// dashboard's replica drill-down does, how many requests each replica
// finished and whether the recorded per-replica generation rate saw both.
func checkBothReplicasServed(t *testing.T, ctx context.Context, promURL string) {
	t.Helper()
	stackWaitFor(t, ctx, promURL, `sum(vllm:request_success_total{job="vllm"})`,
		func(v float64) bool { return v == replicasRequests })
	byInstance := promQueryBy(t, ctx, promURL, `sum by (instance) (vllm:request_success_total{job="vllm"})`, "instance")
	t.Logf("requests finished by replica: %v", byInstance)
	if len(byInstance) != 2 {
		t.Fatalf("vllm:request_success_total by instance: %v, want the two replicas", byInstance)
	}
	for instance, n := range byInstance {
		if n == 0 {
			t.Fatalf("replica %s finished no request (by instance: %v): the router sent everything to one", instance, byInstance)
		}
	}
	// The recording rule the dashboard's per-replica token panel reads.
	stackWaitFor(t, ctx, promURL, `count(max_over_time(instance_model_name:vllm_generation_tokens:rate[5m]) > 0)`,
		func(v float64) bool { return v == 2 })
}
