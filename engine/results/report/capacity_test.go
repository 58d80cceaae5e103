package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmload/llmload/engine/shared/svgplot"
)

// capacityRun is testdata/run with the capacity section of a real search
// (testdata/capacity.json: scenarios/capacity.lua --by users against the
// built-in simulator, 9 steps, answer 64 users, interval 0 to 70) in its
// summary; edit, when set, changes that section first.
func capacityRun(t *testing.T, edit func(c map[string]any)) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"requests.jsonl", "windows.jsonl", "server.jsonl", "summary.json"} {
		b, err := os.ReadFile(filepath.Join("testdata/run", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "summary.json" {
			var sum, c map[string]any
			raw, err := os.ReadFile("testdata/capacity.json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &sum); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			if edit != nil {
				edit(c)
			}
			sum["capacity"] = c
			if b, err = json.Marshal(sum); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestCapacityCharts: a capacity run's report has one point per step in
// its throughput-against-latency charts, split by verdict (each its own
// marker), the SLO and the goodput target as reference lines, the answer
// as a line and its interval as a band; the page has the steps' table.
func TestCapacityCharts(t *testing.T) {
	dir := capacityRun(t, func(c map[string]any) {
		steps := c["steps"].([]any)
		steps[1].(map[string]any)["verdict"] = "untrusted" // step 2, 8 users
	})
	d, err := Build([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	c := d.Runs[0].Capacity
	if c == nil || c.Answer != 64 || c.Low != 0 || c.High == nil || *c.High != 70 || len(c.Steps) != 9 || c.Unit != "users" {
		t.Fatalf("capacity data %+v", c)
	}
	if c.AnswerRPS < 146 || c.AnswerRPS > 147 || c.Steps[5].Level != 128 || c.Steps[5].Verdict != "fail" {
		t.Errorf("answer's throughput %v, step 6 %+v", c.AnswerRPS, c.Steps[5])
	}
	g := d.capacityCharts()
	if len(g.charts) != 3 {
		t.Fatalf("%d capacity charts, want TTFT, TPOT and goodput", len(g.charts))
	}
	ttft, goodput := g.charts[0], g.charts[2]
	counts := map[string]int{}
	for _, s := range ttft.Series {
		counts[s.Name] = len(s.X)
		if s.Kind != svgplot.Points {
			t.Errorf("series %s is not points", s.Name)
		}
	}
	if counts["passed"] != 4 || counts["failed"] != 4 || counts["untrusted (llmload lagged)"] != 1 {
		t.Errorf("points by verdict %v, want 4 passed, 4 failed, 1 untrusted", counts)
	}
	if s := ttft.Series[0]; s.X[0] != c.Steps[0].RPS || s.Y[0] != c.Steps[0].TTFTP99MS || s.Labels[0] != "step 1 at 4 users" {
		t.Errorf("first passed point %v,%v %q", s.X[0], s.Y[0], s.Labels[0])
	}
	want := []svgplot.Mark{
		{From: c.AnswerRPS, To: c.AnswerRPS, Label: "answer (64 users): " + svgplot.FormatValue(c.AnswerRPS) + " req/s"},
		{From: 40, Horizontal: true, Label: "SLO 40 ms"},
	}
	if !equalMarks(ttft.Marks, want) {
		t.Errorf("TTFT marks %+v, want %+v", ttft.Marks, want)
	}
	want = []svgplot.Mark{
		{From: 0, To: 70, Label: "interval 0 to 70"},
		{From: 64, To: 64, Label: "answer 64 users"},
		{From: 99, Horizontal: true, Label: "target 99%"},
	}
	if !equalMarks(goodput.Marks, want) || goodput.Series[1].Y[0] != 100*c.Steps[5].Goodput {
		t.Errorf("goodput marks %+v, want %+v", goodput.Marks, want)
	}

	var b strings.Builder
	if err := d.WriteHTML(&b, "test"); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, s := range []string{`<h3>Capacity search by users</h3>`, `Answer: <b>64 users</b> (interval 0 to 70)`, `<td class="warn">untrusted</td>`,
		`id="capacity-0-ttft"`, `id="capacity-0-tpot"`, `id="capacity-0-goodput"`, `class="band"`, "answer 64 users", "SLO 40 ms",
		`fill="#fff" stroke="` + svgplot.Palette[9]} {
		if !strings.Contains(page, s) {
			t.Errorf("the page has no %q", s)
		}
	}
}

func equalMarks(a, b []svgplot.Mark) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A search that passed at its maximum has an interval unbounded above; one
// where nothing passed has no answer marks; a section that does not decode
// says so on its chart. Runs without a search have no capacity charts.
func TestCapacityEdges(t *testing.T) {
	d, err := Build([]string{capacityRun(t, func(c map[string]any) { c["high"] = nil })})
	if err != nil {
		t.Fatal(err)
	}
	m := d.capacityCharts().charts[2].Marks
	if len(m) != 3 || m[0] != (svgplot.Mark{From: 0, To: 128, Label: "interval from 0 (unbounded above)"}) {
		t.Errorf("unbounded interval: %+v", m)
	}
	d, err = Build([]string{capacityRun(t, func(c map[string]any) { c["answer"] = 0 })})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range d.capacityCharts().charts {
		for _, mk := range ch.Marks {
			if !mk.Horizontal {
				t.Errorf("%s: answer mark %+v with no answer", ch.ID, mk)
			}
		}
	}
	d, err = Build([]string{capacityRun(t, func(c map[string]any) { c["steps"] = "oops" })})
	if err != nil {
		t.Fatal(err)
	}
	if ch := d.capacityCharts().charts[2]; !strings.Contains(ch.Note, "unreadable capacity section") {
		t.Errorf("note %q", ch.Note)
	}
	d, err = Build([]string{"testdata/run"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Runs[0].Capacity != nil || len(d.capacityCharts().charts) != 0 {
		t.Error("capacity charts for a run without a search")
	}
}
