package accuracy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmload/llmload/stack/sim"
)

// simulator is a running `fixed`-profile simulator on loopback.
type simulator interface {
	URL() string // http://127.0.0.1:PORT
	PID() int    // the child's process id; 0 when in-process
	Close() error
}

// simArgs are the `llmload sim` flags of a fixed-profile simulator with
// the given timing on a free loopback port.
func simArgs(ttft, itl time.Duration) []string {
	return []string{"--addr", "127.0.0.1:0", "--profile", sim.ProfileFixed,
		"--ttft", ttft.String(), "--itl", itl.String()}
}

// SelfSimCommand runs the simulator as `<this executable> sim ARGS`: the
// child process of `llmload calibrate --separate-process`.
func SelfSimCommand(args []string) (*exec.Cmd, error) {
	return selfCommand("sim", "the simulator", args)
}

// selfCommand runs `<this executable> SUB ARGS`; what names it in errors.
func selfCommand(sub, what string, args []string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the llmload executable to start %s: %w", what, err)
	}
	return exec.Command(exe, append([]string{sub}, args...)...), nil
}

type inProcSim struct {
	srv *sim.Server
	url string
}

func startInProcess(ttft, itl time.Duration) (*inProcSim, error) {
	cfg := sim.DefaultConfig()
	cfg.Profile, cfg.TTFT, cfg.ITL = sim.ProfileFixed, ttft, itl
	srv, err := sim.New(cfg, prometheus.NewRegistry())
	if err != nil {
		return nil, fmt.Errorf("starting the in-process simulator: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("listening on loopback for the simulator: %w", err)
	}
	go srv.Serve(ln)
	return &inProcSim{srv: srv, url: "http://" + ln.Addr().String()}, nil
}

func (s *inProcSim) URL() string  { return s.url }
func (s *inProcSim) PID() int     { return 0 }
func (s *inProcSim) Close() error { return s.srv.Close() }

// childSim is `llmload sim` in its own process.
type childSim struct {
	cmd    *exec.Cmd
	url    string
	stderr *lockedBuffer
	waited chan struct{}
	err    error // Wait's result, valid once waited is closed
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil // enough to explain a failure
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}

// startChild starts cmd (a `llmload sim` command line) and waits for the
// line that names its URL ("... on http://127.0.0.1:PORT").
func startChild(ctx context.Context, cmd *exec.Cmd, gomaxprocs int) (*childSim, error) {
	c := &childSim{cmd: cmd, stderr: &lockedBuffer{}, waited: make(chan struct{})}
	cmd.Stderr = c.stderr
	if gomaxprocs > 0 {
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(gomaxprocs))
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the simulator (%s): %w", cmd.Path, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.waited)
	}()
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, " on http://"); i >= 0 && !found {
				found = true
				urls <- strings.TrimSpace(line[i+len(" on "):])
			}
		}
		io.Copy(io.Discard, out)
	}()
	wait := time.NewTimer(15 * time.Second)
	defer wait.Stop()
	select {
	case c.url = <-urls:
	case <-c.waited:
		return nil, fmt.Errorf("the simulator (%s) exited before serving: %v: %s", cmd.Path, c.err, c.stderr)
	case <-wait.C:
		c.Close()
		return nil, fmt.Errorf("the simulator (%s) printed no URL within 15s: %s", cmd.Path, c.stderr)
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
	if err := waitHealthy(ctx, c.url); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *childSim) URL() string { return c.url }
func (c *childSim) PID() int    { return c.cmd.Process.Pid }

// Close stops the child gracefully (SIGTERM: the simulator closes its
// connections) and kills it if it has not exited within 5 s.
func (c *childSim) Close() error {
	select {
	case <-c.waited:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-c.waited:
		return nil
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.waited
		return fmt.Errorf("the simulator (pid %d) ignored SIGTERM for 5s and was killed", c.cmd.Process.Pid)
	}
}

func waitHealthy(ctx context.Context, url string) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the simulator at %s is not healthy: %w", url, err)
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// simCounters are the simulator's own timing counters from /metrics:
// how many token deliveries it timed, how many started more than 1 ms
// late, and the histogram of how late each started.
type simCounters struct {
	Deliveries float64
	Overruns   float64
	LagSum     float64   // seconds
	LagLE      []float64 // bucket upper bounds, seconds, +Inf last
	LagCount   []float64 // cumulative counts per bucket
}

