package observe

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// peakyGPU reads like a GPU whose power peaks between scrapes: the power
// gauge, sampled at each scrape, says 50 W, while the energy counter (mJ)
// grows at 200 W on average, and at 400 W in every third second.
type peakyGPU struct{ start time.Time }

func (g peakyGPU) Fetch(ctx context.Context, t Target) ([]byte, error) {
	el := time.Since(g.start).Seconds()
	whole := float64(int(el))
	// 200 J per second, plus 200 J more in seconds 3, 6, 9, ...
	e := 200e3*el + 200e3*float64(int(whole/3))
	return fmt.Appendf(nil, "DCGM_FI_DEV_POWER_USAGE{UUID=\"GPU-0\"} 50\nDCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{UUID=\"GPU-0\"} %g\n", e), nil
}

// TestMeanPowerNeverAboveMax: the run's mean power, from the energy
// counter, must not exceed its maximum power.
func TestMeanPowerNeverAboveMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o, err := Start(Config{Targets: []Target{{Role: "gpu", URL: "g"}}, Epoch: time.Now(),
			Interval: time.Second, Fetcher: peakyGPU{start: time.Now()}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(9500 * time.Millisecond)
		r := o.Stop()
		if !r.MeanPowerW.OK || !r.MaxPowerW.OK {
			t.Fatalf("mean %v, max %v: want both", r.MeanPowerW, r.MaxPowerW)
		}
		if r.MeanPowerW.V > r.MaxPowerW.V {
			t.Errorf("mean power %g W > max power %g W", r.MeanPowerW.V, r.MaxPowerW.V)
		}
		if r.MeanPowerW.V <= 200 {
			t.Errorf("mean power %g W: the peaks are lost", r.MeanPowerW.V)
		}
		// The interval that holds a 400 W second is the maximum.
		if r.MaxPowerW.V != 400 {
			t.Errorf("max power %g W, want 400 (the peak interval's mean)", r.MaxPowerW.V)
		}
	})
}

// TestGPUsFilterMatchingNone: a --gpu-ids that names no GPU the exporter
// reports is noted once (not read silently as zero energy).
func TestGPUsFilterMatchingNone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log strings.Builder
		o, err := Start(Config{Targets: []Target{{Role: "gpu", URL: "http://node:9400/metrics", GPUs: []string{"3"}}},
			Epoch: time.Now(), Interval: time.Second, Fetcher: nodeOfTwo{start: time.Now()}, Log: &log})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3500 * time.Millisecond)
		r := o.Stop()
		if r.GPUs != 0 || r.EnergySource != "none" {
			t.Errorf("%d GPUs, energy from %s; want none counted", r.GPUs, r.EnergySource)
		}
		if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "--gpu-ids 3 matches none") {
			t.Fatalf("notes %q, want one saying --gpu-ids 3 matches none", r.Notes)
		}
		if strings.Count(log.String(), "matches none") != 1 {
			t.Errorf("log %q: want the note once", log.String())
		}
	})
}

// nodeOfTwo reads like a DCGM exporter on a node of two GPUs: gpu 0 (the
// server's) draws 300 W, gpu 1 (idle) 60 W, both as the energy counter.
type nodeOfTwo struct{ start time.Time }

func (g nodeOfTwo) Fetch(ctx context.Context, t Target) ([]byte, error) {
	el := time.Since(g.start).Seconds()
	return fmt.Appendf(nil, `DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-aa"} 300
DCGM_FI_DEV_POWER_USAGE{gpu="1",UUID="GPU-bb"} 60
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu="0",UUID="GPU-aa"} %g
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu="1",UUID="GPU-bb"} %g
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-aa"} 100
DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-bb"} 0
`, 300e3*el, 60e3*el), nil
}

// TestGPUsFilter: with Target.GPUs the energy, power, utilization and GPU
// count are those of the listed GPUs only (by gpu label or UUID), not the
// node's; without it, every GPU counts.
func TestGPUsFilter(t *testing.T) {
	for _, c := range []struct {
		name  string
		gpus  []string
		n     int
		power float64
		util  float64
	}{
		{"all", nil, 2, 360, 50},
		{"gpu label", []string{"0"}, 1, 300, 100},
		{"UUID", []string{"GPU-bb"}, 1, 60, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o, err := Start(Config{Targets: []Target{{Role: "gpu", URL: "g", GPUs: c.gpus}}, Epoch: time.Now(),
					Interval: time.Second, Fetcher: nodeOfTwo{start: time.Now()}})
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(5500 * time.Millisecond)
				r := o.Stop()
				if r.GPUs != c.n {
					t.Errorf("%d GPUs, want %d", r.GPUs, c.n)
				}
				if !r.MeanPowerW.OK || r.MeanPowerW.V != c.power {
					t.Errorf("mean power %v, want %g W", r.MeanPowerW, c.power)
				}
				if !r.EnergyJ.OK || r.EnergyJ.V != c.power*r.EnergySpan.Seconds() {
					t.Errorf("energy %v over %s, want %g W worth", r.EnergyJ, r.EnergySpan, c.power)
				}
				if !r.MeanGPUUtilPct.OK || r.MeanGPUUtilPct.V != c.util {
					t.Errorf("utilization %v, want %g%%", r.MeanGPUUtilPct, c.util)
				}
				// summary.json says which GPUs were counted.
				if got := r.Summarize(Client{}).Energy.GPUIDs; !slices.Equal(got, c.gpus) {
					t.Errorf("summary gpu_ids %q, want %q", got, c.gpus)
				}
				if len(r.Notes) != 0 {
					t.Errorf("notes %q, want none", r.Notes)
				}
			})
		})
	}
}
