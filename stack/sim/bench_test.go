package sim

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmload/llmload/stack/sim/batching"
)

// The per-token path must not allocate: rendering a chunk appends into the
// request's reused buffer.
func BenchmarkRenderChunk(b *testing.B) {
	tools, _ := parseTools([]byte(`[{"function":{"name":"search","parameters":{"properties":{"query":{}}}}}]`))
	for _, kind := range []string{"chat", "completion", "tool-call"} {
		b.Run(kind, func(b *testing.B) {
			chat := kind != "completion"
			s := &Server{modelJSON: []byte(`"meta-llama/Llama-3.1-8B-Instruct"`)}
			g := &genRequest{chat: chat, continuousUsage: true, promptTokens: 1000, maxTokens: 1 << 30, tools: tools}
			out := newOutput(1, 1<<30, 0, true)
			if kind == "tool-call" {
				g.toolChoice.mode = choiceRequired
				cfg := Config{ToolCallsMax: 1, ToolArgsTokens: 1 << 29}
				out = newAnswer(1, g, &cfg)
			}
			r := &request{s: s, g: g, out: out}
			r.head = s.renderHead(nil, "chatcmpl-0123456789abcdef0123456789abcdef", 1700000000, chat)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r.buf = r.buf[:0]
				r.renderChunks(i+1, i+2, false)
			}
		})
	}
}

func BenchmarkSchedulerStep256(b *testing.B) {
	sch, _ := batching.New(batching.Config{MaxNumSeqs: 256, MaxNumBatchedTokens: 8192, BlockSize: 16, NumBlocks: DefaultNumGPUBlocks, PrefixCaching: true})
	add := func(i int) {
		o := newOutput(uint64(i), 1<<20, 0, true)
		p := make([]int32, 500)
		for j := range p {
			p[j] = int32(i*1000 + j)
		}
		sch.Add(&batching.Request{Prompt: p, OutputLen: o.n, OutputToken: o.tokenID}, 0)
	}
	for i := range 256 {
		add(i)
	}
	for sch.NumWaiting() > 0 { // prefill everything
		sch.Schedule(0)
		sch.Finish(0)
	}
	b.ReportAllocs()
	for b.Loop() {
		sch.Schedule(0)
		sch.Finish(0)
	}
}

// TestSimHelperProcess is the server side of BenchmarkFixedStreams, run in
// a child process (GOMAXPROCS=1) so that the benchmark measures what one
// core of simulator serves. It does nothing in a normal test run.
func TestSimHelperProcess(t *testing.T) {
	if os.Getenv("LLMLOAD_SIM_HELPER") != "1" {
		t.Skip("helper process for BenchmarkFixedStreams")
	}
	cfg := DefaultConfig()
	cfg.Profile = ProfileFixed
	cfg.TTFT, _ = time.ParseDuration(os.Getenv("LLMLOAD_SIM_TTFT"))
	cfg.ITL, _ = time.ParseDuration(os.Getenv("LLMLOAD_SIM_ITL"))
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv("LLMLOAD_SIM_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	go s.Serve(ln)
	fmt.Printf("listening %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
	s.Close()
}

// procCPU is the CPU time (user+system) process pid has used so far.
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, true // USER_HZ = 100
}

// BenchmarkFixedStreams measures how many concurrent streams one core of
// simulator serves at ITL 10 ms: a child process with GOMAXPROCS=1 serves
// N streams of 200 tokens each while raw-socket clients record when every
// token arrives. It reports
//   - admit-*: from sending a request to the server's receipt stamp (the
//     ReceiptHeader), which includes admitting a burst of N requests;
//   - late-*: how late token k arrived against receipt + TTFT + k*ITL,
//     the delivery error of the simulator's absolute schedule;
//   - server-cpu-% and server-us/token from the child's /proc accounting;
//
// and logs the simulator's own count of late deliveries. Set
// LLMLOAD_SIM_CPUPROFILE to profile the server.
func BenchmarkFixedStreams(b *testing.B) {
	for _, n := range []int{100, 500, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchFixedStreams(b, n) })
	}
}

