package accuracy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestQuick100Streams is the regression check of issue 4: 100 streams
// against a simulator in its own process, exactly as `llmload calibrate
// --quick` runs that step. The bound (5 ms mean TTFT error) is generous:
// llmload measures well under 1 ms on a quiet 2-vCPU VM, so only a real
// regression (or a machine too busy to measure anything) breaks it. The
// precise numbers are in docs/performance.md.
func TestQuick100Streams(t *testing.T) {
	steps := []Step{StreamStep(100, 2*time.Second)}
	var progress bytes.Buffer
	rep, err := Run(context.Background(), Options{Steps: steps, SimCommand: testSimCommand, ProbeCommand: testProbeCommand,
		Progress: &progress, Pause: time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	t.Logf("\n%s", table.String())
	s := rep.Steps[0]
	if s.Failed != 0 || s.WrongTokens != 0 {
		t.Fatalf("%d failed, %d with a wrong token count: %v", s.Failed, s.WrongTokens, s.Errors)
	}
	// Requests due in [0, StreamTime + Length] at the step's rate.
	if want := s.Step.planned(); s.Requests != want {
		t.Errorf("requests = %d, want %d", s.Requests, want)
	}
	if s.Measured < 500 {
		t.Errorf("measured = %d, want ~1000 (2 s at 500 req/s)", s.Measured)
	}
	if bad := rep.TTFTRegressions(5 * time.Millisecond); len(bad) > 0 {
		t.Errorf("regression: %v", bad)
	}
	// Sanity of the measurement itself: errors can be negative only by the
	// simulator's 25 us coalescing window, never by a whole ITL.
	if s.TTFTError.Mean < -0.05 {
		t.Errorf("mean TTFT error %v ms: the client measured tokens before the simulator sent them", s.TTFTError.Mean)
	}
	// Every measured request carried the simulator's receipt, and the two
	// halves of the split add up to the error (to rounding).
	sp := s.TTFTSplit
	if sp.ToServer.N != s.Measured || sp.Back.N != s.Measured {
		t.Errorf("TTFT split over %d and %d requests, want %d", sp.ToServer.N, sp.Back.N, s.Measured)
	} else if d := sp.ToServer.Mean + sp.Back.Mean - s.TTFTError.Mean; d > 1e-6 || d < -1e-6 || sp.ToServer.Mean <= 0 {
		t.Errorf("TTFT split %v + %v ms != error %v ms (or the way there is not positive)", sp.ToServer.Mean, sp.Back.Mean, s.TTFTError.Mean)
	}
	if s.ITLError.N != s.Measured*int64(s.Step.Tokens-1) {
		t.Errorf("ITL samples = %d, want %d (tokens-1 per measured request)", s.ITLError.N, s.Measured*int64(s.Step.Tokens-1))
	}
	if s.Sim.Deliveries < s.Requests*int64(s.Step.Tokens)/2 {
		t.Errorf("the simulator timed %d deliveries for %d requests of %d tokens", s.Sim.Deliveries, s.Requests, s.Step.Tokens)
	}
	if runtime.GOOS == "linux" {
		// The probe ran a pinned thread per CPU for the whole step
		// (~2.3 s at one wake-up per 2 ms): even a busy machine runs it
		// hundreds of times, and it must stay cheap.
		if m := s.Machine; !m.Known || m.Wakeups < 500*int64(s.CPUs) || m.ProbeCores <= 0 || m.ProbeCores > 0.1*float64(s.CPUs) {
			t.Errorf("machine stalls not measured: %+v", m)
		}
		if !s.Sim.Matched || s.Sim.Own+s.Sim.DuringStalls != s.Sim.Overruns || s.Sim.Own < 0 {
			t.Errorf("overruns not matched with stalls: %+v", s.Sim)
		}
	}
	if !s.ClientCPUKnown || !s.SimCPUKnown || s.SimCPUSeconds <= 0 || s.ClientCPUSeconds <= 0 {
		t.Errorf("CPU not measured: client %v %vs, sim %v %vs", s.ClientCPUKnown, s.ClientCPUSeconds, s.SimCPUKnown, s.SimCPUSeconds)
	}
	if s.ClientPeakRSS <= 0 || s.SimPeakRSS <= 0 {
		t.Errorf("RSS not measured: client %d, sim %d", s.ClientPeakRSS, s.SimPeakRSS)
	}
	if s.InFlightMean < 80 || s.InFlightMax > 130 {
		t.Errorf("in flight mean %.1f max %d, want ~100", s.InFlightMean, s.InFlightMax)
	}
	if !strings.Contains(progress.String(), "streams=100") {
		t.Errorf("progress does not name the step:\n%s", progress.String())
	}
}

// TestInProcessWritesRunFiles runs a small in-process step with results
// files, as `llmload run` writes them.
func TestInProcessWritesRunFiles(t *testing.T) {
	dir := t.TempDir()
	step := StreamStep(5, 500*time.Millisecond)
	rep, err := Run(context.Background(), Options{Steps: []Step{step}, InProcess: true, OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Steps[0]
	if s.Failed != 0 || s.Completed != s.Requests || s.Requests == 0 {
		t.Fatalf("completed %d of %d: %v", s.Completed, s.Requests, s.Errors)
	}
	if !s.SimInProcess || s.SimCPUKnown {
		t.Errorf("in-process step: SimInProcess %v, SimCPUKnown %v", s.SimInProcess, s.SimCPUKnown)
	}
	if !strings.Contains(strings.Join(s.Notes, "\n"), "in-process") {
		t.Errorf("notes do not warn about the in-process simulator: %q", s.Notes)
	}
	for _, f := range []string{"summary.json", "requests.jsonl", "windows.jsonl"} {
		b, err := os.ReadFile(filepath.Join(dir, "01-streams=5", f))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", f, err, len(b))
		}
	}
	if got := int64(bytes.Count(mustRead(t, filepath.Join(dir, "01-streams=5", "requests.jsonl")), []byte("\n"))); got != s.Requests {
		t.Errorf("requests.jsonl has %d lines, want %d", got, s.Requests)
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Mode  string `json:"mode"`
		Steps []struct {
			Step struct {
				Name  string  `json:"name"`
				ITLms float64 `json:"itl_ms"`
			} `json:"step"`
			TTFT struct {
				N int64 `json:"n"`
			} `json:"ttft_error"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("report JSON: %v\n%s", err, js.String())
	}
	if back.Mode != "in-process" || len(back.Steps) != 1 || back.Steps[0].Step.Name != "streams=5" ||
		back.Steps[0].Step.ITLms != 10 || back.Steps[0].TTFT.N != s.Measured {
		t.Errorf("report JSON does not round-trip: %+v", back)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSimulatorThatNeverServes(t *testing.T) {
	cmd := func([]string) (*exec.Cmd, error) {
		return exec.Command(os.Args[0], "-test.run=^$"), nil // exits at once, printing no URL
	}
	_, err := Run(context.Background(), Options{Steps: []Step{StreamStep(1, time.Second)}, SimCommand: cmd})
	if err == nil || !strings.Contains(err.Error(), "exited before serving") {
		t.Fatalf("err = %v, want the simulator's early exit named", err)
	}
}

func TestRunRejectsBadStep(t *testing.T) {
	s := StreamStep(10, time.Second)
	s.ITL = 0
	_, err := Run(context.Background(), Options{Steps: []Step{s}, InProcess: true})
	if err == nil || !strings.Contains(err.Error(), "streams=10: ITL must be positive") {
		t.Fatalf("err = %v", err)
	}
}
