package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

// TestRunMetricsPrometheus runs a two-scenario `llmload run --metrics-addr`
// against the built-in simulator while a real Prometheus (Debian's
// `prometheus` package; .ci/run installs it) scrapes it every second, then
// checks through Prometheus' HTTP API that what Prometheus stored equals
// what the run wrote to summary.json, per scenario. The run lingers
// (--metrics-linger) until Prometheus has the final counts, and a Ctrl-C
// ends the linger without changing the exit code.
func TestRunMetricsPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and a run; skipped with -short")
	}
	promBin := testenv.Tool(t, "prometheus")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	targets := filepath.Join(dir, "targets.json")
	metricsWriteTargets(t, targets, "")
	promURL := metricsStartPrometheus(t, ctx, promBin, dir, targets)

	out := filepath.Join(dir, "results")
	cmd := exec.CommandContext(ctx, binPath, "run", "scenarios/azure_mixed.lua", "--limit", "15", "--speedup", "20",
		"--no-ui", "--sim-profile", "fixed", "--sim-ttft", "5ms", "--sim-itl", "1ms", "--log-every", "0",
		"--out", out, "--metrics-addr", "127.0.0.1:0", "--metrics-linger", "30s")
	cmd.Dir = testenv.ModuleRoot(t)
	lines := startChild(t, cmd)

	// The exporter's address, printed before the run starts: point
	// Prometheus at it (file_sd picks the file up at once).
	metricsURL := lines.waitFor(t, ctx, "metrics: http://")
	u, err := url.Parse(strings.Fields(strings.TrimPrefix(metricsURL, "metrics: "))[0])
	if err != nil {
		t.Fatalf("metrics line %q: %v", metricsURL, err)
	}
	metricsWriteTargets(t, targets, u.Host)
	// The linger line comes after the results are written.
	lines.waitFor(t, ctx, "more (Ctrl-C to stop now)")

	want := metricsWaitScraped(t, ctx, promURL, out, lines)
	metricsCheckSeries(t, ctx, promURL, want)

	// Ctrl-C ends the linger at once; the run's exit code stays 0.
	start := time.Now()
	cmd.Process.Signal(os.Interrupt)
	if err := lines.wait(ctx); err != nil {
		t.Fatalf("llmload run after Ctrl-C in the linger: %v\n%s", err, lines.String())
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("Ctrl-C took %s to end the linger", el)
	}
	if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		c.Close()
		t.Errorf("metrics server %s still up after the run exited", u.Host)
	}
}

// TestRunMetricsAddrErrors checks that a bad or busy --metrics-addr stops
// the run before it sends anything, with exit code 2 and a message that
// names the flag.
func TestRunMetricsAddrErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// llmload.toml's metrics_addr is the same setting: its busy address
	// must stop the run the same way.
	toml := filepath.Join(t.TempDir(), "llmload.toml")
	if err := os.WriteFile(toml, []byte(fmt.Sprintf("metrics_addr = %q\n", busy.Addr().String())), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ args []string }{
		{[]string{"--metrics-addr", busy.Addr().String()}},
		{[]string{"--metrics-addr", "9464"}},
		{[]string{"--metrics-linger", "5s"}},
		{[]string{"--config", toml}},
	} {
		args := append([]string{"run", "scenarios/azure_conv.lua", "--limit", "1", "--no-ui", "--out", t.TempDir()}, tc.args...)
		log, err := runLLMLoad(t, ctx, args...)
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != exitConfig || !strings.Contains(log, "--metrics-addr") || strings.Contains(log, "results:") {
			t.Errorf("llmload %s: %v, want exit %d naming --metrics-addr before any run:\n%s", strings.Join(args, " "), err, exitConfig, log)
		}
	}
}

// metricsSummary is what the Prometheus test reads from summary.json.
type metricsSummary struct {
	summaryFile
	GoodRequests int64 `json:"good_requests"`
	ITLCount     int64 `json:"itl_count"`
}