func benchFixedStreams(b *testing.B, streams int) {
	const (
		tokens = 200
		ttft   = 20 * time.Millisecond
		itl    = 10 * time.Millisecond
	)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSimHelperProcess$")
	cmd.Env = append(os.Environ(), "LLMLOAD_SIM_HELPER=1", "GOMAXPROCS=1",
		"LLMLOAD_SIM_TTFT="+ttft.String(), "LLMLOAD_SIM_ITL="+itl.String())
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening ") {
		b.Fatalf("helper: %q %v", line, err)
	}
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening "))

	conns := make([]net.Conn, streams)
	for i := range conns {
		if conns[i], err = net.Dial("tcp", addr); err != nil {
			b.Fatal(err)
		}
		defer conns[i].Close()
	}
	var lateness, admits []time.Duration
	var wallTotal, cpuTotal time.Duration
	b.ResetTimer()
	for range b.N {
		cpu0, haveCPU := procCPU(cmd.Process.Pid)
		t0 := time.Now()
		results := make([]streamResult, streams)
		var wg sync.WaitGroup
		for i, c := range conns {
			wg.Go(func() { results[i] = oneStream(b, c, i, tokens) })
		}
		wg.Wait()
		wallTotal += time.Since(t0)
		if cpu1, ok := procCPU(cmd.Process.Pid); ok && haveCPU {
			cpuTotal += cpu1 - cpu0
		}
		for _, r := range results {
			if len(r.at) != tokens || r.receipt.IsZero() {
				b.Fatalf("%d tokens arrived (receipt %v), want %d", len(r.at), r.receipt, tokens)
			}
			admits = append(admits, r.receipt.Sub(r.sent))
			for k, at := range r.at {
				lateness = append(lateness, at.Sub(r.receipt)-ttft-time.Duration(k)*itl)
			}
		}
	}
	b.StopTimer()
	q := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[int(p*float64(len(d)-1))]) / 1e6
	}
	b.ReportMetric(q(admits, 0.5), "admit-p50-ms")
	b.ReportMetric(q(admits, 0.99), "admit-p99-ms")
	b.ReportMetric(q(lateness, 0.5), "late-p50-ms")
	b.ReportMetric(q(lateness, 0.99), "late-p99-ms")
	b.ReportMetric(q(lateness, 1), "late-max-ms")
	n := b.N * streams * tokens
	b.ReportMetric(100*cpuTotal.Seconds()/wallTotal.Seconds(), "server-cpu-%")
	b.ReportMetric(float64(cpuTotal.Microseconds())/float64(n), "server-us/token")
	b.ReportMetric(float64(n)/wallTotal.Seconds(), "tokens/s")
	b.ReportMetric(float64(runtime.NumCPU()), "cpus")
	if m := scrape(addr); m != "" {
		b.Logf("simulator's own account:\n%s", m)
	}
}

func scrape(addr string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return ""
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
	b, _ := io.ReadAll(c)
	return grep(string(b), "llmload_sim_step_overruns_total", "llmload_sim_steps_total", "llmload_sim_lag_seconds_sum")
}

type streamResult struct {
	sent, receipt time.Time
	at            []time.Time // token arrivals
}

// oneStream runs one streaming request on c and records when it was sent,
// when the server says it received it, and when each token arrived.
func oneStream(b *testing.B, c net.Conn, i, tokens int) streamResult {
	body := fmt.Sprintf(`{"prompt":"bench %d","max_tokens":%d,"ignore_eos":true,"stream":true}`, i, tokens)
	r := streamResult{sent: time.Now(), at: make([]time.Time, 0, tokens)}
	fmt.Fprintf(c, "POST /v1/completions HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	br := bufio.NewReaderSize(c, 64<<10)
	prefix := []byte(ReceiptHeader + ": ")
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			b.Errorf("stream %d: %v", i, err)
			return r
		}
		switch {
		case bytes.HasPrefix(line, []byte("data: {")):
			r.at = append(r.at, time.Now())
		case bytes.HasPrefix(line, prefix):
			ns, _ := strconv.ParseInt(string(bytes.TrimSpace(line[len(prefix):])), 10, 64)
			r.receipt = time.Unix(0, ns)
		case bytes.HasPrefix(line, []byte("data: [DONE]")):
			// Consume the terminating chunk so the connection is clean for
			// the next round.
			for {
				l, err := br.ReadSlice('\n')
				if err != nil || string(l) == "0\r\n" {
					br.ReadSlice('\n')
					return r
				}
			}
		}
	}
}
