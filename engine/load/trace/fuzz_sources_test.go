package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fuzz targets of the CSV and JSONL readers check them against slow
// references written differently: a character-at-a-time CSV splitter,
// math/big for decimals, encoding/json for JSON.

// refLine is one line of the input as the readers see it.
type refLine struct {
	n    int
	text string
}

// refLines applies the line rules the readers share: lines of size bytes
// or more are malformed, blank lines are malformed when a row follows.
// header is the first line when withHeader (ok false when there is none or
// it is too long).
func refLines(data []byte, size int, withHeader bool) (header string, headerOK bool, rows []refLine, bad []int) {
	lines := strings.Split(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	first := 0
	if withHeader {
		if len(lines) == 0 || len(lines[0]) >= size {
			return "", false, nil, nil
		}
		header, headerOK, first = strings.TrimSuffix(lines[0], "\r"), true, 1
	}
	var blanks []int
	for i := first; i < len(lines); i++ {
		l, n := lines[i], i+1
		if len(l) >= size {
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
		bad = append(bad, blanks...)
		blanks = nil
		rows = append(rows, refLine{n, l})
	}
	return header, headerOK, rows, bad
}

// refSplit splits a CSV line one character at a time.
func refSplit(line string) ([]string, bool) {
	var out []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i < len(line) && line[i] == '"' {
			i++
			var sb strings.Builder
			for {
				if i >= len(line) {
					return nil, false
				}
				if line[i] == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						sb.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				sb.WriteByte(line[i])
				i++
			}
			out = append(out, sb.String())
			for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
				i++
			}
			if i == len(line) {
				return out, true
			}
			if line[i] != ',' {
				return nil, false
			}
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] != ',' {
			j++
		}
		out = append(out, strings.TrimRight(line[i:j], " \t"))
		if j == len(line) {
			return out, true
		}
		i = j + 1
	}
}

var refNumber = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)

// refDuration is parseDuration by other means: math/big for plain
// decimals (truncated to the nanosecond), float64 with an exponent.
func refDuration(s string, unit time.Duration) (time.Duration, bool) {
	m := refNumber.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	if m[2] != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !isRangeErr(err) {
			return 0, false
		}
		ns := f * float64(unit)
		if ns < 0 && math.Round(ns) != 0 || ns >= math.MaxInt64 {
			return 0, false
		}
		return time.Duration(math.Max(0, math.Round(ns))), true
	}
	dec := strings.TrimPrefix(s, "+")
	if strings.HasSuffix(dec, ".") {
		dec += "0"
	}
	if strings.HasPrefix(dec, ".") || strings.HasPrefix(dec, "-.") {
		dec = strings.Replace(dec, ".", "0.", 1)
	}
	r, ok := new(big.Rat).SetString(dec)
	if !ok {
		return 0, false
	}
	if r.Sign() < 0 {
		return 0, false
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(unit)))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if !q.IsInt64() {
		return 0, false
	}
	return time.Duration(q.Int64()), true
}

// refTime reads a timestamp field as parseTime should.
func refTime(s string, unit time.Duration) (time.Duration, bool) {
	if len(s) >= 19 && s[4] == '-' {
		row, ok := refRow(s + ",0,0") // the Azure reference's timestamp rules
		return row.At, ok && !strings.Contains(s, ",")
	}
	return refDuration(s, unit)
}

func refCSV(data []byte, cfg CSVConfig, size int) (rows []Row, bad []int, failed int, headerOK bool) {
	header, ok, lines, badLines := refLines(data, size, true)
	if !ok {
		return nil, nil, 0, false
	}
	names, ok := refSplit(strings.TrimPrefix(header, "\xef\xbb\xbf"))
	if !ok {
		return nil, nil, 0, false
	}
	index := func(col string) (int, bool) {
		at := -1
		for i, n := range names {
			if strings.EqualFold(n, col) {
				if at >= 0 {
					return 0, false
				}
				at = i
			}
		}
		return at, at >= 0
	}
	ts, ok1 := index(cfg.Timestamp)
	ctx, ok2 := index(cfg.ContextTokens)
	gen, ok3 := index(cfg.GeneratedTokens)
	if !ok1 || !ok2 || !ok3 {
		return nil, nil, 0, false
	}
	bad = badLines
	for _, l := range lines {
		f, ok := refSplit(l.text)
		if !ok || len(f) != len(names) {
			bad = append(bad, l.n)
			continue
		}
		at, ok1 := refTime(f[ts], cfg.TimeUnit)
		c, ok2 := refTokens(f[ctx])
		g, ok3 := refTokens(f[gen])
		if !ok1 || !ok2 || !ok3 {
			bad = append(bad, l.n)
			continue
		}
		row := Row{At: at, ContextTokens: c, GeneratedTokens: g, Line: l.n, Failed: g == 0}
		if row.Failed && !cfg.KeepFailed {
			failed++
			continue
		}
		if cfg.KeepFields {
			row.Fields = map[string]any{}
			for i, v := range f {
				if i != ts && i != ctx && i != gen {
					row.Fields[names[i]] = v
				}
			}
		}
		rows = append(rows, row)
	}
	return rows, sortedInts(bad), failed, true
}

