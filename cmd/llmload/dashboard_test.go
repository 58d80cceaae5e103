package main

import (
	"testing"

	"github.com/llmload/llmload/engine/threshold"
	"github.com/llmload/llmload/ui"
	"github.com/llmload/llmload/ui/chart"
)

func TestChartThresholds(t *testing.T) {
	var ths []threshold.Threshold
	for _, e := range []string{"ttft p95 < 2s", "tpot p95 <= 50ms", "error_rate < 1%", "request_throughput > 5"} {
		th, err := threshold.Parse(e)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	got := chartThresholds(ths)
	want := map[string]chart.Threshold{
		ui.SeriesTTFTP95: {Warn: 1600, Fail: 2000},
		ui.SeriesTPOTP95: {Warn: 40, Fail: 50},
		ui.SeriesRPS:     {Warn: 6.25, Fail: 5, Below: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: got %+v, want %+v", id, got[id], w)
		}
	}
}
