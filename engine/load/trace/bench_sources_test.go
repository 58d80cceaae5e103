package trace

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

// burstGPTData renders n rows in BurstGPT's layout, every 50th failed.
func burstGPTData(n int) []byte {
	var b bytes.Buffer
	b.WriteString("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n")
	for i := range n {
		req, resp := 100+i%3000, 1+i%700
		if i%50 == 0 {
			resp = 0
		}
		model, lt := "ChatGPT", "Conversation log"
		if i%5 == 0 {
			model, lt = "GPT-4", "API log"
		}
		b.WriteString(strconv.Itoa(i / 3))
		b.WriteByte(',')
		b.WriteString(model)
		b.WriteByte(',')
		b.WriteString(strconv.Itoa(req))
		b.WriteByte(',')
		b.WriteString(strconv.Itoa(resp))
		b.WriteByte(',')
		b.WriteString(strconv.Itoa(req + resp))
		b.WriteByte(',')
		b.WriteString(lt)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// BenchmarkBurstGPT reads 200k generated BurstGPT rows from memory: the
// known columns only (no allocation per row), and with the other columns
// kept as fields.
func BenchmarkBurstGPT(b *testing.B) {
	data := burstGPTData(200_000)
	for _, keep := range []bool{false, true} {
		name := "columns"
		if keep {
			name = "fields"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var rows int64
			for b.Loop() {
				r := NewBurstGPTReader(bytes.NewReader(data), "b.csv", BurstGPTOptions{KeepFields: keep}, Options{})
				rows += drain(b, r)
			}
			reportRows(b, rows)
		})
	}
}

// BenchmarkCSVQuoted reads generic CSV rows whose fields are all quoted,
// the slower splitting path.
func BenchmarkCSVQuoted(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("\"ts\",\"in\",\"out\",\"note\"\n")
	for i := range 100_000 {
		buf.WriteString("\"" + strconv.Itoa(i) + ".25\",\"512\",\"128\",\"a \"\"quoted\"\", note\"\n")
	}
	data := buf.Bytes()
	cfg := CSVConfig{Timestamp: "ts", ContextTokens: "in", GeneratedTokens: "out", TimeUnit: time.Millisecond}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var rows int64
	for b.Loop() {
		rows += drain(b, NewCSVReader(bytes.NewReader(data), "q.csv", cfg, Options{}))
	}
	reportRows(b, rows)
}

// BenchmarkMooncake reads the shared Mooncake conversation trace (12,031
// rows, 3 MB): from the file, and from memory repeated 10 times.
func BenchmarkMooncake(b *testing.B) {
	path := testenv.SharedData(b, "mooncake/conversation_trace.jsonl")
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("file", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var rows int64
		for b.Loop() {
			r, err := OpenMooncake(path, MooncakeOptions{}, Options{})
			if err != nil {
				b.Fatal(err)
			}
			rows += drain(b, r)
			r.Close()
		}
		reportRows(b, rows)
	})
	b.Run("memory", func(b *testing.B) {
		big := bytes.Repeat(data, 10)
		b.SetBytes(int64(len(big)))
		b.ReportAllocs()
		var rows int64
		for b.Loop() {
			rows += drain(b, NewMooncakeReader(bytes.NewReader(big), "m.jsonl", MooncakeOptions{}, Options{}))
		}
		reportRows(b, rows)
	})
}

// BenchmarkJSONL reads generic JSON lines with two mapped keys and the
// rest decoded into Row.Fields (encoding/json per kept value).
func BenchmarkJSONL(b *testing.B) {
	var buf bytes.Buffer
	for i := range 50_000 {
		buf.WriteString(`{"t": ` + strconv.Itoa(i) + `, "in": 700, "out": 90, "user": "u` + strconv.Itoa(i%97) + `", "tags": ["a", "b"]}` + "\n")
	}
	data := buf.Bytes()
	for _, keep := range []bool{false, true} {
		name := "mapped"
		if keep {
			name = "fields"
		}
		b.Run(name, func(b *testing.B) {
			cfg := JSONLConfig{Timestamp: "t", ContextTokens: "in", GeneratedTokens: "out", KeepFields: keep}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var rows int64
			for b.Loop() {
				rows += drain(b, NewJSONLReader(bytes.NewReader(data), "g.jsonl", cfg, Options{}))
			}
			reportRows(b, rows)
		})
	}
}

// BenchmarkWrappers is the per-row cost of Skip, Window and Shard stacked
// on an in-memory source.
func BenchmarkWrappers(b *testing.B) {
	src := &loopSource{}
	w := Shard(Window(Skip(src, 1), 0, 0), 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

type loopSource struct{ i int64 }

func (l *loopSource) Next() (Row, error) {
	l.i++
	return Row{At: time.Duration(l.i), ContextTokens: 1}, nil
}
func (l *loopSource) Close() error { return nil }

var _ io.Closer = (*loopSource)(nil)
