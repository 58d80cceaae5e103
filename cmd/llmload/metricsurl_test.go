package main

import (
	"strings"
	"testing"

	"github.com/llmload/llmload/engine/launch"
)

// TestValidateMetricsURLs: --server-metrics and --gpu-metrics take /metrics
// URLs and Prometheus query API prom+ URLs; a bad one is refused before
// anything is sent, with the flag's name and no secret.
func TestValidateMetricsURLs(t *testing.T) {
	good := launch.Scenario{ServerMetrics: `prom+http://p:9090?selector={namespace="llm",app="vllm"}`,
		GPUMetrics: `prom+http://p:9090?selector={namespace="llm",app="dcgm"},http://g:9400/metrics`}
	if err := validateURLs(&good); err != nil {
		t.Errorf("good URLs refused: %v", err)
	}
	for _, c := range []struct {
		sc   launch.Scenario
		want string
	}{
		{launch.Scenario{ServerMetrics: `prom+http://p:9090`}, "--server-metrics prom+http://p:9090: has no selector"},
		{launch.Scenario{ServerMetrics: "auto", GPUMetrics: `http://g/metrics,prom+http://p:9090?selector={a="b"}&token=s3cret`}, "--gpu-metrics prom+http://p:9090"},
		{launch.Scenario{ServerMetrics: "ftp://m/metrics"}, "--server-metrics"},
	} {
		err := validateURLs(&c.sc)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%+v: error %v, want %q (and no secret)", c.sc.GPUMetrics+c.sc.ServerMetrics, err, c.want)
		}
	}
}