const (
	metricSteps    = "llmload_sim_steps_total"
	metricOverruns = "llmload_sim_step_overruns_total"
	metricLag      = "llmload_sim_lag_seconds"
)

func scrapeSim(ctx context.Context, url string) (simCounters, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return simCounters{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return simCounters{}, fmt.Errorf("reading the simulator's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return simCounters{}, fmt.Errorf("reading the simulator's metrics: %s/metrics answered %s", url, resp.Status)
	}
	return parseSimMetrics(resp.Body)
}

// parseSimMetrics reads the three llmload_sim_* series from Prometheus
// text exposition. Other series are skipped.
func parseSimMetrics(r io.Reader) (simCounters, error) {
	var c simCounters
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if !strings.HasPrefix(line, "llmload_sim_") {
			continue
		}
		name, labels, val, err := splitSample(line)
		if err != nil {
			return c, fmt.Errorf("simulator metrics line %d: %w", ln, err)
		}
		switch name {
		case metricSteps:
			c.Deliveries += val
		case metricOverruns:
			c.Overruns += val
		case metricLag + "_sum":
			c.LagSum += val
		case metricLag + "_bucket":
			le, ok := labelValue(labels, "le")
			if !ok {
				return c, fmt.Errorf("simulator metrics line %d: bucket without le: %q", ln, line)
			}
			b, err := strconv.ParseFloat(le, 64)
			if err != nil {
				return c, fmt.Errorf("simulator metrics line %d: le %q: %w", ln, le, err)
			}
			if n := len(c.LagLE); n > 0 && b <= c.LagLE[n-1] {
				return c, fmt.Errorf("simulator metrics line %d: bucket le=%s out of order", ln, le)
			}
			c.LagLE = append(c.LagLE, b)
			c.LagCount = append(c.LagCount, val)
		default:
			continue
		}
		seen[name] = true
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("reading the simulator's metrics: %w", err)
	}
	for _, m := range []string{metricSteps, metricOverruns, metricLag + "_bucket"} {
		if !seen[m] {
			return c, fmt.Errorf("the simulator's /metrics has no %s: is it llmload's simulator?", m)
		}
	}
	return c, nil
}

// splitSample splits `name{labels} value` (labels optional).
func splitSample(line string) (name, labels string, val float64, err error) {
	rest := line
	if i := strings.IndexByte(line, '{'); i >= 0 {
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return "", "", 0, fmt.Errorf("unbalanced braces in %q", line)
		}
		name, labels, rest = line[:i], line[i+1:j], line[j+1:]
	} else {
		sp := strings.IndexByte(line, ' ')
		if sp < 0 {
			return "", "", 0, fmt.Errorf("no value in %q", line)
		}
		name, rest = line[:sp], line[sp:]
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", "", 0, fmt.Errorf("no value in %q", line)
	}
	val, err = strconv.ParseFloat(f[0], 64)
	if err != nil {
		return "", "", 0, fmt.Errorf("value of %q: %w", line, err)
	}
	return name, labels, val, nil
}

func labelValue(labels, key string) (string, bool) {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && k == key {
			return strings.Trim(v, `"`), true
		}
	}
	return "", false
}

// sub returns the counters accumulated between b and c (c later).
func (c simCounters) sub(b simCounters) (simCounters, error) {
	d := simCounters{
		Deliveries: c.Deliveries - b.Deliveries,
		Overruns:   c.Overruns - b.Overruns,
		LagSum:     c.LagSum - b.LagSum,
		LagLE:      c.LagLE,
		LagCount:   make([]float64, len(c.LagCount)),
	}
	if len(b.LagLE) != len(c.LagLE) {
		return d, errors.New("the simulator's lag buckets changed between scrapes")
	}
	for i := range c.LagCount {
		d.LagCount[i] = c.LagCount[i] - b.LagCount[i]
	}
	return d, nil
}

// lagQuantile is the upper bound of the bucket holding quantile q
// (+Inf when it is the overflow bucket, 0 with no deliveries).
func (c simCounters) lagQuantile(q float64) float64 {
	if len(c.LagCount) == 0 {
		return 0
	}
	total := c.LagCount[len(c.LagCount)-1]
	if total <= 0 {
		return 0
	}
	rank := math.Ceil(q * total)
	for i, n := range c.LagCount {
		if n >= rank {
			return c.LagLE[i]
		}
	}
	return math.Inf(1)
}