// metricsStartPrometheus writes a config with a 1 s scrape of the targets
// in targets (file_sd) and runs the real Prometheus with it, returning its
// URL once it is ready.
func metricsStartPrometheus(t *testing.T, ctx context.Context, bin, dir, targets string) string {
	t.Helper()
	cfg := filepath.Join(dir, "prometheus.yml")
	yml := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: llmload
    file_sd_configs:
      - files: [%q]
        refresh_interval: 1s
`, targets)
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return startPrometheus(t, ctx, bin, cfg, filepath.Join(dir, "tsdb"))
}

// metricsWriteTargets replaces the file_sd file atomically (Prometheus may read
// it at any moment); host "" means no target yet.
func metricsWriteTargets(t *testing.T, path, host string) {
	t.Helper()
	body := "[]"
	if host != "" {
		body = fmt.Sprintf(`[{"targets": [%q]}]`, host)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// metricsWaitScraped reads each scenario's summary.json and waits until
// Prometheus has scraped the same completed counts.
func metricsWaitScraped(t *testing.T, ctx context.Context, promURL, out string, lines *childProcess) map[string]metricsSummary {
	t.Helper()
	want := map[string]metricsSummary{}
	for _, sc := range []string{"code", "conv"} {
		var s metricsSummary
		b, err := os.ReadFile(filepath.Join(out, sc, "summary.json"))
		if err == nil {
			err = json.Unmarshal(b, &s)
		}
		if err != nil || s.Completed == 0 {
			t.Fatalf("scenario %s: summary.json: %v, completed %d\n%s", sc, err, s.Completed, lines.String())
		}
		want[sc] = s
	}
	// Poll until Prometheus has scraped the final counts (or ctx ends).
	completed := map[string]float64{}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; {
		completed = promQueryBy(t, ctx, promURL, `llmload_requests_total{outcome="completed"}`, "scenario")
		if completed["code"] == float64(want["code"].Completed) && completed["conv"] == float64(want["conv"].Completed) {
			break
		}
		time.Sleep(200 * time.Millisecond) // poll interval of an external process, not a timing assumption
	}
	for sc, s := range want {
		if completed[sc] != float64(s.Completed) {
			t.Fatalf("Prometheus has llmload_requests_total{outcome=completed,scenario=%s} %v, summary.json completed %d\n%s",
				sc, completed[sc], s.Completed, lines.String())
		}
	}
	return want
}

// metricsCheckSeries compares the exporter's series, as Prometheus
// stored them, with each scenario's summary.json.
func metricsCheckSeries(t *testing.T, ctx context.Context, promURL string, want map[string]metricsSummary) {
	t.Helper()
	checks := []struct {
		query string
		want  func(metricsSummary) float64
	}{
		{`llmload_output_tokens_total`, func(s metricsSummary) float64 { return float64(s.TotalOutputTokens) }},
		{`llmload_input_tokens_total`, func(s metricsSummary) float64 { return float64(s.TotalInputTokens) }},
		{`llmload_ttft_seconds_count`, func(s metricsSummary) float64 { return float64(s.Completed) }},
		{`llmload_itl_seconds_count`, func(s metricsSummary) float64 { return float64(s.ITLCount) }},
		{`llmload_good_requests_total`, func(s metricsSummary) float64 { return float64(s.GoodRequests) }},
		{`sum by (scenario) (llmload_requests_total{outcome=~"failed|dropped"})`, func(s metricsSummary) float64 { return float64(s.Failed) }},
		{`llmload_info{version!="",model!="",url=~"http://127.0.0.1:.*"}`, func(metricsSummary) float64 { return 1 }},
		{`llmload_requests_in_flight + llmload_requests_queued`, func(metricsSummary) float64 { return 0 }},
	}
	for _, c := range checks {
		got := promQueryBy(t, ctx, promURL, c.query, "scenario")
		for sc, s := range want {
			if v, ok := got[sc]; !ok || v != c.want(s) {
				t.Errorf("%s{scenario=%s} = %v (present %v), want %v", c.query, sc, v, ok, c.want(s))
			}
		}
	}
	if up := promQueryBy(t, ctx, promURL, `up{job="llmload"}`, "scenario"); len(up) != 1 || up[""] != 1 {
		t.Errorf("up{job=llmload} = %v, want one target, up", up)
	}
	// Mean TTFT from the histogram's sum and count equals the summary's.
	for sc, s := range want {
		mean := promQueryBy(t, ctx, promURL, `llmload_ttft_seconds_sum / llmload_ttft_seconds_count`, "scenario")[sc] * 1000
		if d := mean - s.MeanTTFTms; d > 0.001 || d < -0.001 {
			t.Errorf("scenario %s: mean TTFT %.4f ms in Prometheus, %.4f ms in summary.json", sc, mean, s.MeanTTFTms)
		}
	}
}