func sortedInts(v []int) []int {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
	return v
}

var lineRefAny = regexp.MustCompile(`^f\.\w+:(\d+): `)

// checkAgainst compares what a reader gave with a reference's rows and bad
// lines, under SkipBad or not.
func checkAgainst(t *testing.T, got []Row, err error, skipped int64, skip bool, want []Row, bad []int) {
	t.Helper()
	if err != io.EOF && !lineRefAny.MatchString(err.Error()) {
		t.Fatalf("error without file:line: %v", err)
	}
	if !skip && len(bad) > 0 {
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
	if skip && skipped != int64(len(bad)) {
		t.Fatalf("skipped %d, the reference finds bad lines %v", skipped, bad)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reader gave\n%+v\nreference\n%+v", got, want)
	}
}

func FuzzBurstGPTReader(f *testing.F) {
	for _, name := range []string{"burstgpt_sample.csv", "burstgpt_bad_rows.csv"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false, false)
		f.Add(data, true, true)
	}
	const h = "Timestamp,Request tokens,Response tokens"
	for _, s := range []string{
		"", h, h + "\n1,2,3", h + "\n\n\n1.5,2,0\n\n", "\xef\xbb\xbf" + h + "\r\n1,2,3\r\n",
		"\"Timestamp\" ,\"Request tokens\",Response tokens,x\n1e2,2,3,\"a\"\"b\"\n.5,1,1, q\"\n",
		h + "\n2023-11-16 18:17:03.98,1,2\n2023-02-29 00:00:00,1,2\n-0,1,2\n+1.,1,1\n",
		h + "\n\"1,2,3\n1,\"2\" x,3\n1,2,3,4\n" + strings.Repeat("9", 70) + ",1,1\n",
		"TIMESTAMP,ContextTokens,GeneratedTokens\n",
	} {
		f.Add([]byte(s), false, false)
		f.Add([]byte(s), true, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, skip, keep bool) {
		b := BurstGPTOptions{KeepFailed: keep, KeepFields: keep}
		r := newCSVReader(bytes.NewReader(data), "BurstGPT trace", "f.csv", burstGPTConfig(b), Options{SkipBad: skip}, fuzzBuf)
		var rows []Row
		var err error
		for {
			var row Row
			if row, err = r.Next(); err != nil {
				break
			}
			rows = append(rows, row)
		}
		want, bad, failed, headerOK := refCSV(data, burstGPTConfig(b), fuzzBuf)
		if !headerOK {
			if !errors.Is(err, ErrFormat) || len(rows) > 0 {
				t.Fatalf("the reference rejects the header; the reader gave %d rows and %v", len(rows), err)
			}
			return
		}
		if errors.Is(err, ErrFormat) {
			t.Fatalf("the reader rejects a header the reference accepts: %v", err)
		}
		checkAgainst(t, rows, err, r.Skipped(), skip, want, bad)
		if err == io.EOF && r.FailedSkipped() != int64(failed) {
			t.Fatalf("failed rows skipped %d, reference %d", r.FailedSkipped(), failed)
		}
	})
}

var refJSONInt = regexp.MustCompile(`^-?(0|[1-9]\d*)$`)

