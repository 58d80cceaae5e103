package trace

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fuzz target checks the hand-written parser against a slow reference
// built from the standard library (regexp, strconv, time.Date): every row
// and every rejection must agree.

var refTimestamp = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}(?::?\d{2})?)?$`)

func refTrim(s string) string {
	s = strings.Trim(s, " \t")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s
}

func refHeader(line string) bool {
	line = strings.TrimPrefix(line, "\xef\xbb\xbf")
	f := strings.Split(line, ",")
	if len(f) != 3 {
		return false
	}
	for i, c := range azureColumns {
		if !strings.EqualFold(refTrim(f[i]), c) {
			return false
		}
	}
	return true
}

func refTokens(s string) (int, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxTokens {
		return 0, false
	}
	return int(n), true
}

func refRow(line string) (Row, bool) {
	f := strings.Split(line, ",")
	if len(f) != 3 {
		return Row{}, false
	}
	m := refTimestamp.FindStringSubmatch(refTrim(f[0]))
	if m == nil {
		return Row{}, false
	}
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	y, mo, d, h, mi, s := num(m[1]), num(m[2]), num(m[3]), num(m[4]), num(m[5]), num(m[6])
	ns := 0
	if m[7] != "" {
		ns = num((m[7] + "000000000")[:9])
	}
	off := 0
	if z := m[8]; z != "" && z != "Z" {
		digits := strings.ReplaceAll(z[1:], ":", "")
		oh, om := num(digits[:2]), 0
		if len(digits) == 4 {
			om = num(digits[2:])
		}
		if oh > 23 || om > 59 {
			return Row{}, false
		}
		off = oh*3600 + om*60
		if z[0] == '-' {
			off = -off
		}
	}
	tm := time.Date(y, time.Month(mo), d, h, mi, s, ns, time.FixedZone("", off))
	// time.Date normalises out-of-range fields; a round trip catches them.
	if y < minYear || y > maxYear || tm.Year() != y || int(tm.Month()) != mo || tm.Day() != d ||
		tm.Hour() != h || tm.Minute() != mi || tm.Second() != s {
		return Row{}, false
	}
	ctx, ok1 := refTokens(refTrim(f[1]))
	gen, ok2 := refTokens(refTrim(f[2]))
	if !ok1 || !ok2 {
		return Row{}, false
	}
	return Row{At: time.Duration(tm.UnixNano()), ContextTokens: ctx, GeneratedTokens: gen}, true
}

// fuzzBuf is the reader's buffer in the fuzz test: small, so that lines
// too long for it (malformed rows) are within the fuzzer's reach. A line of
// fuzzBuf bytes or more, not counting its '\n', does not fit.
const fuzzBuf = 64

// refRead is the reference reader: the rows, the lines of malformed rows,
// and whether the header was accepted.
func refRead(data []byte) (rows []Row, bad []int, headerOK bool) {
	lines := strings.Split(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // the final newline ends a line, not starts one
	}
	if len(lines) == 0 || len(lines[0]) >= fuzzBuf || !refHeader(strings.TrimSuffix(lines[0], "\r")) {
		return nil, nil, false
	}
	var blanks []int
	for i, l := range lines[1:] {
		n := i + 2
		if len(l) >= fuzzBuf {
			bad = append(bad, blanks...)
			blanks = nil
			bad = append(bad, n)
			continue
		}
		l = strings.TrimSuffix(l, "\r")
		if strings.Trim(l, " \t") == "" {
			blanks = append(blanks, n)
			continue
		}
		bad = append(bad, blanks...) // blank lines with a row after them
		blanks = nil
		if row, ok := refRow(l); ok {
			row.Line = n
			rows = append(rows, row)
		} else {
			bad = append(bad, n)
		}
	}
	return rows, bad, true
}

var lineRef = regexp.MustCompile(`^f\.csv:(\d+): `)

func FuzzAzureReader(f *testing.F) {
	for _, name := range []string{"azure2023_sample.csv", "azure2024_sample.csv", "azure_bom_offsets.csv", "azure_bad_rows.csv"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false)
		f.Add(data, true)
		f.Add(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), true)
	}
	for _, s := range []string{
		"",
		"\xef\xbb\xbf",
		azureHeader,
		azureHeader + "\r\n",
		azureHeader + "\n2024-05-12 00:00:00+00:00,1,2",
		azureHeader + "\n\n\n2024-05-12 00:00:00+00:00,1,2\n\n",
		azureHeader + "\n2024-05-12T00:00:00Z,1,2\n2024-05-12 00:00:00.5-0130,3,4\n2024-05-12 00:00:00+05,5,6\n",
		azureHeader + "\n2024-02-30 00:00:00,1,2\n2023-11-16 18:15:46.6805900,-1,2\n,,\n1,2,3,4\n",
		azureHeader + "\n\"2024-05-12 00:00:00+00:00\", 1 ,\"2\"\n",
		"Timestamp,Request tokens,Response tokens\n1.0,2,3\n",
		azureHeader + "\n2024-05-12 00:00:00+00:00,1," + strings.Repeat("7", 70) + "\n2024-05-12 00:00:00+00:00,1,2",
		azureHeader + "\n" + strings.Repeat(" ", 80),
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, skip bool) {
		r := newAzureReader(bytes.NewReader(data), "f.csv", Options{SkipBad: skip}, fuzzBuf)
		var rows []Row
		var err error
		for {
			var row Row
			row, err = r.Next()
			if err != nil {
				break
			}
			if row.ContextTokens < 0 || row.GeneratedTokens < 0 || row.HashIDs != nil {
				t.Fatalf("invalid row %+v", row)
			}
			if len(rows) > 0 && row.Line <= rows[len(rows)-1].Line || row.Line < 2 {
				t.Fatalf("line %d after %v", row.Line, rows)
			}
			rows = append(rows, row)
		}
		if err != io.EOF && !lineRef.MatchString(err.Error()) {
			t.Fatalf("error without file:line: %v", err)
		}
		if next, _ := r.Next(); next.Line != 0 {
			t.Fatalf("a row after the end: %+v", next)
		}

		want, bad, headerOK := refRead(data)
		if !headerOK {
			if !errors.Is(err, ErrNotAzure) || len(rows) > 0 {
				t.Fatalf("reference rejects the header; reader gave %d rows and %v", len(rows), err)
			}
			return
		}
		if errors.Is(err, ErrNotAzure) {
			t.Fatalf("reader rejects a header the reference accepts: %v", err)
		}
		if !skip && len(bad) > 0 {
			// Stops at the first malformed row, after the rows before it.
			var re *RowError
			if !errors.As(err, &re) || re.Line != bad[0] {
				t.Fatalf("error %v, want a RowError at line %d", err, bad[0])
			}
			for len(want) > 0 && want[len(want)-1].Line > bad[0] {
				want = want[:len(want)-1]
			}
		} else if err != io.EOF {
			t.Fatalf("error %v; the reference finds no fatal problem (bad lines %v, skip %v)", err, bad, skip)
		}
		if skip && r.Skipped() != int64(len(bad)) {
			t.Fatalf("skipped %d, reference finds bad lines %v", r.Skipped(), bad)
		}
		if len(rows) != len(want) {
			t.Fatalf("reader gave %d rows, reference %d:\n%+v\n%+v", len(rows), len(want), rows, want)
		}
		for i := range rows {
			if rows[i].At != want[i].At || rows[i].ContextTokens != want[i].ContextTokens ||
				rows[i].GeneratedTokens != want[i].GeneratedTokens || rows[i].Line != want[i].Line {
				t.Fatalf("row %d = %+v, reference %+v", i, rows[i], want[i])
			}
		}
	})
}
