// Package rundir reads a run's results directory (summary.json,
// requests.jsonl, windows.jsonl, server.jsonl; docs/metrics.md) into
// memory for reports, comparisons and exports. It only reads: the files
// are written by engine/results/record and engine/results/observe.
//
// A Run is a plain value built once by Load; it is safe to read from
// several goroutines and must not be modified.
package rundir

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"
)

// The file names a results directory holds.
const (
	SummaryFile  = "summary.json"
	RequestsFile = "requests.jsonl"
	WindowsFile  = "windows.jsonl"
	ServerFile   = "server.jsonl"
)

// Run is one results directory.
type Run struct {
	Dir string
	// Summary is summary.json as decoded JSON; read it with Num, Str and
	// Meta rather than by hand.
	Summary  map[string]any
	Requests []Request
	// ITL holds every request's inter-token latencies (ms) back to back;
	// Request.ITL gives a request's part.
	ITL     []float32
	Windows []Window
	// Server is server.jsonl, nil when the run did not sample a server.
	Server []ServerSample
}

// Missing is a value a results file left null or did not have; every
// float field of Request, Window and ServerSample uses it for "null".
var Missing = math.NaN()

// Present reports whether v holds a value (it is not Missing).
func Present(v float64) bool { return !math.IsNaN(v) }

// Request is one line of requests.jsonl, the fields reports use. Times and
// latencies are milliseconds; Missing where the line has null.
type Request struct {
	Seq                                             int64
	Scenario                                        string
	Turn                                            int // session scenarios, 1-based; 0 otherwise
	Scheduled, Released, Dispatched, Sent, LastByte float64
	TTFT, TPOT, E2EL                                float64
	QueueTime, ScheduleLag                          float64
	Error                                           string // "" when completed
	PromptTokens                                    int    // from usage; 0 when unknown
	PromptTokensRequested, CompletionTokens         int
	MaxTokens                                       int
	Tags                                            map[string]string
	Good, Warmup                                    bool
	itlLo, itlHi                                    int32
}

// Completed reports whether the request finished without error.
func (q *Request) Completed() bool { return q.Error == "" }

// Measured reports whether the request counts in the run's figures: it
// completed and is not warm-up (the summary leaves warm-up out).
func (q *Request) Measured() bool { return q.Error == "" && !q.Warmup }

// ITLOf returns q's inter-token latencies (ms), a part of r.ITL.
func (r *Run) ITLOf(q *Request) []float32 { return r.ITL[q.itlLo:q.itlHi] }

// Window is one line of windows.jsonl.
type Window struct {
	Start, End                   float64 // seconds from the epoch
	Partial                      bool
	Count, Completed, Failed     int64
	Good                         int64
	InputTokens, OutputTokens    int64
	RequestThroughput            float64
	OutputThroughput             float64
	RequestGoodput               float64
	P50TTFT, P95TTFT, P99TTFT    float64
	P50TPOT, P95TPOT, P99TPOT    float64
	P50E2EL, P95E2EL, P99E2EL    float64
	P50Queue, P95Queue, P99Queue float64
}

// ServerSample is one line of server.jsonl.
type ServerSample struct {
	T                    float64 // seconds from the epoch
	Running, Waiting     float64
	KVCacheUsage         float64 // 0..1
	GenerationTokensPerS float64
	PromptTokensPerS     float64
	PowerW               float64
	JPerGenerationToken  float64
}

// Load reads the results directory dir. summary.json and requests.jsonl
// must exist; windows.jsonl and server.jsonl may be absent.
func Load(dir string) (*Run, error) {
	r, err := LoadSummary(dir)
	if err != nil {
		return nil, err
	}
	if err := r.eachLine(RequestsFile, true, r.addRequest); err != nil {
		return nil, err
	}
	if err := r.eachLine(WindowsFile, false, r.addWindow); err != nil {
		return nil, err
	}
	r.Server = []ServerSample{}
	if err := r.eachLine(ServerFile, false, r.addServer); err != nil {
		return nil, err
	}
	if len(r.Server) == 0 {
		r.Server = nil
	}
	return r, nil
}

// LoadSummary reads only summary.json of the results directory dir: a Run
// with no requests, windows or server samples.
func LoadSummary(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a results directory of llmload run: it has no %s (give the directory a run wrote, e.g. results/<scenario>-<time>/)", dir, SummaryFile)
		}
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // seeds are 64-bit: a float64 would round them
	if err := dec.Decode(&r.Summary); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, SummaryFile), err)
	}
	return r, nil
}

// eachLine calls add for every non-empty line of the file name in r.Dir,
// turning its error into one that names the file and line.
func (r *Run) eachLine(name string, required bool, add func([]byte) error) error {
	path := filepath.Join(r.Dir, name)
	err := EachLine(path, func(line []byte, n int, _ int64) error {
		if perr := add(line); perr != nil {
			return fmt.Errorf("%s:%d: %v (is the file from llmload run, and whole?)", path, n, perr)
		}
		return nil
	})
	if !required && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// EachLine calls fn for every non-empty line of the file at path, with
// its 1-based number and its byte offset in the file, however long the
// line; fn's error stops the reading and is returned as it is.
func EachLine(path string, fn func(line []byte, n int, off int64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var off int64
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer (a very long answer's ITLs).
			buf := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				buf = append(buf, line...)
			}
			line = buf
		}
		if len(trimSpace(line)) > 0 {
			if ferr := fn(line, n, off); ferr != nil {
				return ferr
			}
		}
		off += int64(len(line))
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %v", path, n, err)
		}
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// Num returns the summary's number at key (top level), and whether it is
// there and a number.
func (r *Run) Num(key string) (float64, bool) { return Number(r.Summary[key]) }

// NumOr is Num with a default for a missing key.
func (r *Run) NumOr(key string, def float64) float64 {
	if v, ok := r.Num(key); ok {
		return v
	}
	return def
}

// Str returns the summary's string at key ("" when absent).
func (r *Run) Str(key string) string { s, _ := r.Summary[key].(string); return s }

// Meta returns summary.json's meta[key] (nil when absent).
func (r *Run) Meta(key string) any {
	m, _ := r.Summary["meta"].(map[string]any)
	return m[key]
}

// MetaStr returns meta[key] as text: strings as they are, numbers in
// their shortest form, "" when absent.
func (r *Run) MetaStr(key string) string {
	switch v := r.Meta(key).(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// Started is the run's epoch (summary.json started_at), zero when absent.
func (r *Run) Started() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, r.Str("started_at"))
	return t
}

// Name is the scenario's name.
func (r *Run) Name() string { return r.Str("name") }

// Number reads a number of Summary (or of a value inside it), and
// whether v is one.
func Number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}
