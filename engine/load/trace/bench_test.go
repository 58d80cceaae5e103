package trace

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

// bigBenchRows is the row count of the Azure 2024 week-long conv trace, the
// size BenchmarkAzure2024Generated uses with LLMLOAD_BIG_BENCH=1 (about
// 1.2 GB of CSV in the benchmark's temporary directory).
const bigBenchRows = 27_303_999

// drain reads src to the end and returns the number of rows.
func drain(b *testing.B, src Source) int64 {
	var n int64
	for {
		_, err := src.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// peakRSS returns VmHWM from /proc/self/status in MiB, or -1 where there is
// no such file.
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return -1
			}
			return kb / 1024
		}
	}
	return -1
}

// resetPeakRSS returns freed memory to the OS and restarts VmHWM from the
// current RSS (Linux clear_refs 5), so the reported peak belongs to this
// benchmark, not to the one before.
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

func reportRows(b *testing.B, rows int64) {
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
}

// BenchmarkAzure2023 reads the shared 2023 conv trace: from the file as a
// user would, and from memory repeated 50 times (about 970k rows) to show
// the parser's own speed without the page cache.
func BenchmarkAzure2023(b *testing.B) {
	path := testenv.SharedData(b, "azure2023/AzureLLMInferenceTrace_conv.csv")
	b.Run("file", func(b *testing.B) {
		st, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(st.Size())
		var rows int64
		for b.Loop() {
			r, err := OpenAzure(path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			rows += drain(b, r)
			r.Close()
		}
		reportRows(b, rows)
	})
	b.Run("memory", func(b *testing.B) {
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		header, body, _ := bytes.Cut(raw, []byte("\n"))
		if !bytes.HasSuffix(body, []byte("\n")) {
			body = append(body, "\r\n"...)
		}
		data := append(append(header, '\n'), bytes.Repeat(body, 50)...)
		b.SetBytes(int64(len(data)))
		var rows int64
		for b.Loop() {
			rows += drain(b, NewAzureReader(bytes.NewReader(data), "conv-x50.csv", Options{}))
		}
		reportRows(b, rows)
	})
}

// BenchmarkAzure2024Generated writes a 2024-format trace (explicit +00:00
// zone, six fractional digits or none, LF) of synthetic rows into a
// temporary file and reads it back, reporting rows/s and the peak RSS of the
// read. 1M rows by default; LLMLOAD_BIG_BENCH=1 writes the full week's 27.3M
// rows (about 1.2 GB) to show that memory stays flat.
func BenchmarkAzure2024Generated(b *testing.B) {
	n := int64(1_000_000)
	if os.Getenv("LLMLOAD_BIG_BENCH") == "1" {
		n = bigBenchRows
	}
	path := filepath.Join(b.TempDir(), "azure2024_conv.csv")
	size := writeAzure2024(b, path, n)
	b.SetBytes(size)
	resetPeakRSS()
	var rows int64
	for b.Loop() {
		r, err := OpenAzure(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if got := drain(b, r); got != n {
			b.Fatalf("read %d rows, wrote %d", got, n)
		}
		rows += n
		r.Close()
	}
	reportRows(b, rows)
	b.ReportMetric(peakRSS(), "peak-RSS-MiB")
	b.ReportMetric(float64(size)/(1<<20), "file-MiB")
}

// writeAzure2024 writes n synthetic rows in the 2024 format, starting at
// the real trace's first instant, and returns the file size.
func writeAzure2024(b *testing.B, path string, n int64) int64 {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(azureHeader + "\n")
	epoch := time.Date(2024, 5, 12, 0, 0, 0, 0, time.UTC)
	// The week-long trace averages 45 req/s.
	src := SynthAzureConv(SynthConfig{Seed: 2024, Rate: float64(bigBenchRows) / (7 * 86400)})
	var line []byte
	for range n {
		row, _ := src.Next()
		t := epoch.Add(row.At.Truncate(time.Microsecond))
		line = t.AppendFormat(line[:0], "2006-01-02 15:04:05")
		if us := t.Nanosecond() / 1000; us != 0 {
			// Python's isoformat: six digits when the microsecond is not zero.
			line = append(line, '.')
			line = append(line, strconv.Itoa(1_000_000 + us)[1:]...)
		}
		line = append(line, "+00:00,"...)
		line = strconv.AppendInt(line, int64(row.ContextTokens), 10)
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(row.GeneratedTokens), 10)
		line = append(line, '\n')
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

// BenchmarkSynthAzureConv is the cost of one synthetic row.
func BenchmarkSynthAzureConv(b *testing.B) {
	src := SynthAzureConv(SynthConfig{Seed: 1})
	for b.Loop() {
		src.Next()
	}
}

// BenchmarkSynthAzureCode is the cost of one synthetic code-trace row.
func BenchmarkSynthAzureCode(b *testing.B) {
	src := SynthAzureCode(SynthConfig{Seed: 1})
	for b.Loop() {
		src.Next()
	}
}