// refDepth is the deepest nesting of objects and lists in a valid JSON text.
func refDepth(s string) int {
	depth, deepest, inStr := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// refJSONL reads data as the JSONL readers should. When the first row's
// line is not an object, formatOK is false and bad holds the malformed
// lines before it (which a reader without SkipBad reports first).
func refJSONL(data []byte, cfg JSONLConfig, size int) (rows []Row, bad []int, formatOK bool) {
	_, _, lines, bad := refLines(data, size, false)
	for i, l := range lines {
		if i == 0 {
			if t := strings.TrimLeft(l.text, " \t\r\n"); t == "" || t[0] != '{' {
				var before []int
				for _, n := range sortedInts(bad) {
					if n < l.n {
						before = append(before, n)
					}
				}
				return nil, before, false
			}
		}
		row, ok := refJSONLRow(l.text, cfg)
		if !ok {
			bad = append(bad, l.n)
			continue
		}
		row.Line = l.n
		rows = append(rows, row)
	}
	return rows, sortedInts(bad), true
}

func refJSONLRow(line string, cfg JSONLConfig) (Row, bool) {
	if t := strings.TrimLeft(line, " \t\r\n"); t == "" || t[0] != '{' || !json.Valid([]byte(line)) || refDepth(line) > maxJSONDepth+1 {
		return Row{}, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return Row{}, false
	}
	row := Row{BlockSize: cfg.BlockSize}
	if k := cfg.Timestamp; k != "" {
		raw, ok := m[k]
		if !ok {
			return Row{}, false
		}
		if s := string(raw); s[0] == '"' {
			body := s[1 : len(s)-1]
			if strings.Contains(body, `\`) || !(len(body) >= 19 && body[4] == '-') {
				return Row{}, false
			}
			if row.At, ok = refTime(body, cfg.TimeUnit); !ok {
				return Row{}, false
			}
		} else {
			if s[0] == 't' || s[0] == 'f' || s[0] == 'n' || s[0] == '[' || s[0] == '{' {
				return Row{}, false
			}
			if row.At, ok = refDuration(s, cfg.TimeUnit); !ok {
				return Row{}, false
			}
		}
	}
	count := func(k string, dst *int) bool {
		if k == "" {
			return true
		}
		raw, ok := m[k]
		if !ok || !refJSONInt.Match(raw) {
			return false
		}
		*dst, ok = refTokens(string(raw))
		return ok
	}
	if !count(cfg.ContextTokens, &row.ContextTokens) || !count(cfg.GeneratedTokens, &row.GeneratedTokens) {
		return Row{}, false
	}
	if k := cfg.HashIDs; k != "" {
		if raw, ok := m[k]; ok {
			var ids []json.RawMessage
			if raw[0] != '[' || json.Unmarshal(raw, &ids) != nil {
				return Row{}, false
			}
			for _, id := range ids {
				s := string(id)
				if s == "-0" {
					s = "0"
				}
				n, err := strconv.ParseInt(s, 10, 64)
				if !refJSONInt.MatchString(s) || err != nil || n < 0 {
					return Row{}, false
				}
				row.HashIDs = append(row.HashIDs, int(n))
			}
		}
	}
	if cfg.KeepFields {
		for k, raw := range m {
			mapped := false
			for _, m := range []string{cfg.Timestamp, cfg.ContextTokens, cfg.GeneratedTokens, cfg.HashIDs} {
				mapped = mapped || m != "" && k == m
			}
			if mapped {
				continue
			}
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return Row{}, false
			}
			if row.Fields == nil {
				row.Fields = map[string]any{}
			}
			row.Fields[k] = v
		}
	}
	return row, true
}

// fuzzJSONLBuf is the JSONL readers' buffer in the fuzz tests: room for a
// short Mooncake row, small enough to reach the too-long path.
const fuzzJSONLBuf = 160

func fuzzJSONL(t *testing.T, data []byte, skip bool, cfg JSONLConfig) {
	r := newJSONLReader(bytes.NewReader(data), "JSONL trace", "f.jsonl", cfg, Options{SkipBad: skip}, fuzzJSONLBuf)
	var rows []Row
	var err error
	for {
		var row Row
		if row, err = r.Next(); err != nil {
			break
		}
		rows = append(rows, row)
	}
	want, bad, formatOK := refJSONL(data, cfg, fuzzJSONLBuf)
	if !formatOK {
		var re *RowError
		if !skip && len(bad) > 0 {
			if !errors.As(err, &re) || re.Line != bad[0] {
				t.Fatalf("error %v, want a RowError at line %d before the format check", err, bad[0])
			}
			return
		}
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("the reference finds no JSON object on the first line; the reader gave %d rows and %v", len(rows), err)
		}
		return
	}
	if errors.Is(err, ErrFormat) {
		t.Fatalf("the reader rejects the format, the reference accepts it: %v", err)
	}
	checkAgainst(t, rows, err, r.Skipped(), skip, want, bad)
}

func jsonlSeeds(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "mooncake_bad_rows.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data, false)
	f.Add(data, true)
	sample, err := os.ReadFile(filepath.Join("testdata", "mooncake_sample.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample[:bytes.IndexByte(sample, '\n')+1], true)
	for _, s := range []string{
		"", "\n", "x\n", "[]\n", ` {"timestamp":0,"input_length":1,"output_length":2}`,
		`{"timestamp":1.5e3,"input_length":1,"output_length":2,"hash_ids":[]}` + "\n\n" + `{"timestamp":-0,"input_length":0,"output_length":0,"hash_ids":[-0,9]}`,
		`{"timestamp":"2024-05-12 00:00:00Z","input_length":1,"output_length":2,"t":{"a":[1,{"b":null}]},"\u0074":"x"}`,
		`{"timestamp":1,"input_length":1,"output_length":2,"hash_ids":[1,2],"hash_ids":[3]}`,
		`{"timestamp":1,"input_length":1,"output_length":2,"hash_ids":[1.0]}` + "\n" + `{"timestamp":01}`,
		`{"timestamp":1,"input_length":"1","output_length":true,"x":"\ud800\"\\"}`,
		`{"timestamp":1,"input_length":1,"output_length":2}` + "\r\n" + `{"a":"` + "\xff\x01" + `"}`,
		`{"timestamp":1,"input_length":1,"output_length":2} {}`,
		`{"timestamp":1,"input_length":1,"output_length":2,"d":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
}

func FuzzMooncakeReader(f *testing.F) {
	jsonlSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, skip bool) {
		fuzzJSONL(t, data, skip, mooncakeConfig(MooncakeOptions{BlockSize: 64}))
	})
}

func FuzzJSONLReader(f *testing.F) {
	jsonlSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, skip bool) {
		fuzzJSONL(t, data, skip, JSONLConfig{
			Timestamp: "timestamp", ContextTokens: "input_length", GeneratedTokens: "output_length",
			TimeUnit: time.Second, KeepFields: true,
		})
	})
}
