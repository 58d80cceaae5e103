package trace

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

// at is the expected Row.At of a UTC civil instant.
func at(y int, mo time.Month, d, h, mi, s, ns int) time.Duration {
	return time.Duration(time.Date(y, mo, d, h, mi, s, ns, time.UTC).UnixNano())
}

// readAll drains src, failing the test on any error but io.EOF.
func readAll(t *testing.T, src Source) []Row {
	t.Helper()
	var rows []Row
	for {
		row, err := src.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatalf("after %d rows: %v", len(rows), err)
		}
		rows = append(rows, row)
	}
}

func openFixture(t *testing.T, name string, opt Options) *AzureReader {
	t.Helper()
	r, err := OpenAzure(filepath.Join("testdata", name), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func checkRows(t *testing.T, got, want []Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// The 2023 fixture has CRLF line ends and no final newline, like the real files.
var want2023 = []Row{
	{At: at(2023, 11, 16, 18, 15, 46, 680590000), ContextTokens: 374, GeneratedTokens: 44, Line: 2},
	{At: at(2023, 11, 16, 18, 15, 50, 995169000), ContextTokens: 396, GeneratedTokens: 109, Line: 3},
	{At: at(2023, 11, 16, 18, 15, 51, 100), ContextTokens: 0, GeneratedTokens: 1, Line: 4},
	{At: at(2023, 11, 16, 18, 15, 59, 123456700), ContextTokens: 4096, GeneratedTokens: 512, Line: 5},
	{At: at(2023, 11, 16, 18, 16, 0, 0), ContextTokens: 1020, GeneratedTokens: 129, Line: 6},
	{At: at(2023, 12, 31, 23, 59, 59, 999999900), ContextTokens: 14050, GeneratedTokens: 1000, Line: 7},
}

func TestAzure2023Fixture(t *testing.T) {
	r := openFixture(t, "azure2023_sample.csv", Options{})
	checkRows(t, readAll(t, r), want2023)
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next after the end = %v, want io.EOF again", err)
	}
}

func TestAzure2024Fixture(t *testing.T) {
	// LF line ends, optional fraction, explicit +00:00, trailing blank lines.
	r := openFixture(t, "azure2024_sample.csv", Options{})
	checkRows(t, readAll(t, r), []Row{
		{At: at(2024, 5, 12, 0, 0, 0, 0), ContextTokens: 1637, GeneratedTokens: 14, Line: 2},
		{At: at(2024, 5, 12, 0, 0, 0, 1163000), ContextTokens: 374, GeneratedTokens: 44, Line: 3},
		{At: at(2024, 5, 12, 0, 0, 0, 500000000), ContextTokens: 2, GeneratedTokens: 7, Line: 4},
		{At: at(2024, 5, 12, 23, 59, 59, 999999000), ContextTokens: 8000, GeneratedTokens: 600, Line: 5},
		{At: at(2024, 2, 29, 12, 0, 0, 0), ContextTokens: 10, GeneratedTokens: 10, Line: 6},
	})
	if r.Skipped() != 0 {
		t.Errorf("Skipped = %d, want 0: trailing blank lines are not bad rows", r.Skipped())
	}
}

func TestAzureBOMAndZoneOffsets(t *testing.T) {
	// Every row of the fixture is the same instant written in another zone.
	r := openFixture(t, "azure_bom_offsets.csv", Options{})
	rows := readAll(t, r)
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want 3", len(rows))
	}
	for _, row := range rows {
		if want := at(2024, 5, 12, 0, 0, 0, 0); row.At != want {
			t.Errorf("line %d: At = %v, want %v (2024-05-12 00:00 UTC)", row.Line, time.Unix(0, int64(row.At)).UTC(), time.Unix(0, int64(want)).UTC())
		}
	}
}

func TestAzureLineEndingVariants(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "azure2023_sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lf := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	for name, data := range map[string][]byte{
		"CRLF final newline":  append(bytes.Clone(raw), "\r\n"...),
		"LF no final newline": lf,
		"LF final newline":    append(bytes.Clone(lf), '\n'),
		"BOM CRLF":            append([]byte("\xef\xbb\xbf"), raw...),
		"trailing blanks":     append(bytes.Clone(raw), "\r\n\r\n  \r\n\n"...),
	} {
		t.Run(name, func(t *testing.T) {
			checkRows(t, readAll(t, NewAzureReader(bytes.NewReader(data), "t.csv", Options{})), want2023)
		})
	}
}

