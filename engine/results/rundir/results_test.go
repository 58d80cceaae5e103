package rundir

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testRun = "../report/testdata/run"

func TestLoad(t *testing.T) {
	r, err := Load(testRun)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Requests) != int(r.NumOr("completed", 0)+r.NumOr("failed", 0)) {
		t.Errorf("%d requests, summary says %v completed + %v failed", len(r.Requests), r.NumOr("completed", 0), r.NumOr("failed", 0))
	}
	if n := int64(len(r.ITL)); n != int64(r.NumOr("itl_count", -1)) {
		t.Errorf("%d ITLs, summary itl_count %v", n, r.NumOr("itl_count", -1))
	}
	if len(r.Windows) != int(r.NumOr("windows", -1)) {
		t.Errorf("%d windows, summary says %v", len(r.Windows), r.NumOr("windows", -1))
	}
	if r.Server == nil || r.MetaStr("prompt_seed") != "7" || r.Name() != "tagged" {
		t.Errorf("server %d samples, prompt_seed %q, name %q", len(r.Server), r.MetaStr("prompt_seed"), r.Name())
	}
}

func TestLoadErrorsSayWhere(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no summary.json") {
		t.Fatalf("empty dir: %v", err)
	}
	os.WriteFile(filepath.Join(dir, SummaryFile), []byte(`{"name":"x"}`), 0o644)
	os.WriteFile(filepath.Join(dir, RequestsFile), []byte("{\"seq\":0,\"itl_ms\":[1,2]}\n{\"seq\":1,\"itl_ms\":[1,x]}\n"), 0o644)
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "requests.jsonl:2:") || !strings.Contains(err.Error(), "itl_ms") {
		t.Fatalf("bad ITL: %v", err)
	}
}

func TestExportCSV(t *testing.T) {
	out := t.TempDir()
	files, err := ExportCSV(testRun, out)
	if err != nil || len(files) != 2 {
		t.Fatalf("files %v, err %v", files, err)
	}
	f, _ := os.Open(filepath.Join(out, "requests.csv"))
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	r, _ := Load(testRun)
	if len(rows) != len(r.Requests)+1 {
		t.Fatalf("%d rows, want %d requests + header", len(rows), len(r.Requests))
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	for _, c := range []string{"seq", "ttft_ms", "itl_ms", "tags.kind", "good"} {
		if _, ok := col[c]; !ok {
			t.Errorf("no column %q in %v", c, rows[0])
		}
	}
	itls := strings.Split(rows[1][col["itl_ms"]], ";")
	if len(itls) != len(r.ITLOf(&r.Requests[0])) {
		t.Errorf("first row has %d ITLs, the request %d", len(itls), len(r.ITLOf(&r.Requests[0])))
	}
}

// FuzzAddRequest: any line either parses or is refused with an error,
// never a panic, and a refused line leaves no ITLs behind.
func FuzzAddRequest(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join(testRun, RequestsFile))
	for _, l := range strings.SplitN(string(b), "\n", 4)[:3] {
		f.Add([]byte(l))
	}
	f.Add([]byte(`{"seq":1,"itl_ms":[1, 2 ,3]}`))
	f.Add([]byte(`{"seq":1,"itl_ms":[,]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r := &Run{}
		if err := r.addRequest(line); err != nil {
			if len(r.ITL) != 0 || len(r.Requests) != 0 {
				t.Fatalf("refused line left %d ITLs, %d requests", len(r.ITL), len(r.Requests))
			}
			return
		}
		q := &r.Requests[0]
		if got := len(r.ITLOf(q)); got != len(r.ITL) {
			t.Fatalf("request has %d of %d ITLs", got, len(r.ITL))
		}
	})
}
