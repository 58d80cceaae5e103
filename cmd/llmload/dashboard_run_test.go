package main

import (
	"strings"
	"testing"

	"github.com/llmload/llmload/engine/results/threshold"
	"github.com/llmload/llmload/ui"
)

func TestDashboardScenarios(t *testing.T) {
	ths := func(exprs ...string) []threshold.Threshold {
		var out []threshold.Threshold
		for _, e := range exprs {
			th, err := threshold.Parse(e)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, th)
		}
		return out
	}
	one := []dashScenario{{name: "a", thresholds: ths("ttft p95 < 1s")}}
	if opt := dashboardScenarios(one); opt.Scenarios != nil || opt.Thresholds[ui.SeriesTTFTP95].Fail != 1000 {
		t.Errorf("one scenario: %+v", opt)
	}
	two := []dashScenario{
		{name: "code", thresholds: ths("ttft p95 < 2s"), observed: true, shared: 2},
		{name: "conv", thresholds: ths("ttft p95 < 1s"), shared: 2},
	}
	opt := dashboardScenarios(two)
	if len(opt.Scenarios) != 2 || opt.Scenarios[0].Name != "code" || opt.Scenarios[1].Name != "conv" ||
		opt.Scenarios[0].Thresholds[ui.SeriesTTFTP95].Fail != 2000 || opt.Scenarios[1].Thresholds[ui.SeriesTTFTP95].Fail != 1000 {
		t.Fatalf("two scenarios: %+v", opt.Scenarios)
	}
	if !strings.Contains(opt.Scenarios[0].Note, "shared by 2") || opt.Scenarios[1].Note != "" {
		t.Errorf("notes %q %q: want the shared-server note where server panels show", opt.Scenarios[0].Note, opt.Scenarios[1].Note)
	}
	// Each scenario's frames go to its own page: key 2 shows the second.
	a, c := fabricatedRun("code", 12, true), fabricatedRun("conv", 6, false)
	got := drawOnce(t, 120, 40, opt, func(d *ui.Dashboard) {
		d.PublishScenario(0, a[len(a)-1])
		d.PublishScenario(1, c[len(c)-1])
	}, '2')
	if head := strings.SplitN(got, "\n", 4); !strings.HasPrefix(head[0], "llmload  conv (2/2)") || !strings.Contains(head[1], "elapsed       6s") ||
		!strings.HasPrefix(head[2], " 1 code 1%   2 conv 0%") {
		t.Errorf("after key 2:\n%s", got)
	}
}
