package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/results/observe"
	"github.com/llmload/llmload/engine/results/record"
	"github.com/llmload/llmload/ui"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fakeSampler stands in for an observe.Observer: the test sets the latest
// scrape.
type fakeSampler struct{ s *observe.Sample }

func (f *fakeSampler) Latest() (*observe.Sample, bool) { return f.s, f.s != nil }

func known(v float64) observe.Value { return observe.Value{V: v, OK: true} }

// fabricatedRun drives a frameBuilder over n seconds of a made-up run
// with injected times: a 5 s window finishes every 5 s, the observer
// scrapes every 2 s, the dashboard asks for a frame every second. gpu
// false is a server without DCGM series. Values are integer arithmetic, so
// the golden screen does not depend on the platform's floating point.
func fabricatedRun(name string, n int, gpu bool) []*ui.Frame {
	b := newFrameBuilder(name, "http://127.0.0.1:8000", "llama", time.Minute)
	obs := &fakeSampler{}
	b.obs = obs
	var windows []*record.Window
	var frames []*ui.Frame
	var released, completed int64
	for sec := 1; sec <= n; sec++ {
		at := time.Duration(sec) * time.Second
		load := int64(10 + (sec%20)*2) // requests per second, a saw
		released += load
		if sec%5 == 0 {
			done := load * 5
			completed += done
			ttft := time.Duration(80+2*(sec%20)) * time.Millisecond
			windows = append(windows, &record.Window{
				Start: at - 5*time.Second, Len: 5 * time.Second, Count: done, Completed: done,
				InputTokens: done * 500, OutputTokens: done * 120,
				TTFT: record.Percentiles{N: done, P50: ttft, P95: 2 * ttft, P99: 3 * ttft, Mean: float64(ttft + 10*time.Millisecond)},
				TPOT: record.Percentiles{N: done, P95: 12 * time.Millisecond},
				E2EL: record.Percentiles{N: done, P95: 1500 * time.Millisecond},
			})
		}
		if sec%2 == 0 {
			s := &observe.Sample{
				T: at - 100*time.Millisecond, DT: 2 * time.Second, Targets: 1,
				Running: known(float64(load)), Waiting: known(float64(sec % 7)),
				KVUsage:       known(float64(20+sec%40) / 100),
				PrefixHitRate: known(float64(sec%10) / 20),
				GenTokensPerS: known(float64(load * 118)),
				TTFT:          known(float64(70+2*(sec%20)) / 1000),
			}
			if gpu {
				power := float64(200 + 10*(sec%40))
				s.PowerW, s.GPUUtilPct = known(power), known(float64(40+sec%50))
				s.JPerGenToken = known(power / float64(load*118))
			}
			obs.s = s
		}
		frames = append(frames, b.frame(runner.Status{
			Elapsed: at, Released: released, Due: released, InFlight: int(load), Total: 20000,
			Snapshot: &record.Snapshot{At: at, Interval: 5 * time.Second, Completed: completed,
				Windows: windows, Current: &record.Window{}},
		}))
	}
	return frames
}

// drawOnce draws f on a w x h simulation screen and returns the text.
func drawOnce(t *testing.T, w, h int, opt ui.Options, publish func(d *ui.Dashboard), keys ...rune) string {
	t.Helper()
	var text string
	synctest.Test(t, func(t *testing.T) {
		scr := tcell.NewSimulationScreen("UTF-8")
		if err := scr.Init(); err != nil {
			t.Fatal(err)
		}
		defer scr.Fini()
		scr.SetSize(w, h)
		d := ui.New(scr, opt, ui.Callbacks{})
		publish(d)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		synctest.Wait()
		for _, k := range keys {
			scr.InjectKey(tcell.KeyRune, k, tcell.ModNone)
			synctest.Wait()
		}
		cells, cw, ch := scr.GetContents()
		var b strings.Builder
		for y := range ch {
			var line strings.Builder
			for x := range cw {
				if c := cells[y*cw+x]; len(c.Runes) > 0 {
					line.WriteRune(c.Runes[0])
				} else {
					line.WriteByte(' ')
				}
			}
			b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
		}
		text = b.String()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return text
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/llmload -run %s -update creates it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("screen differs from %s (go test ./cmd/llmload -run %s -update rewrites it):\n%s", path, t.Name(), got)
	}
}
