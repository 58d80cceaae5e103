package compose

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmload/llmload/engine/results/prom"
	"github.com/llmload/llmload/stack/sim"
)

// servedNames gathers the metric family names the real exporters serve:
// llmload's client exporter (engine/results/prom) and the simulator's vLLM and
// DCGM series, plus the DCGM fields of dcgm/counters.csv.
func servedNames(t *testing.T) map[string]Source {
	t.Helper()
	// The DCGM exporter serves what the rendered counters.csv lists.
	names := map[string]Source{}
	for _, n := range DCGMCounters() {
		names[n] = SourceGPU
	}
	clientReg := prometheus.NewRegistry()
	e, err := prom.New(clientReg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Scenario(prom.Info{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	simReg := prometheus.NewRegistry()
	s, err := sim.New(sim.DefaultConfig(), simReg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for reg, src := range map[*prometheus.Registry]Source{clientReg: SourceClient, simReg: SourceServer} {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			n := mf.GetName()
			switch {
			case strings.HasPrefix(n, "DCGM_"):
				names[n] = SourceGPU
			default:
				names[n] = src
			}
		}
	}
	return names
}

var metricRef = regexp.MustCompile(`([A-Za-z_:][A-Za-z0-9_:]*)\{`)

func TestDashboardPanels(t *testing.T) {
	served := servedNames(t)
	recorded := map[string]string{} // recorded series -> the metric it reads
	for _, r := range recordingRules("1m") {
		recorded[r.Name] = r.Source
	}
	titles := map[string]bool{}
	for _, row := range Rows() {
		if row.Columns < 1 || 24%row.Columns != 0 {
			t.Errorf("row %s: %d columns do not divide Grafana's 24", row.Title, row.Columns)
		}
		for _, p := range row.Panels {
			if titles[p.Title] {
				t.Errorf("two panels titled %q", p.Title)
			}
			titles[p.Title] = true
			if p.Description == "" || p.Unit == "" || len(p.Queries) == 0 || len(p.Sources) == 0 {
				t.Errorf("panel %q: needs a description, a unit, queries and sources", p.Title)
			}
			used := map[Source]bool{}
			for _, q := range p.Queries {
				refs := metricRef.FindAllStringSubmatch(q.Expr, -1)
				if len(refs) == 0 {
					t.Errorf("panel %q: query names no metric: %s", p.Title, q.Expr)
				}
				for _, m := range refs {
					name := m[1]
					if src, ok := recorded[name]; ok {
						name = src
					} else if strings.Contains(name, ":") && !strings.HasPrefix(name, "vllm:") {
						t.Errorf("panel %q: %s looks like a recorded series but no recording rule makes it", p.Title, name)
					}
					name = strings.TrimSuffix(name, "_bucket")
					src, ok := served[name]
					if !ok {
						t.Errorf("panel %q: %s is served by neither llmload, the simulator nor DCGM's defaults", p.Title, name)
						continue
					}
					used[src] = true
				}
				if len(p.Queries) > 1 && q.Legend == "" {
					t.Errorf("panel %q: several queries need legends", p.Title)
				}
				for _, v := range []string{"scenario", "model_name", "instance", "gpu"} {
					if strings.Contains(q.Expr, v+`=~"`) && !strings.Contains(q.Expr, v+`=~"$`+v+`"`) {
						t.Errorf("panel %q: %s filtered by something else than $%s", p.Title, v, v)
					}
				}
			}
			for _, s := range p.Sources {
				if !used[s] {
					t.Errorf("panel %q claims source %s but reads none of its series", p.Title, s)
				}
				delete(used, s)
			}
			if len(used) > 0 {
				t.Errorf("panel %q reads sources %v it does not declare", p.Title, used)
			}
		}
	}
}

// TestDashboardJSON reads the rendered JSON back with the SDK's own
// unmarshalers (Grafana's schema) and checks what Grafana relies on.
func TestDashboardJSON(t *testing.T) {
	b, err := DashboardJSON(DashboardSpec{})
	if err != nil {
		t.Fatal(err)
	}
	plugins.RegisterDefaultPlugins()
	//lint:ignore SA1019 the classic model, see Dashboard's comment.
	var d dashboard.Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("the SDK cannot read its own dashboard back: %v", err)
	}
	if d.Uid == nil || *d.Uid != DashboardUID {
		t.Errorf("uid %v", d.Uid)
	}
	ids := map[uint32]bool{}
	panels, rows := 0, 0
	for _, p := range d.Panels {
		switch {
		case p.RowPanel != nil:
			rows++
			ids[p.RowPanel.Id] = true
		case p.Panel != nil:
			panels++
			if p.Panel.Id == nil || ids[*p.Panel.Id] {
				t.Errorf("panel %v: missing or duplicate id", p.Panel.Title)
			} else {
				ids[*p.Panel.Id] = true
			}
			if gp := p.Panel.GridPos; gp == nil || gp.X+gp.W > 24 || gp.W == 0 || gp.H == 0 {
				t.Errorf("panel %v: grid position %+v off the 24-column grid", p.Panel.Title, gp)
			}
			if p.Panel.Datasource == nil || p.Panel.Datasource.Uid == nil || *p.Panel.Datasource.Uid != "${datasource}" {
				t.Errorf("panel %v: data source not the $datasource variable", p.Panel.Title)
			}
		}
	}
	want := 0
	for _, r := range Rows() {
		want += len(r.Panels)
	}
	if rows != len(Rows()) || panels != want {
		t.Errorf("%d rows and %d panels, want %d and %d", rows, panels, len(Rows()), want)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	for _, v := range []string{"datasource", "scenario", "model_name", "instance", "gpu"} {
		if !vars[v] {
			t.Errorf("no $%s variable", v)
		}
	}
}

// TestDashboardGPUSelection: the gpu variable starts on the GPUs vLLM uses
// (by index, or by UUID with the UUID label), so power and energy per token
// leave the node's idle GPUs out; without a selection it starts on All.
func TestDashboardGPUSelection(t *testing.T) {
	for _, c := range []struct {
		gpus          []string
		label, values string
	}{
		{nil, "gpu", "[$__all]"},
		{[]string{"0", "1"}, "gpu", "[0 1]"},
		{[]string{"GPU-aa", "GPU-bb"}, "UUID", "[GPU-aa GPU-bb]"},
	} {
		d, err := Dashboard(DashboardSpec{GPUs: c.gpus})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, v := range d.Templating.List {
			if v.Name != "gpu" {
				continue
			}
			found = true
			if v.Current == nil || fmt.Sprint(v.Current.Value.ArrayOfString) != c.values {
				t.Errorf("%v: gpu variable starts on %+v, want %s", c.gpus, v.Current, c.values)
			}
			if q := *v.Query.String; !strings.HasSuffix(q, ", "+c.label+")") {
				t.Errorf("%v: gpu variable query %q, want label %s", c.gpus, q, c.label)
			}
		}
		if !found {
			t.Fatalf("%v: no gpu variable", c.gpus)
		}
		for _, r := range (DashboardSpec{GPUs: c.gpus}).rows() {
			for _, p := range r.Panels {
				for _, q := range p.Queries {
					if strings.Contains(q.Expr, "DCGM") || strings.Contains(q.Expr, "dcgm") {
						if !strings.Contains(q.Expr, c.label+`=~"$gpu"`) {
							t.Errorf("%v: panel %q does not select %s by $gpu: %s", c.gpus, p.Title, c.label, q.Expr)
						}
					}
				}
			}
		}
	}
}

// TestStackDocsListEveryPanel keeps docs/stack.md's panel reference in step
// with the dashboard.
func TestStackDocsListEveryPanel(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "stack.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rows() {
		if !strings.Contains(string(doc), r.Title) {
			t.Errorf("docs/stack.md does not mention the row %q", r.Title)
		}
		for _, p := range r.Panels {
			if !strings.Contains(string(doc), "| "+p.Title+" |") {
				t.Errorf("docs/stack.md has no table line for the panel %q", p.Title)
			}
		}
	}
	for _, img := range []string{DefaultVLLMImage, DefaultDCGMImage, DefaultPrometheusImage, DefaultGrafanaImage} {
		if !strings.Contains(string(doc), img) {
			t.Errorf("docs/stack.md does not name the pinned image %s", img)
		}
	}
}
