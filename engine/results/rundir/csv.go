package rundir

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ExportCSV writes requests.csv and windows.csv in outDir from the .jsonl
// files of the results directory dir, for spreadsheets and pandas. It
// returns the files written; a missing windows.jsonl writes no windows.csv.
//
// A CSV column is a JSON key, in the order keys first appear; nested
// objects are flattened with dots (tags.kind, errors_by_class.timeout) and
// arrays (itl_ms) are joined with ';'. null is an empty cell.
func ExportCSV(dir, outDir string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(dir, SummaryFile)); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, RequestsFile)); err2 != nil {
			return nil, fmt.Errorf("%s is not a results directory of llmload run: it has neither %s nor %s", dir, SummaryFile, RequestsFile)
		}
	}
	var written []string
	for _, f := range []struct {
		in, out  string
		required bool
	}{{RequestsFile, "requests.csv", true}, {WindowsFile, "windows.csv", false}} {
		in := filepath.Join(dir, f.in)
		if _, err := os.Stat(in); errors.Is(err, fs.ErrNotExist) && !f.required {
			continue
		}
		out := filepath.Join(outDir, f.out)
		if err := jsonlToCSV(in, out); err != nil {
			return written, err
		}
		written = append(written, out)
	}
	return written, nil
}

// jsonlToCSV converts one file in two passes (the first finds the
// columns), so memory stays at one line whatever the file's size.
func jsonlToCSV(in, out string) error {
	var cols []string
	seen := map[string]bool{}
	err := eachJSONObject(in, func(row map[string]string, keys []string) {
		for _, k := range keys {
			if !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	})
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := csv.NewWriter(bw)
	_ = w.Write(cols)
	rec := make([]string, len(cols))
	err = eachJSONObject(in, func(row map[string]string, _ []string) {
		for i, c := range cols {
			rec[i] = row[c]
		}
		_ = w.Write(rec)
	})
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

// eachJSONObject calls fn with every line of a .jsonl file flattened to
// cells, and the keys in the line's order.
func eachJSONObject(path string, fn func(row map[string]string, keys []string)) error {
	r := &Run{Dir: filepath.Dir(path)}
	return r.eachLine(filepath.Base(path), true, func(line []byte) error {
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		row := map[string]string{}
		var keys []string
		if err := flattenObject(dec, "", row, &keys); err != nil {
			return err
		}
		fn(row, keys)
		return nil
	})
}

// flattenObject reads one JSON object from dec into row, keeping key order
// (encoding/json's maps would lose it).
func flattenObject(dec *json.Decoder, prefix string, row map[string]string, keys *[]string) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("expected a JSON object, got %v", t)
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		key := prefix + kt.(string)
		if !dec.More() {
			return fmt.Errorf("key %q has no value", key)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		switch {
		case len(raw) > 0 && raw[0] == '{':
			sub := json.NewDecoder(bytes.NewReader(raw))
			sub.UseNumber()
			if err := flattenObject(sub, key+".", row, keys); err != nil {
				return err
			}
			continue
		case len(raw) > 0 && raw[0] == '[':
			var items []any
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&items); err != nil {
				return err
			}
			parts := make([]string, len(items))
			for i, it := range items {
				parts[i] = cell(it)
			}
			row[key] = strings.Join(parts, ";")
		default:
			var v any
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				return err
			}
			row[key] = cell(v)
		}
		if !slices.Contains(*keys, key) {
			*keys = append(*keys, key)
		}
	}
	_, err = dec.Token() // '}'
	return err
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
