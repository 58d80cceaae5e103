package observe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/simtest"
	"github.com/llmload/llmload/stack/sim"
)

// startSim serves the real simulator (fixed profile) on loopback.
func startSim(t testing.TB, ttft, itl time.Duration) string {
	cfg := sim.DefaultConfig()
	cfg.Model = "m"
	cfg.Profile = sim.ProfileFixed
	cfg.TTFT, cfg.ITL = ttft, itl
	return simtest.Start(t, cfg)
}

// complete streams one completion and returns usage.completion_tokens.
func complete(t *testing.T, base string, maxTokens int) int {
	t.Helper()
	body := fmt.Sprintf(`{"model":"m","prompt":"a b c d","max_tokens":%d,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`, maxTokens)
	resp, err := http.Post(base+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	tokens := -1
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: "))
		if !ok || string(line) == "[DONE]" {
			continue
		}
		var ev struct {
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		if ev.Usage != nil {
			tokens = ev.Usage.CompletionTokens
		}
	}
	if tokens < 0 {
		t.Fatal("no usage in the stream")
	}
	return tokens
}

// stripEnergy hides the DCGM energy counter, so power must be integrated.
type stripEnergy struct{ f Fetcher }

func (s stripEnergy) Fetch(ctx context.Context, t Target) ([]byte, error) {
	b, err := s.f.Fetch(ctx, t)
	var out []byte
	for line := range bytes.Lines(b) {
		if !bytes.Contains(line, []byte(mEnergy)) {
			out = append(out, line...)
		}
	}
	return out, err
}

// TestAgainstSimulator runs requests one at a time against the real
// simulator and checks the server's counts against the client's and the
// energy against the simulator's power model: 70 W idle and, with one
// request in flight, 70 + 630·(0.3 + 0.7/1024) W.
func TestAgainstSimulator(t *testing.T) {
	base := startSim(t, 10*time.Millisecond, 2*time.Millisecond)
	epoch := time.Now()
	dir := t.TempDir()
	counter, err := Start(Config{Targets: []Target{{Role: "server", URL: base + "/metrics"}}, Epoch: epoch,
		Interval: 500 * time.Millisecond, OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	integrated, err := Start(Config{Targets: []Target{{Role: "server", URL: base + "/metrics"}}, Epoch: epoch,
		Interval: 50 * time.Millisecond, Fetcher: stripEnergy{NewHTTPFetcher()}})
	if err != nil {
		t.Fatal(err)
	}
	const n, maxTokens = 12, 60
	var clientTokens int64
	for range n {
		clientTokens += int64(complete(t, base, maxTokens))
	}
	r, ri := counter.Stop(), integrated.Stop()
	if clientTokens != n*maxTokens {
		t.Fatalf("client counted %d tokens, want %d", clientTokens, n*maxTokens)
	}
	sum := r.Summarize(Client{Completed: n, OutputTokens: clientTokens})
	t.Logf("server: %+v", sum.Server)
	t.Logf("energy: %+v", sum.Energy)
	if !sum.Server.GenerationTokens.OK || int64(sum.Server.GenerationTokens.V) != clientTokens {
		t.Errorf("server generation tokens %v, client %d", sum.Server.GenerationTokens, clientTokens)
	}
	wantV(t, "server requests succeeded", sum.Server.RequestsSucceeded, n)
	wantV(t, "server TTFT ms", sum.Server.MeanTTFTms, 10)
	wantV(t, "server ITL ms", sum.Server.MeanITLms, 2)
	if sum.Energy.Source != "dcgm_energy_counter" || sum.Energy.GPUs != 1 {
		t.Errorf("energy source %q, %d GPUs", sum.Energy.Source, sum.Energy.GPUs)
	}

	const idle = 70.0
	busyW := idle + 630*(0.3+0.7/1024)
	busy := r.E2E.V * r.E2ECount.V // seconds with one request in flight
	want := idle*r.EnergySpan.Seconds() + (busyW-idle)*busy
	e := sum.Energy.EnergyJ
	if !e.OK || math.Abs(e.V-want) > 0.03*want {
		t.Errorf("energy %v J, want %.1f J ± 3%% (%.2f s, %.2f s busy)", e, want, r.EnergySpan.Seconds(), busy)
	}
	jpt := sum.Energy.JPerOutputToken
	if !jpt.OK || jpt.V <= 0 || math.Abs(jpt.V*float64(clientTokens)-e.V) > 1e-6*e.V {
		t.Errorf("J per output token %v", jpt)
	}
	if p := sum.Energy.MeanPowerW; !p.OK || p.V < idle || p.V > busyW {
		t.Errorf("mean power %v W outside [%v, %v]", p, idle, busyW)
	}

	// Without the counter, the trapezoids of 50 ms power samples come close.
	if ri.EnergySource != "integrated_power" || !ri.EnergyJ.OK {
		t.Fatalf("integrated: source %q energy %v", ri.EnergySource, ri.EnergyJ)
	}
	perS := func(r *Report) float64 { return r.EnergyJ.V / r.EnergySpan.Seconds() }
	if d := math.Abs(perS(ri)-perS(r)) / perS(r); d > 0.15 {
		t.Errorf("integrated power %.1f W vs counter %.1f W: %.0f%% apart", perS(ri), perS(r), 100*d)
	}
	if lines := readLines(t, dir); len(lines) < 3 || lines[len(lines)-1]["power_w"] == nil {
		t.Errorf("server.jsonl: %d lines, last %v", len(lines), lines[len(lines)-1])
	}
}

// BenchmarkParseSimMetrics parses one scrape of the simulator's /metrics
// (vLLM's and DCGM's series, ~35 KB) and folds it into the totals.
func BenchmarkParseSimMetrics(b *testing.B) {
	base := startSim(b, time.Millisecond, time.Millisecond)
	body, err := NewHTTPFetcher().Fetch(context.Background(), Target{URL: base + "/metrics"})
	if err != nil {
		b.Fatal(err)
	}
	a := newAccumulator()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		pts, err := parse(body)
		if err != nil {
			b.Fatal(err)
		}
		a.add(time.Duration(i)*time.Second, phaseTick, []scrape{{ok: true, points: pts}})
	}
}
