package observe

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeFetcher serves a counter that grows by 100 tokens per second of the
// (fake) clock, and fails or hangs where told.
type fakeFetcher struct {
	start time.Time
	mu    sync.Mutex
	calls map[string]int
	fail  func(url string, call int) error
	hang  func(url string, call int) bool
}

func (f *fakeFetcher) Fetch(ctx context.Context, t Target) ([]byte, error) {
	f.mu.Lock()
	f.calls[t.URL]++
	n := f.calls[t.URL]
	f.mu.Unlock()
	if f.hang != nil && f.hang(t.URL, n) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.fail != nil {
		if err := f.fail(t.URL, n); err != nil {
			return nil, err
		}
	}
	el := time.Since(f.start).Seconds()
	return fmt.Appendf(nil, "vllm:generation_tokens_total %g\nDCGM_FI_DEV_POWER_USAGE{UUID=\"GPU-%s\"} 100\nDCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{UUID=\"GPU-%s\"} %g\n",
		100*el, t.URL, t.URL, 100e3*el), nil
}

func readLines(t *testing.T, dir string) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, ServerFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s line %d: %v", ServerFile, len(out)+1, err)
		}
		out = append(out, m)
	}
	return out
}

func TestObserverTicksOnTheRunGrid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		f := &fakeFetcher{start: time.Now(), calls: map[string]int{}}
		epoch := time.Now().Add(200 * time.Millisecond)
		o, err := Start(Config{Targets: []Target{{Role: "server", URL: "a"}}, Epoch: epoch,
			Interval: time.Second, OutDir: dir, Fetcher: f})
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := o.Latest(); !ok || s.T != -200*time.Millisecond {
			t.Fatalf("baseline sample %+v %v, want one at -200ms", s, ok)
		}
		time.Sleep(3500 * time.Millisecond)
		s, _ := o.Latest()
		if s.T != 3*time.Second || s.DT != time.Second {
			t.Errorf("latest at %v (dt %v), want 3s (1s)", s.T, s.DT)
		}
		wantV(t, "generation tokens in one second", s.GenerationTokens, 100)
		wantV(t, "generation tokens/s", s.GenTokensPerS, 100)
		wantV(t, "energy J in one second", s.EnergyJ, 100)
		r := o.Stop()
		if r != o.Stop() {
			t.Error("Stop is not idempotent")
		}
		// Baseline at -0.2 s, ticks at 1, 2, 3 s, final at 3.3 s.
		lines := readLines(t, dir)
		var ts []float64
		for _, l := range lines {
			ts = append(ts, l["t_s"].(float64))
		}
		if fmt.Sprint(ts) != "[-0.2 1 2 3 3.3]" {
			t.Errorf("scrape times %v", ts)
		}
		if r.Rounds != 5 || r.Failures != 0 {
			t.Errorf("rounds %d failures %d", r.Rounds, r.Failures)
		}
		wantV(t, "run generation tokens", r.GenerationTokens, 350)
		wantV(t, "run energy", r.EnergyJ, 350)
		wantV(t, "mean power", r.MeanPowerW, 100)
	})
}

func TestObserverCountsFailuresAndNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeFetcher{start: time.Now(), calls: map[string]int{},
			fail: func(url string, n int) error {
				if url == "gpu" && n == 3 {
					return errors.New("connection refused")
				}
				return nil
			},
			// The server's third scrape hangs until the timeout.
			hang: func(url string, n int) bool { return url == "server" && n == 3 },
		}
		var log strings.Builder
		o, err := Start(Config{Targets: []Target{{Role: "server", URL: "server"}, {Role: "gpu", URL: "gpu"}},
			Epoch: time.Now(), Interval: time.Second, Timeout: 1500 * time.Millisecond, Fetcher: f, Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		// The hung scrape (started at 2 s) ends at 3.5 s; the 3 s tick is
		// skipped, the next one is at 4 s.
		time.Sleep(4500 * time.Millisecond)
		r := o.Stop()
		if r.Failures != 2 {
			t.Errorf("failures %d, want 2", r.Failures)
		}
		if !strings.Contains(r.FirstError, "at 2.0s") {
			t.Errorf("first error %q", r.FirstError)
		}
		if log.Len() != 0 {
			t.Errorf("failures are reported at the end, not logged: %q", log.String())
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.calls["server"] != 5 { // baseline, 1 s, 2 s (hung), 4 s, final
			t.Errorf("server scraped %d times, want 5", f.calls["server"])
		}
		// Two GPUs of 100 W for 4.5 s: the energy counters span the failed
		// scrapes, so nothing is lost.
		wantV(t, "run energy", r.EnergyJ, 900)
	})
}

func TestObserverDisables404(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	var log strings.Builder
	o, err := Start(Config{Targets: []Target{{Role: "server", URL: srv.URL + "/metrics"}},
		Epoch: time.Now(), Interval: 100 * time.Millisecond, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	r := o.Stop()
	if n := strings.Count(log.String(), "\n"); n != 1 || !strings.Contains(log.String(), "404") ||
		!strings.Contains(log.String(), "--server-metrics") {
		t.Errorf("want one line naming the 404 and the flag, got %q", log.String())
	}
	sum := r.Summarize(Client{})
	if sum.Server.Status != "unavailable" || len(sum.Server.Notes) != 1 || r.Failures != 0 {
		t.Errorf("summary %+v", sum.Server)
	}
	var b strings.Builder
	sum.WriteTable(&b)
	if !strings.Contains(b.String(), "no scrape succeeded") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestObserverLatestIsSafeConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeFetcher{start: time.Now(), calls: map[string]int{}}
		o, err := Start(Config{Targets: []Target{{Role: "server", URL: "a"}}, Epoch: time.Now(),
			Interval: 100 * time.Millisecond, Fetcher: f})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				var last time.Duration = -1
				for range 50 {
					s, ok := o.Latest()
					if !ok || s.T < last {
						t.Errorf("Latest went back: %v after %v", s.T, last)
						return
					}
					last = s.T
					time.Sleep(30 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		o.Stop()
	})
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(Config{Targets: []Target{{URL: "x"}}}); err == nil || !strings.Contains(err.Error(), "Epoch") {
		t.Errorf("no epoch: %v", err)
	}
	if _, err := Start(Config{Epoch: time.Now()}); err == nil {
		t.Error("no target: no error")
	}
}
