package trace

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

func TestMooncakeSample(t *testing.T) {
	path := filepath.Join("testdata", "mooncake_sample.jsonl")
	r, err := OpenMooncake(path, MooncakeOptions{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows, err := drainRows(t, r)
	if err != io.EOF {
		t.Fatal(err)
	}
	// Compare with encoding/json's reading of the same file.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var want []Row
	for line := 1; sc.Scan(); line++ {
		var v struct {
			Timestamp    int64 `json:"timestamp"`
			InputLength  int   `json:"input_length"`
			OutputLength int   `json:"output_length"`
			HashIDs      []int `json:"hash_ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		want = append(want, Row{At: time.Duration(v.Timestamp) * time.Millisecond, ContextTokens: v.InputLength,
			GeneratedTokens: v.OutputLength, HashIDs: v.HashIDs, Line: line})
	}
	if len(want) != 30 || !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows\n%+v\nwant\n%+v", rows, want)
	}
	if !reflect.DeepEqual(rows[7].HashIDs[:3], rows[0].HashIDs[:3]) || rows[7].HashIDs[3] == rows[0].HashIDs[3] {
		t.Fatalf("the fixture's rows 1 and 8 should share 3 blocks: %v %v", rows[0].HashIDs, rows[7].HashIDs)
	}
}

func TestMooncakeBlockSize(t *testing.T) {
	r := NewMooncakeReader(strings.NewReader(`{"timestamp": 1, "input_length": 3, "output_length": 4, "hash_ids": [7]}`),
		"m.jsonl", MooncakeOptions{BlockSize: 16}, Options{})
	row, err := r.Next()
	want := Row{At: time.Millisecond, ContextTokens: 3, GeneratedTokens: 4, HashIDs: []int{7}, BlockSize: 16, Line: 1}
	if err != nil || !reflect.DeepEqual(row, want) {
		t.Fatalf("%+v %v, want %+v", row, err, want)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last row: %v", err)
	}
}

func TestMooncakeBadRows(t *testing.T) {
	path := filepath.Join("testdata", "mooncake_bad_rows.jsonl")
	r, err := OpenMooncake(path, MooncakeOptions{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := drainRows(t, r)
	r.Close()
	want := path + `:2: key "input_length" "\"600\"" is not a whole number; fix the row or pass --skip-bad-rows to skip malformed rows`
	if len(rows) != 1 || err == nil || err.Error() != want {
		t.Fatalf("rows %v, error\n%v\nwant\n%s", rows, err, want)
	}

	r, err = OpenMooncake(path, MooncakeOptions{}, Options{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows, err = drainRows(t, r)
	if err != io.EOF || len(rows) != 2 || rows[1].Line != 7 || rows[1].At != 50500*time.Microsecond {
		t.Fatalf("rows %+v, %v", rows, err)
	}
	reasons := strings.Join(r.SkipReasons(), "\n")
	for _, w := range []string{
		path + `:3: key "hash_ids" "[0, -3]" is not a list of whole numbers >= 0`,
		path + `:4: line is not valid JSON at ""`,
		path + `:5: key "input_length" is missing`,
		path + `:6: line is empty but rows follow it`,
	} {
		if !strings.Contains(reasons, w) {
			t.Errorf("reasons lack %q:\n%s", w, reasons)
		}
	}
	if r.Skipped() != 5 {
		t.Fatalf("skipped %d, want 5", r.Skipped())
	}
}

func TestJSONLFormatErrors(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"csv", "timestamp,input_length\n1,2\n", "the file looks like CSV"},
		{"azure", "TIMESTAMP,ContextTokens,GeneratedTokens\n", "the file is an Azure LLM inference trace"},
		{"array", "[1, 2]\n", "want one JSON object per line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewMooncakeReader(strings.NewReader(tc.data), "m.jsonl", MooncakeOptions{}, Options{SkipBad: true})
			_, err := r.Next()
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "m.jsonl:1: ") {
				t.Fatalf("error %v, want ErrFormat at m.jsonl:1 containing %q", err, tc.want)
			}
		})
	}
	// Leading blank lines are malformed rows, not the format check.
	r := NewMooncakeReader(strings.NewReader("\n"+`{"timestamp": 0, "input_length": 1, "output_length": 2}`), "m.jsonl", MooncakeOptions{}, Options{SkipBad: true})
	if row, err := r.Next(); err != nil || row.Line != 2 || row.HashIDs != nil || r.Skipped() != 1 {
		t.Fatalf("%+v %v skipped %d", row, err, r.Skipped())
	}
}

func TestJSONLGeneric(t *testing.T) {
	data := `{"t": "2024-05-12 00:00:01+00:00", "usage": {"in": 5}, "in": 10, "out": 20, "tag": "a", "n": null}` + "\n" +
		`{"t": 2.5, "in": 11, "out": 21, "tag": ["x", 1.5, true], "t": 3, "\u0069n": 12}` + "\n"
	cfg := JSONLConfig{Timestamp: "t", ContextTokens: "in", GeneratedTokens: "out", KeepFields: true}
	r := NewJSONLReader(strings.NewReader(data), "g.jsonl", cfg, Options{})
	rows, err := drainRows(t, r)
	if err != io.EOF {
		t.Fatal(err)
	}
	want := []Row{
		{At: time.Duration(time.Date(2024, 5, 12, 0, 0, 1, 0, time.UTC).UnixNano()), ContextTokens: 10, GeneratedTokens: 20, Line: 1,
			Fields: map[string]any{"usage": map[string]any{"in": 5.0}, "tag": "a", "n": nil}},
		// A key given twice counts as its last value, as in encoding/json;
		// escaped keys are decoded.
		{At: 3 * time.Second, ContextTokens: 12, GeneratedTokens: 21, Line: 2,
			Fields: map[string]any{"tag": []any{"x", 1.5, true}}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows\n%+v\nwant\n%+v", rows, want)
	}

	// Unmapped: only fields.
	r = NewJSONLReader(strings.NewReader(`{"a": 1}`), "raw.jsonl", JSONLConfig{KeepFields: true}, Options{})
	if row, err := r.Next(); err != nil || !reflect.DeepEqual(row, Row{Line: 1, Fields: map[string]any{"a": 1.0}}) {
		t.Fatalf("%+v %v", row, err)
	}

	for _, tc := range []struct{ line, want string }{
		{`{"t": "12", "in": 1, "out": 2}`, `key "t" "\"12\"" is a string; want a number or a date string`},
		{`{"t": true, "in": 1, "out": 2}`, `key "t" "true" is not a number`},
		{`{"t": 1, "in": 1.5, "out": 2}`, `key "in" "1.5" is not a whole number`},
		{`{"t": 1, "in": 1, "out": 2} x`, `line has text after the JSON object at "x"`},
		{`{"t": 1, "in": 1, "out": 2,}`, `line is not valid JSON at "}"`},
		{`{"t": -4, "in": 1, "out": 2}`, `key "t" "-4" is negative`},
		{`{"t": 1, "in": 99999999999, "out": 2}`, `key "in" "99999999999" is too large for a token count`},
	} {
		r := NewJSONLReader(strings.NewReader(tc.line), "e.jsonl", cfg, Options{})
		if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), "e.jsonl:1: "+tc.want) {
			t.Errorf("%s: error %v, want %q", tc.line, err, tc.want)
		}
	}
}

func TestMooncakeAllocsPerRow(t *testing.T) {
	var sb strings.Builder
	for range 3000 {
		sb.WriteString(`{"timestamp": 1234, "input_length": 6758, "output_length": 500, "extra": {"k": [1, "two"]}, "hash_ids": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]}` + "\n")
	}
	r := NewMooncakeReader(strings.NewReader(sb.String()), "m.jsonl", MooncakeOptions{}, Options{})
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 { // the row's own HashIDs slice
		t.Fatalf("%.2f allocations per row, want 1", allocs)
	}
}

// TestMooncakeSharedTraces reads the shared Mooncake traces through the
// reader and checks what the prefix feature relies on: every row's hash
// ids cover its input in 512-token blocks, the last one partial.
func TestMooncakeSharedTraces(t *testing.T) {
	for _, name := range []string{"conversation_trace.jsonl", "synthetic_trace.jsonl"} {
		t.Run(name, func(t *testing.T) {
			path := testenv.SharedData(t, "mooncake/"+name)
			r, err := OpenMooncake(path, MooncakeOptions{}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			rows, err := drainRows(t, r)
			if err != io.EOF {
				t.Fatal(err)
			}
			for _, row := range rows {
				n := len(row.HashIDs)
				if n == 0 || row.ContextTokens <= (n-1)*MooncakeBlockSize || row.ContextTokens > n*MooncakeBlockSize {
					t.Fatalf("line %d: %d tokens in %d blocks", row.Line, row.ContextTokens, n)
				}
			}
			t.Logf("%d rows, last at %v", len(rows), rows[len(rows)-1].At)
		})
	}
}

// OpenMooncake reads the first row at once: a file of another format
// fails at the open, while a malformed first row is the first Next's.
func TestOpenJSONLChecksFormat(t *testing.T) {
	if _, err := OpenMooncake(filepath.Join("testdata", "azure2023_sample.csv"), MooncakeOptions{}, Options{}); !errors.Is(err, ErrFormat) {
		t.Fatalf("an Azure CSV opened as Mooncake: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "m.jsonl")
	if err := os.WriteFile(path, []byte(`{"timestamp": 0}`+"\n"+`{"timestamp": 1, "input_length": 2, "output_length": 3}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := OpenMooncake(path, MooncakeOptions{}, Options{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows, err := drainRows(t, r)
	if err != io.EOF || len(rows) != 1 || rows[0].Line != 2 || r.Skipped() != 1 {
		t.Fatalf("rows %+v, %v, skipped %d", rows, err, r.Skipped())
	}
}

// TestJSONLBadListElementIsInvalidJSON: an element that is no JSON value
// makes the line invalid JSON, as encoding/json says, rather than a list
// with a bad element ("- 1" once read as "-" then "1").
func TestJSONLBadListElementIsInvalidJSON(t *testing.T) {
	line := `{"timestamp": 0, "input_length": 1, "output_length": 1, "hash_ids": [- 1]}`
	r := NewMooncakeReader(strings.NewReader(line), "m.jsonl", MooncakeOptions{}, Options{})
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), `m.jsonl:1: line is not valid JSON at " 1]}"`) {
		t.Errorf("error %v, want the line to be invalid JSON", err)
	}
}
