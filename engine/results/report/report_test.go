package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/report.golden.json")

// TestGoldenData checks the numbers and series that go into the charts,
// computed from a small recorded run (testdata/run, made with
// testdata/tagged.lua against the built-in simulator, see docs/report.md).
func TestGoldenData(t *testing.T) {
	d, err := Build([]string{"testdata/run"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(d, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "testdata/report.golden.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report data differs from %s (go test ./engine/results/report -run TestGoldenData -update to accept):\n%s", golden, firstDiff(string(want), string(got)))
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return "line " + itoa(i+1) + ":\n want " + al[i] + "\n got  " + bl[i]
		}
	}
	return "lengths differ"
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestDataInvariants checks facts the golden file could hide: counts add
// up, CDFs rise to 1, series stay within the bounds Build promises.
func TestDataInvariants(t *testing.T) {
	d, err := Build([]string{"testdata/run", "testdata/run"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Runs[0].Label == d.Runs[1].Label {
		t.Errorf("two runs share the label %q", d.Runs[0].Label)
	}
	r := d.Runs[0]
	completed := int64(0)
	for _, row := range r.Table {
		if row.Metric == "E2EL" {
			completed = row.Count
		}
	}
	for _, dist := range r.Dists {
		var sum int64
		for _, c := range dist.Counts {
			sum += c
		}
		if sum+dist.Above != dist.Count {
			t.Errorf("%s: bins %d + above %d != count %d", dist.Name, sum, dist.Above, dist.Count)
		}
		if n := len(dist.CDFP); n == 0 || dist.CDFP[n-1] != 1 {
			t.Errorf("%s: CDF does not end at 1", dist.Name)
		}
		for i := 1; i < len(dist.CDFX); i++ {
			if dist.CDFX[i] < dist.CDFX[i-1] {
				t.Errorf("%s: CDF falls at %d", dist.Name, i)
			}
		}
		if dist.Name == "E2EL" && dist.Count != completed {
			t.Errorf("E2EL distribution has %d requests, the summary %d", dist.Count, completed)
		}
	}
	for _, s := range r.Series {
		if len(s.T) > maxSeries || len(s.T) != len(s.V) {
			t.Errorf("series %s: %d points, %d values", s.ID, len(s.T), len(s.V))
		}
	}
	if len(r.ByTag) == 0 || !strings.HasPrefix(r.ByTag[0].Group, "kind=") {
		t.Errorf("by tag: %+v, want kind=long/short", r.ByTag)
	}
	if r.Metadata["gpu"] != "sim" {
		t.Errorf("metadata %v, want gpu=sim", r.Metadata)
	}
}

func TestDownsample(t *testing.T) {
	n := 1000
	ts, vs := make([]float64, n), make([]float64, n)
	for i := range ts {
		ts[i], vs[i] = float64(i), 2
	}
	ot, ov := downsample(ts, vs, 240)
	if len(ot) > 240 || len(ot) != len(ov) {
		t.Fatalf("%d points", len(ot))
	}
	for _, v := range ov {
		if v != 2 {
			t.Fatalf("mean of constant 2 is %v", v)
		}
	}
}

func TestOverlap(t *testing.T) {
	b := make([]float64, 4)
	overlap(b, 0.5, 2.5, 1) // half of bin 0, all of bin 1, half of bin 2
	want := []float64{0.5, 1, 0.5, 0}
	for i := range want {
		if b[i] != want[i] {
			t.Fatalf("overlap = %v, want %v", b, want)
		}
	}
}
