package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

// These tests build the real binary and drive it the way a user does:
// `llmload run` against the built-in simulator and against a separately
// started `llmload sim`, then read the results files.

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "llmload-e2e")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "llmload")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building llmload:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type summaryFile struct {
	Completed         int     `json:"completed"`
	Failed            int     `json:"failed"`
	TotalInputTokens  int64   `json:"total_input_tokens"`
	TotalOutputTokens int64   `json:"total_output_tokens"`
	MeanTTFTms        float64 `json:"mean_ttft_ms"`
	MeanITLms         float64 `json:"mean_itl_ms"`
	MeanTPOTms        float64 `json:"mean_tpot_ms"`
	WarmupExcluded    int     `json:"warmup_excluded"`
}

type requestLine struct {
	Seq              int64    `json:"seq"`
	Error            string   `json:"error"`
	CompletionTokens int      `json:"completion_tokens"`
	UsageFromServer  bool     `json:"usage_from_server"`
	MaxTokens        int      `json:"max_tokens"`
	Truncated        bool     `json:"truncated"`
	TTFTms           *float64 `json:"ttft_ms"`
	E2ELms           *float64 `json:"e2el_ms"`
}

// runLLMLoad runs the binary from the module root (scenario paths are
// relative to it) and returns its combined output.
func runLLMLoad(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	cmd, out := llmloadCmd(t, ctx, args...)
	err := cmd.Run()
	return out.String(), err
}

// llmloadCmd is the binary run from the module root, its stdout and
// stderr combined in out.
func llmloadCmd(t *testing.T, ctx context.Context, args ...string) (cmd *exec.Cmd, out *bytes.Buffer) {
	t.Helper()
	cmd = exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = testenv.ModuleRoot(t)
	out = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}

func readResults(t *testing.T, dir string) (summaryFile, []requestLine) {
	t.Helper()
	var s summaryFile
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	f, err := os.Open(filepath.Join(dir, "requests.jsonl"))
	if err != nil {
		t.Fatalf("requests.jsonl: %v", err)
	}
	defer f.Close()
	var lines []requestLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var l requestLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("requests.jsonl line %d: %v", len(lines)+1, err)
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return s, lines
}

// checkComplete asserts every request succeeded with the exact output
// length asked for, and that the summary's token total is the server's.
func checkComplete(t *testing.T, s summaryFile, lines []requestLine, want int) {
	t.Helper()
	if s.Completed != want || s.Failed != 0 {
		t.Fatalf("completed %d failed %d, want %d and 0", s.Completed, s.Failed, want)
	}
	if len(lines) != want {
		t.Fatalf("requests.jsonl has %d lines, want %d", len(lines), want)
	}
	var tokens int64
	for _, l := range lines {
		if l.Error != "" || !l.UsageFromServer || l.Truncated || l.CompletionTokens != l.MaxTokens {
			t.Fatalf("request %d: %+v", l.Seq, l)
		}
		tokens += int64(l.CompletionTokens)
	}
	if s.TotalOutputTokens != tokens {
		t.Fatalf("summary total_output_tokens %d != sum of server usage %d", s.TotalOutputTokens, tokens)
	}
}

func TestRunSyntheticDefault(t *testing.T) {
	// The fresh-clone path: no ../shared, no --url, synthetic source.
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log, err := runLLMLoad(t, ctx, "run", "scenarios/azure_conv.lua", "--limit", "60", "--speedup", "20",
		"--concurrency", "32", "--sim-profile", "fixed", "--sim-ttft", "20ms", "--sim-itl", "2ms", "--out", out, "--log-every", "0.5")
	if err != nil {
		t.Fatalf("llmload run: %v\n%s", err, log)
	}
	s, lines := readResults(t, out)
	checkComplete(t, s, lines, 60)
	if !strings.Contains(log, "built-in simulator") {
		t.Fatalf("no mention of the built-in simulator:\n%s", log)
	}
}

func TestRunAzureConvBuiltinSim(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run of 2000 requests; skipped with -short")
	}
	csv := testenv.SharedData(t, "azure2023/AzureLLMInferenceTrace_conv.csv")
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	log, err := runLLMLoad(t, ctx, "run", "scenarios/azure_conv.lua", "--csv", csv, "--limit", "2000",
		"--speedup", "60", "--concurrency", "256", "--out", out, "--log-every", "5")
	if err != nil {
		t.Fatalf("llmload run: %v\n%s", err, log)
	}
	s, lines := readResults(t, out)
	checkComplete(t, s, lines, 2000)
}

func TestRunAzureConvFixedSimAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end accuracy run of 2000 requests; skipped with -short")
	}
	csv := testenv.SharedData(t, "azure2023/AzureLLMInferenceTrace_conv.csv")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	url := startSim(t, ctx, "--profile", "fixed", "--ttft", "50ms", "--itl", "10ms")

	out := t.TempDir()
	log, err := runLLMLoad(t, ctx, "run", "scenarios/azure_conv.lua", "--csv", csv, "--limit", "2000",
		"--speedup", "60", "--concurrency", "64", "--url", url+"/v1/chat/completions", "--out", out, "--log-every", "5")
	if err != nil {
		t.Fatalf("llmload run: %v\n%s", err, log)
	}
	s, lines := readResults(t, out)
	checkComplete(t, s, lines, 2000)
	t.Logf("mean TTFT %.3f ms, mean ITL %.3f ms, mean TPOT %.3f ms", s.MeanTTFTms, s.MeanITLms, s.MeanTPOTms)
	if math.Abs(s.MeanTTFTms-50) > 3 {
		t.Errorf("mean TTFT %.3f ms, want 50 ± 3 ms", s.MeanTTFTms)
	}
	if math.Abs(s.MeanITLms-10) > 1 {
		t.Errorf("mean ITL %.3f ms, want 10 ± 1 ms", s.MeanITLms)
	}
}

var listening = regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`)

// startSim starts `llmload sim` on a free loopback port and returns its URL.
func startSim(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, binPath, append([]string{"sim", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	r := bufio.NewReader(stdout)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("llmload sim said nothing: %v", err)
	}
	m := listening.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("llmload sim: unexpected first line %q", line)
	}
	go io.Copy(io.Discard, r)
	return m[1]
}