func TestAzureHeaderVariants(t *testing.T) {
	for _, h := range []string{
		"timestamp,contexttokens,generatedtokens",
		`"TIMESTAMP","ContextTokens","GeneratedTokens"`,
		" TIMESTAMP , ContextTokens ,\tGeneratedTokens ",
	} {
		r := NewAzureReader(strings.NewReader(h+"\n2024-05-12 00:00:00+00:00,1,2\n"), "h.csv", Options{})
		if rows := readAll(t, r); len(rows) != 1 {
			t.Errorf("header %q: got %d rows, want 1", h, len(rows))
		}
	}
}

func TestAzureBadHeader(t *testing.T) {
	const want = "want TIMESTAMP,ContextTokens,GeneratedTokens"
	for _, tc := range []struct{ name, data, msg string }{
		{"empty", "", "h.csv:1: not an Azure LLM inference trace: the file is empty; want the header TIMESTAMP,ContextTokens,GeneratedTokens then one row per request"},
		{"other csv", "Timestamp,Request tokens,Response tokens\n1.5,10,20\n",
			`h.csv:1: not an Azure LLM inference trace: the header is "Timestamp,Request tokens,Response tokens", ` + want + "; use a trace from the Azure LLM inference dataset (2023 or 2024)"},
		{"no header", "2023-11-16 18:15:46.6805900,374,44\r\n",
			`h.csv:1: not an Azure LLM inference trace: the header is "2023-11-16 18:15:46.6805900,374,44", ` + want + "; the file has no header row; add TIMESTAMP,ContextTokens,GeneratedTokens as its first line"},
		{"jsonl", `{"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": [1]}` + "\n",
			`h.csv:1: not an Azure LLM inference trace: the header is "{\"timestamp\": 0, \"input_length\": 10, \"ou"..., ` + want + "; the file looks like JSON lines (Mooncake?), not an Azure CSV"},
		{"extra column", "TIMESTAMP,ContextTokens,GeneratedTokens,Model\n", `the header is "TIMESTAMP,ContextTokens,GeneratedTokens,"...`},
		{"missing column", "TIMESTAMP,ContextTokens\n", `the header is "TIMESTAMP,ContextTokens"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// SkipBad must not paper over a file of the wrong format.
			r := NewAzureReader(strings.NewReader(tc.data), "h.csv", Options{SkipBad: true})
			_, err := r.Next()
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error = %v\nwant it to contain %s", err, tc.msg)
			}
			if !errors.Is(err, ErrNotAzure) {
				t.Errorf("errors.Is(%v, ErrNotAzure) = false", err)
			}
			if _, err2 := r.Next(); err2 != err {
				t.Errorf("second Next = %v, want the same error", err2)
			}
		})
	}

	// OpenAzure checks the header before returning.
	p := filepath.Join(t.TempDir(), "wrong.csv")
	if err := os.WriteFile(p, []byte("a,b,c\n1,2,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenAzure(p, Options{}); err == nil || !strings.HasPrefix(err.Error(), p+":1: not an Azure LLM inference trace") {
		t.Errorf("OpenAzure(wrong header) error = %v", err)
	}
}

func TestOpenAzureMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.csv")
	_, err := OpenAzure(p, Options{})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "check the path") {
		t.Errorf("OpenAzure(missing) error = %v, want a not-exist error naming the path", err)
	}
}

func TestAzureBadRows(t *testing.T) {
	const hint = "; fix the row or pass --skip-bad-rows to skip malformed rows"
	good := "2023-11-16 18:15:46.6805900,374,44"
	long := strings.Repeat("9", bufSize+10)
	for _, tc := range []struct{ name, row, reason string }{
		{"not integer", "2023-11-16 18:15:47.0000000,abc,44", `column 2 (ContextTokens) "abc" is not an integer`},
		{"fractional tokens", "2023-11-16 18:15:47.0000000,12,4.5", `column 3 (GeneratedTokens) "4.5" is not an integer`},
		{"negative", "2023-11-16 18:15:47.0000000,-5,44", `column 2 (ContextTokens) "-5" is negative; a token count must be >= 0`},
		{"lone minus", "2023-11-16 18:15:47.0000000,-,44", `column 2 (ContextTokens) "-" is not an integer`},
		{"empty tokens", "2023-11-16 18:15:47.0000000,374,", `column 3 (GeneratedTokens) "" is empty; want a token count`},
		{"huge tokens", "2023-11-16 18:15:47.0000000,374,99999999999999999999", `column 3 (GeneratedTokens) "99999999999999999999" is too large for a token count`},
		{"one column", "2023-11-16 18:15:47.0000000", "has 1 columns, want 3 (TIMESTAMP,ContextTokens,GeneratedTokens)"},
		{"two columns", "2023-11-16 18:15:47.0000000,374", "has 2 columns, want 3 (TIMESTAMP,ContextTokens,GeneratedTokens)"},
		{"four columns", "2023-11-16 18:15:47.0000000,374,44,7", "has 4 columns, want 3 (TIMESTAMP,ContextTokens,GeneratedTokens)"},
		{"unix seconds", "1700158546.68,374,44", `column 1 (TIMESTAMP) "1700158546.68" is not a timestamp like 2023-11-16 18:17:03.9799600 or 2024-05-12 00:00:00.001163+00:00`},
		{"slashes", "2023/11/16 18:15:47,374,44", `column 1 (TIMESTAMP) "2023/11/16 18:15:47" is not a timestamp like`},
		{"empty fraction", "2023-11-16 18:15:47.,374,44", `column 1 (TIMESTAMP) "2023-11-16 18:15:47." is not a timestamp like`},
		{"zone name", "2023-11-16 18:15:47 UTC,374,44", `column 1 (TIMESTAMP) "2023-11-16 18:15:47 UTC" is not a timestamp like`},
		{"short zone", "2024-05-12 00:00:00+0,374,44", `column 1 (TIMESTAMP) "2024-05-12 00:00:00+0" is not a timestamp like`},
		{"trailing junk", "2024-05-12 00:00:00+00:00x,374,44", `column 1 (TIMESTAMP) "2024-05-12 00:00:00+00:00x" is not a timestamp like`},
		{"bad zone", "2024-05-12 00:00:00+24:00,374,44", `column 1 (TIMESTAMP) "2024-05-12 00:00:00+24:00" has a zone offset that is not Z, ±hh, ±hhmm or ±hh:mm with hh <= 23 and mm <= 59`},
		{"month 13", "2023-13-16 18:15:47.0000000,374,44", `column 1 (TIMESTAMP) "2023-13-16 18:15:47.0000000" has a month outside 01-12`},
		{"month 0", "2023-00-16 18:15:47,374,44", `column 1 (TIMESTAMP) "2023-00-16 18:15:47" has a month outside 01-12`},
		{"Feb 29 2023", "2023-02-29 00:00:00,374,44", `column 1 (TIMESTAMP) "2023-02-29 00:00:00" has a day that its month does not have`},
		{"Apr 31", "2024-04-31 00:00:00,374,44", `column 1 (TIMESTAMP) "2024-04-31 00:00:00" has a day that its month does not have`},
		{"hour 24", "2023-11-16 24:00:00,374,44", `column 1 (TIMESTAMP) "2023-11-16 24:00:00" has an hour outside 00-23`},
		{"minute 60", "2023-11-16 23:60:00,374,44", `column 1 (TIMESTAMP) "2023-11-16 23:60:00" has a minute outside 00-59`},
		{"second 60", "2023-11-16 23:59:60,374,44", `column 1 (TIMESTAMP) "2023-11-16 23:59:60" has a second outside 00-59`},
		{"year 1000", "1000-01-01 00:00:00,374,44", `column 1 (TIMESTAMP) "1000-01-01 00:00:00" has a year outside 1678-2261`},
		{"line too long", long, "line is longer than 1 MiB; it is not a trace row"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, eol := range []string{"\n", "\r\n", ""} { // "" = last line without newline
				data := azureHeader + eol + good + eol + tc.row + eol
				if eol == "" {
					data = azureHeader + "\n" + good + "\n" + tc.row
				}
				r := NewAzureReader(strings.NewReader(data), "conv.csv", Options{})
				if _, err := r.Next(); err != nil {
					t.Fatalf("first row: %v", err)
				}
				_, err := r.Next()
				want := "conv.csv:3: " + tc.reason
				if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), hint) {
					t.Fatalf("eol %q: error = %.300v\nwant prefix %s and suffix %s", eol, err, want, hint)
				}
				var re *RowError
				if !errors.As(err, &re) || re.Line != 3 || re.Name != "conv.csv" || !errors.Is(err, ErrBadRow) {
					t.Errorf("error %T %+v is not a *RowError at conv.csv:3 wrapping ErrBadRow", err, re)
				}
				if _, err2 := r.Next(); err2 != err {
					t.Errorf("Next after an error = %v, want the same error", err2)
				}
			}
		})
	}
}

func TestAzureBlankLineInTheMiddle(t *testing.T) {
	data := azureHeader + "\n2024-05-12 00:00:00+00:00,1,2\n\n  \n2024-05-12 00:00:01+00:00,3,4\n"
	r := NewAzureReader(strings.NewReader(data), "b.csv", Options{})
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Next()
	if want := "b.csv:3: line is empty but rows follow it; fix the row or pass --skip-bad-rows to skip malformed rows"; err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}

	r = NewAzureReader(strings.NewReader(data), "b.csv", Options{SkipBad: true})
	rows := readAll(t, r)
	if len(rows) != 2 || rows[1].Line != 5 || r.Skipped() != 2 {
		t.Fatalf("SkipBad: rows %+v, skipped %d; want lines 2 and 5 with 2 skipped", rows, r.Skipped())
	}
	if got := strings.Join(r.SkipReasons(), "|"); got != "b.csv:3: line is empty but rows follow it|b.csv:4: line is empty but rows follow it" {
		t.Errorf("reasons = %s", got)
	}
}

func TestAzureSkipBad(t *testing.T) {
	r := openFixture(t, "azure_bad_rows.csv", Options{SkipBad: true})
	rows := readAll(t, r)
	checkRows(t, rows, []Row{
		{At: at(2023, 11, 16, 18, 15, 46, 680590000), ContextTokens: 374, GeneratedTokens: 44, Line: 2},
		{At: at(2023, 11, 16, 18, 15, 53, 500000000), ContextTokens: 12, GeneratedTokens: 34, Line: 10},
	})
	if r.Skipped() != 7 {
		t.Errorf("Skipped = %d, want 7", r.Skipped())
	}
	p := filepath.Join("testdata", "azure_bad_rows.csv")
	want := []string{
		p + `:3: column 2 (ContextTokens) "abc" is not an integer`,
		p + `:4: has 2 columns, want 3 (TIMESTAMP,ContextTokens,GeneratedTokens)`,
		p + `:5: column 2 (ContextTokens) "-5" is negative; a token count must be >= 0`,
		p + `:6: column 1 (TIMESTAMP) "2023-13-16 18:15:50.0000000" has a month outside 01-12`,
		p + `:7: line is empty but rows follow it`,
		p + `:8: has 4 columns, want 3 (TIMESTAMP,ContextTokens,GeneratedTokens)`,
		p + `:9: column 3 (GeneratedTokens) "" is empty; want a token count`,
	}
	if got := r.SkipReasons(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("SkipReasons:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Without SkipBad the same file stops at its first bad row.
	r2 := openFixture(t, "azure_bad_rows.csv", Options{})
	if _, err := r2.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Next(); err == nil || !strings.HasPrefix(err.Error(), want[0]+"; fix the row") {
		t.Errorf("without SkipBad: %v", err)
	}
}

func TestAzureSkipReasonsCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(azureHeader + "\n")
	for i := range 25 {
		fmt.Fprintf(&b, "2024-05-12 00:00:%02d+00:00,x,1\n", i)
	}
	b.WriteString("2024-05-12 00:01:00+00:00,5,6\n")
	r := NewAzureReader(strings.NewReader(b.String()), "many.csv", Options{SkipBad: true})
	rows := readAll(t, r)
	if len(rows) != 1 || rows[0].Line != 27 {
		t.Fatalf("rows = %+v, want one at line 27", rows)
	}
	reasons := r.SkipReasons()
	if r.Skipped() != 25 || len(reasons) != maxReasons {
		t.Fatalf("Skipped = %d, %d reasons; want 25 and %d", r.Skipped(), len(reasons), maxReasons)
	}
	if !strings.HasPrefix(reasons[9], "many.csv:11: ") {
		t.Errorf("10th reason %q should name line 11", reasons[9])
	}
	reasons[0] = "mutated"
	if r.SkipReasons()[0] == "mutated" {
		t.Error("SkipReasons returned the reader's own slice")
	}
}

func TestAzureClose(t *testing.T) {
	r := openFixture(t, "azure2023_sample.csv", Options{})
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Next after Close = %v, want os.ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// failingReader returns data, then a read error instead of EOF.
type failingReader struct{ data []byte }

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, errors.New("disk on fire")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestAzureReadError(t *testing.T) {
	r := NewAzureReader(&failingReader{data: []byte(azureHeader + "\n2024-05-12 00:00:00+00:00,1,2\n")}, "f.csv", Options{SkipBad: true})
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Next()
	if err == nil || err.Error() != "azure trace f.csv:3: reading: disk on fire" {
		t.Errorf("error = %v", err)
	}
}

func TestLimit(t *testing.T) {
	r := openFixture(t, "azure2023_sample.csv", Options{})
	l := Limit(r, 4)
	rows := readAll(t, l)
	checkRows(t, rows, want2023[:4])
	if _, err := l.Next(); err != io.EOF {
		t.Errorf("Next past the limit = %v, want io.EOF", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Limit's Close did not close the source: %v", err)
	}

	if rows := readAll(t, Limit(SynthAzureConv(SynthConfig{Seed: 1}), 0)); len(rows) != 0 {
		t.Errorf("Limit 0 gave %d rows", len(rows))
	}
	if rows := readAll(t, Limit(SynthAzureConv(SynthConfig{Seed: 1}), 1000)); len(rows) != 1000 {
		t.Errorf("Limit 1000 of an endless source gave %d rows", len(rows))
	}
	// A limit larger than the source ends with the source.
	if rows := readAll(t, Limit(openFixture(t, "azure2023_sample.csv", Options{}), 100)); len(rows) != len(want2023) {
		t.Errorf("Limit 100 of a %d-row file gave %d rows", len(want2023), len(rows))
	}

	// The skip count survives the wrapper, for the end-of-run report.
	bad := Limit(openFixture(t, "azure_bad_rows.csv", Options{SkipBad: true}), 10)
	readAll(t, bad)
	sk, ok := bad.(SkipReporter)
	if !ok || sk.Skipped() != 7 || len(sk.SkipReasons()) != 7 {
		t.Errorf("Limit hides the source's skipped rows (ok=%v)", ok)
	}
}

func TestAzureSharedFiles(t *testing.T) {
	for _, tc := range []struct {
		file        string
		rows        int
		first, last time.Duration
	}{
		{"azure2023/AzureLLMInferenceTrace_conv.csv", 19366, at(2023, 11, 16, 18, 15, 46, 680590000), at(2023, 11, 16, 19, 14, 8, 402527000)},
		{"azure2023/AzureLLMInferenceTrace_code.csv", 8819, at(2023, 11, 16, 18, 17, 3, 979960000), at(2023, 11, 16, 19, 14, 19, 928016000)},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			r, err := OpenAzure(testenv.SharedData(t, tc.file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			rows := readAll(t, r)
			if len(rows) != tc.rows {
				t.Fatalf("%d rows, want %d", len(rows), tc.rows)
			}
			if rows[0].At != tc.first || rows[len(rows)-1].At != tc.last {
				t.Errorf("first/last At = %v / %v, want %v / %v", rows[0].At, rows[len(rows)-1].At, tc.first, tc.last)
			}
			if rows[len(rows)-1].Line != tc.rows+1 {
				t.Errorf("last Line = %d, want %d", rows[len(rows)-1].Line, tc.rows+1)
			}
			for i := 1; i < len(rows); i++ {
				if rows[i].At < rows[i-1].At {
					t.Fatalf("line %d is earlier than the line before", rows[i].Line)
				}
			}
		})
	}
}

// repeatReader serves a chunk of rows endlessly, for allocation checks.
type repeatReader struct {
	chunk []byte
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.chunk[r.off:])
		n += c
		r.off = (r.off + c) % len(r.chunk)
	}
	return n, nil
}

func TestAzureNoAllocsPerRow(t *testing.T) {
	rows := "2023-11-16 18:15:46.6805900,374,44\r\n2024-05-12 00:00:00+00:00,1637,14\n2024-05-12 00:00:00.001163+00:00,10,3\r\n"
	r := NewAzureReader(io.MultiReader(strings.NewReader(azureHeader+"\n"), &repeatReader{chunk: []byte(rows)}), "r.csv", Options{})
	if allocs := testing.AllocsPerRun(10000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("%v allocations per good row, want 0", allocs)
	}

	// Past the first few reasons, a skipped row allocates nothing either.
	bad := "2024-05-12 00:00:00+00:00,x,1\n2024-13-12 00:00:00+00:00,1,1\n1,2\n2024-05-12 00:00:00+00:00,3,4\n"
	r = NewAzureReader(io.MultiReader(strings.NewReader(azureHeader+"\n"), &repeatReader{chunk: []byte(bad)}), "r.csv", Options{SkipBad: true})
	for range maxReasons {
		r.Next()
	}
	if allocs := testing.AllocsPerRun(10000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("%v allocations per row with skipped rows, want 0", allocs)
	}
}
