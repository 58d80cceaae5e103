package trace

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// drainRows drains src and returns the rows and the final error (io.EOF at
// a clean end).
func drainRows(t testing.TB, src Source) ([]Row, error) {
	t.Helper()
	var rows []Row
	for {
		row, err := src.Next()
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
		if len(rows) > 1_000_000 {
			t.Fatal("source does not end")
		}
	}
}

func TestBurstGPTSample(t *testing.T) {
	r, err := OpenBurstGPT(filepath.Join("testdata", "burstgpt_sample.csv"), BurstGPTOptions{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows, err := drainRows(t, r)
	if err != io.EOF {
		t.Fatalf("read: %v", err)
	}
	// The fixture has 24 rows, three of them failed (Response tokens 0).
	if len(rows) != 21 || r.FailedSkipped() != 3 || r.Skipped() != 0 {
		t.Fatalf("%d rows, %d failed skipped, %d bad; want 21, 3, 0", len(rows), r.FailedSkipped(), r.Skipped())
	}
	first := rows[0]
	want := Row{At: time.Second, ContextTokens: 1627, GeneratedTokens: 667, Line: 2}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("first row %+v, want %+v", first, want)
	}
	for i, row := range rows {
		if row.Failed || row.GeneratedTokens == 0 || row.Fields != nil {
			t.Fatalf("row %d: %+v", i, row)
		}
		if i > 0 && (row.At < rows[i-1].At || row.Line <= rows[i-1].Line) {
			t.Fatalf("row %d out of order: %+v after %+v", i, row, rows[i-1])
		}
	}
	if got := r.Columns(); !reflect.DeepEqual(got, []string{"Timestamp", "Model", "Request tokens", "Response tokens", "Total tokens", "Log Type"}) {
		t.Fatalf("columns %q", got)
	}
}

func TestBurstGPTKeepFailedAndFields(t *testing.T) {
	r, err := OpenBurstGPT(filepath.Join("testdata", "burstgpt_sample.csv"), BurstGPTOptions{KeepFailed: true, KeepFields: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows, err := drainRows(t, r)
	if err != io.EOF || len(rows) != 24 || r.FailedSkipped() != 0 {
		t.Fatalf("%d rows, %v, %d failed skipped; want 24 rows, EOF, 0", len(rows), err, r.FailedSkipped())
	}
	failed := 0
	for _, row := range rows {
		if row.Failed != (row.GeneratedTokens == 0) {
			t.Fatalf("Failed = %v for %+v", row.Failed, row)
		}
		if row.Failed {
			failed++
		}
		if len(row.Fields) != 3 {
			t.Fatalf("fields %v, want Model, Total tokens and Log Type", row.Fields)
		}
		total := row.Fields["Total tokens"].(string)
		if total == "" || row.Fields["Model"] == "" {
			t.Fatalf("fields %v", row.Fields)
		}
	}
	if failed != 3 {
		t.Fatalf("%d failed rows, want 3", failed)
	}
	if rows[5].Fields["Model"] != "GPT-4" || rows[5].Fields["Log Type"] != "Conversation log" || !rows[5].Failed {
		t.Fatalf("row 6: %+v", rows[5])
	}
}

func TestBurstGPTBadRows(t *testing.T) {
	path := filepath.Join("testdata", "burstgpt_bad_rows.csv")
	r, err := OpenBurstGPT(path, BurstGPTOptions{KeepFields: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := drainRows(t, r)
	r.Close()
	var re *RowError
	if !errors.As(err, &re) || re.Line != 3 || len(rows) != 1 {
		t.Fatalf("rows %v, err %v; want the first row then an error at line 3", rows, err)
	}
	want := path + `:3: column 3 (Request tokens) "abc" is not an integer; fix the row or pass --skip-bad-rows to skip malformed rows`
	if err.Error() != want {
		t.Fatalf("error\n%s\nwant\n%s", err, want)
	}

	r, err = OpenBurstGPT(path, BurstGPTOptions{KeepFields: true}, Options{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows, err = drainRows(t, r)
	if err != io.EOF {
		t.Fatal(err)
	}
	var lines []int
	for _, row := range rows {
		lines = append(lines, row.Line)
	}
	if !reflect.DeepEqual(lines, []int{2, 5, 11}) {
		t.Fatalf("rows at lines %v, want 2, 5, 11", lines)
	}
	if rows[1].Fields["Model"] != "GPT-4, turbo" || rows[1].Fields["Log Type"] != "API log" {
		t.Fatalf("quoted fields: %v", rows[1].Fields)
	}
	if rows[2].At != 8250*time.Millisecond {
		t.Fatalf("fractional timestamp: %v", rows[2].At)
	}
	if r.Skipped() != 6 || r.FailedSkipped() != 1 {
		t.Fatalf("skipped %d bad and %d failed rows, want 6 and 1: %q", r.Skipped(), r.FailedSkipped(), r.SkipReasons())
	}
	reasons := strings.Join(r.SkipReasons(), "\n")
	for _, w := range []string{
		path + `:4: has 5 columns, want 6 as in the header`,
		path + `:6: column 1 (Timestamp) "-1" is negative; a timestamp must be >= 0`,
		path + `:8: line has a quoted field without its closing quote`,
		path + `:9: line is empty but rows follow it`,
		path + `:10: column 4 (Response tokens) "-3" is negative; a token count must be >= 0`,
	} {
		if !strings.Contains(reasons, w) {
			t.Errorf("reasons lack %q:\n%s", w, reasons)
		}
	}
}

func TestBurstGPTHeaderErrors(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"empty", "", "x.csv:1: not a trace of the expected format: the file is empty"},
		{"azure", "TIMESTAMP,ContextTokens,GeneratedTokens\n", `the header has no column "Request tokens" for the context tokens; its columns are "TIMESTAMP", "ContextTokens", "GeneratedTokens"; the file is an Azure LLM inference trace: use llm.trace.azure`},
		{"json", `{"timestamp": 1}` + "\n", `its columns are not shown (the first line is not CSV text); the file looks like JSON lines`},
		{"no header", "1,ChatGPT,2,3,5,API log\n", "the file seems to have no header row"},
		{"twice", "Timestamp,Request tokens,Response tokens,timestamp\n", `names column "Timestamp" twice (columns 1 and 4)`},
		{"quote", "\"Timestamp,Request tokens\n", "the header has a quoted field without its closing quote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewBurstGPTReader(strings.NewReader(tc.data), "x.csv", BurstGPTOptions{}, Options{SkipBad: true})
			_, err := r.Next()
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrFormat containing %q", err, tc.want)
			}
			if _, again := r.Next(); again != err {
				t.Fatalf("error not sticky: %v then %v", err, again)
			}
		})
	}
	if _, err := OpenBurstGPT(filepath.Join(t.TempDir(), "missing.csv"), BurstGPTOptions{}, Options{}); !errors.Is(err, os.ErrNotExist) ||
		!strings.Contains(err.Error(), "BurstGPT trace: open ") || !strings.Contains(err.Error(), "check the path") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestCSVGeneric(t *testing.T) {
	data := "\xef\xbb\xbfid, ts_ms ,prompt,\"out\",note\n" +
		"a,1500,10,20,\"hello, \"\"world\"\"\"\r\n" +
		"b,2023-11-16 18:17:03.5,11,21,\n" +
		"c, 2.5 ,12,22,x\n"
	cfg := CSVConfig{Timestamp: "TS_MS", ContextTokens: "prompt", GeneratedTokens: "out", TimeUnit: time.Millisecond, KeepFields: true}
	r := NewCSVReader(strings.NewReader(data), "g.csv", cfg, Options{})
	rows, err := drainRows(t, r)
	if err != io.EOF || len(rows) != 3 {
		t.Fatalf("%v %v", rows, err)
	}
	date := time.Date(2023, 11, 16, 18, 17, 3, 5e8, time.UTC).Sub(time.Unix(0, 0))
	want := []Row{
		{At: 1500 * time.Millisecond, ContextTokens: 10, GeneratedTokens: 20, Line: 2, Fields: map[string]any{"id": "a", "note": `hello, "world"`}},
		{At: date, ContextTokens: 11, GeneratedTokens: 21, Line: 3, Fields: map[string]any{"id": "b", "note": ""}},
		{At: 2500 * time.Microsecond, ContextTokens: 12, GeneratedTokens: 22, Line: 4, Fields: map[string]any{"id": "c", "note": "x"}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows\n%+v\nwant\n%+v", rows, want)
	}
	// A zero output is an ordinary row unless ZeroOutputFailed says so.
	r = NewCSVReader(strings.NewReader("p,o\n5,0\n"), "z.csv", CSVConfig{ContextTokens: "p", GeneratedTokens: "o"}, Options{})
	if row, err := r.Next(); err != nil || row.Failed || row.ContextTokens != 5 || row.At != 0 {
		t.Fatalf("%+v %v", row, err)
	}
}

func TestCSVRawFields(t *testing.T) {
	// No mapped column: every column is a field, for a Lua mapper to read.
	r := NewCSVReader(strings.NewReader("a,b\n1,x\n"), "raw.csv", CSVConfig{KeepFields: true}, Options{})
	row, err := r.Next()
	if err != nil || !reflect.DeepEqual(row.Fields, map[string]any{"a": "1", "b": "x"}) || row.Line != 2 {
		t.Fatalf("%+v %v", row, err)
	}
}

func TestCSVNoAllocsPerRow(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n")
	for i := range 2000 {
		sb.WriteString("12.5,ChatGPT,100,")
		if i%7 == 0 {
			sb.WriteString("0") // failed: skipped without allocating
		} else {
			sb.WriteString("20")
		}
		sb.WriteString(",120,\"Conversation log\"\n")
	}
	data := sb.String()
	r := NewBurstGPTReader(strings.NewReader(data), "a.csv", BurstGPTOptions{}, Options{})
	if _, err := r.Next(); err != nil { // the header and buffers
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.2f allocations per row, want 0", allocs)
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		unit time.Duration
		want time.Duration
		what string
	}{
		{"0", time.Second, 0, ""},
		{"12", time.Second, 12 * time.Second, ""},
		{"1.5", time.Second, 1500 * time.Millisecond, ""},
		{".5", time.Second, 500 * time.Millisecond, ""},
		{"7.", time.Second, 7 * time.Second, ""},
		{"1.0000000019", time.Second, time.Second + 1, ""},
		{"250", time.Millisecond, 250 * time.Millisecond, ""},
		{"1.5", time.Microsecond, 1500, ""},
		{"1e3", time.Millisecond, time.Second, ""},
		{"2.5E-1", time.Second, 250 * time.Millisecond, ""},
		{"-0", time.Second, 0, ""},
		{"+3", time.Second, 3 * time.Second, ""},
		{"", time.Second, 0, whatEmptyTime},
		{"-1", time.Second, 0, whatNegTime},
		{"-1e3", time.Second, 0, whatNegTime},
		{".", time.Second, 0, whatNotTime},
		{"1.2.3", time.Second, 0, whatNotTime},
		{"12s", time.Second, 0, whatNotTime},
		{"1e", time.Second, 0, whatNotTime},
		{"NaN", time.Second, 0, whatNotTime},
		{"9223372037", time.Second, 0, whatHugeTime},
		{"99999999999999999999999", time.Nanosecond, 0, whatHugeTime},
		{"1e300", time.Second, 0, whatHugeTime},
	} {
		got, what := parseDuration([]byte(tc.in), tc.unit)
		if got != tc.want || what != tc.what {
			t.Errorf("parseDuration(%q, %v) = %v, %q; want %v, %q", tc.in, tc.unit, got, what, tc.want, tc.what)
		}
	}
}
