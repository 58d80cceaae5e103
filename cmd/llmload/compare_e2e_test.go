package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/llmload/llmload/engine/results/compare"
	"github.com/llmload/llmload/engine/results/rundir"
)

// simRun runs the report's small tagged scenario against the built-in
// simulator with a fixed ITL, with --report and --metadata.
func simRun(t *testing.T, out, itl string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := dispatch([]string{"run", "../../engine/results/report/testdata/tagged.lua", "--limit", "30", "--no-ui", "--out", out,
		"--sample-interval", "0.25", "--sim-profile", "fixed", "--sim-itl", itl, "--seed", "3", "--report", "--metadata", "itl=" + itl}, &stdout, &stderr)
	// The scenario's "request_goodput > 1000 rps" threshold fails on purpose.
	if code != exitThresholds {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "report: "+filepath.Join(out, "report.html")) {
		t.Errorf("run --report does not say where report.html is:\n%s", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(out, "report.html")); err != nil {
		t.Error(err)
	}
}

// TestCompareSimRuns: a slower ITL is a significant TPOT regression that
// --fail-on turns into exit 1; the same configuration twice is no
// significant change and exit 0.
func TestCompareSimRuns(t *testing.T) {
	dir := t.TempDir()
	base, same, slow := filepath.Join(dir, "base"), filepath.Join(dir, "same"), filepath.Join(dir, "slow")
	simRun(t, base, "10ms")
	simRun(t, same, "10ms")
	simRun(t, slow, "20ms")

	rows := func(a, b string) []compare.Row {
		ra, err := rundir.Load(a)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := rundir.Load(b)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := compare.Compare(ra, rb, compare.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	find := func(rs []compare.Row, name string) compare.Row {
		for _, r := range rs {
			if r.Name() == name {
				return r
			}
		}
		t.Fatalf("no row %s", name)
		return compare.Row{}
	}
	for _, st := range []string{"mean", "p50", "p90"} {
		r := find(rows(base, slow), "tpot "+st)
		if r.Verdict != compare.Worse || !(r.Lo > 0) {
			t.Errorf("slower ITL: tpot %s %+.1f%% CI [%+.1f%%, %+.1f%%] %s, want worse with a CI above 0", st, r.Change*100, r.Lo*100, r.Hi*100, r.Verdict)
		}
	}
	// The same configuration: the medians, which the machine's stalls (a
	// shared 2-CPU machine under other tests) move least. Means and tails
	// of two runs do differ by a few percent on a loaded machine, which is
	// why the table is logged rather than checked row by row.
	for _, name := range []string{"tpot p50", "itl p50"} {
		r := find(rows(base, same), name)
		if r.Verdict != compare.NoChange {
			t.Errorf("same config: %s %+.1f%% CI [%+.1f%%, %+.1f%%] %s, want no significant change", name, r.Change*100, r.Lo*100, r.Hi*100, r.Verdict)
		}
	}

	var stdout, stderr bytes.Buffer
	rule := []string{"--fail-on", "tpot p50 > +10%", "--fail-on", "error_rate > +1%"}
	if code := dispatch(append([]string{"compare", base, slow}, rule...), &stdout, &stderr); code != exitThresholds {
		t.Errorf("slower ITL under --fail-on: exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	if !regexp.MustCompile(`tpot p50 > \+10%": FAIL`).MatchString(stdout.String()) {
		t.Errorf("the failing rule is not named:\n%s", stdout.String())
	}
	stdout.Reset()
	if code := dispatch(append([]string{"compare", base, same}, rule...), &stdout, &stderr); code != exitOK {
		t.Errorf("same config under --fail-on: exit %d, want 0\n%s%s", code, stdout.String(), stderr.String())
	}
	t.Logf("same config:\n%s", stdout.String())

	// Overlaid report of the three, and the CSV export.
	stdout.Reset()
	html := filepath.Join(dir, "sweep.html")
	if code := dispatch([]string{"report", base, same, slow, "-o", html}, &stdout, &stderr); code != exitOK {
		t.Fatalf("report: exit %d: %s", code, stderr.String())
	}
	if code := dispatch([]string{"export", slow, "--csv"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("export: exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(slow, "windows.csv")); err != nil {
		t.Error(err)
	}
}

func TestCompareRefusesOtherScenario(t *testing.T) {
	dir := t.TempDir()
	for i, name := range []string{"a", "b"} {
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "summary.json"), []byte(`{"name":"`+name+`","meta":{"model":"m"}}`), 0o644)
		os.WriteFile(filepath.Join(d, "requests.jsonl"), nil, 0o644)
		_ = i
	}
	var stdout, stderr bytes.Buffer
	code := dispatch([]string{"compare", filepath.Join(dir, "a"), filepath.Join(dir, "b")}, &stdout, &stderr)
	if code != exitConfig || !strings.Contains(stderr.String(), "different scenarios") || !strings.Contains(stderr.String(), "--force") {
		t.Errorf("exit %d, stderr %q; want 2 and a message naming --force", code, stderr.String())
	}
	stderr.Reset()
	if code := dispatch([]string{"compare", filepath.Join(dir, "a"), filepath.Join(dir, "b"), "--force"}, &stdout, &stderr); code != exitOK {
		t.Errorf("--force: exit %d: %s", code, stderr.String())
	}
	if code := dispatch([]string{"compare", "x", "y", "--fail-on", "ttft p99 > 10%%"}, &stdout, &stderr); code != exitConfig {
		t.Errorf("bad rule: exit %d", code)
	}
}
