package accuracy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/llmload/llmload/engine/self/jitter"
)

// probeInterval is the probe's time between deadlines. Each wake-up
// costs a timer programming and two context switches, ~30 µs of CPU on a
// small VM: at 2 ms the probe uses ~2 % of a CPU per CPU probed and
// sees every stall of 2 ms or more (one of 1 ms with even odds). A
// stall it misses counts against the simulator, never for it.
const probeInterval = 2 * time.Millisecond

// probeArgs are the `llmload jitter` flags of a calibration's probe: run
// until stopped, print each stall as it happens, then the report as JSON.
func probeArgs() []string {
	return []string{"--duration", "0", "--stalls", "--json", "--threshold", "1ms", "--interval", probeInterval.String()}
}

// SelfProbeCommand runs the jitter probe as `<this executable> jitter
// ARGS`.
func SelfProbeCommand(args []string) (*exec.Cmd, error) {
	return selfCommand("jitter", "the jitter probe", args)
}

// probeChild is a running `llmload jitter` whose stalls are collected as
// it prints them.
type probeChild struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{} // closed when stdout is drained

	stopOnce sync.Once
	stopErr  error

	mu     sync.Mutex
	stalls jitter.Stalls
	report *jitter.Report
	err    error
}

func startProbe(cmd *exec.Cmd) (*probeChild, error) {
	p := &probeChild{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the jitter probe (%s): %w", cmd.Path, err)
	}
	go p.read(out)
	return p, nil
}

// read collects "stall CPU AT_NS LATE_NS" lines, then parses what
// follows them as the final JSON report.
func (p *probeChild) read(r io.Reader) {
	defer close(p.done)
	br := bufio.NewReader(r)
	var rest bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		if strings.HasPrefix(line, "stall ") {
			if s, ok := parseStallLine(line); ok {
				p.mu.Lock()
				p.stalls.Add(s)
				p.mu.Unlock()
			}
		} else {
			rest.WriteString(line)
			if err == nil {
				_, err = rest.ReadFrom(br) // the report: everything after the stalls
			}
		}
		if err != nil {
			break
		}
	}
	var rep jitter.Report
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := json.Unmarshal(rest.Bytes(), &rep); err != nil {
		p.err = fmt.Errorf("the jitter probe's report is not JSON (%v): %q", err, strings.TrimSpace(rest.String()))
		return
	}
	p.report = &rep
}

func parseStallLine(line string) (jitter.Stall, bool) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "stall" {
		return jitter.Stall{}, false
	}
	cpu, e1 := strconv.Atoi(f[1])
	at, e2 := strconv.ParseInt(f[2], 10, 64)
	late, e3 := strconv.ParseInt(f[3], 10, 64)
	if e1 != nil || e2 != nil || e3 != nil {
		return jitter.Stall{}, false
	}
	return jitter.Stall{CPU: cpu, At: at, Late: time.Duration(late)}, true
}

// PID is the probe's process id; 0 for a nil probe (none running).
func (p *probeChild) PID() int {
	if p == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// stop ends the probe (SIGTERM: it prints its report and exits) and
// returns the report and every stall it saw. Calling it again returns the
// same.
func (p *probeChild) stop() (*jitter.Report, *jitter.Stalls, error) {
	p.stopOnce.Do(p.terminate)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.report, &p.stalls, p.stopErr
}

func (p *probeChild) terminate() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	werr := p.cmd.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.report == nil {
		p.stopErr = p.err
		if p.stopErr == nil {
			p.stopErr = fmt.Errorf("the jitter probe exited (%v) without a report: %s", werr, p.stderr)
		}
	}
}

// overrunLog is the simulator's /debug/overruns: its late deliveries on
// CLOCK_MONOTONIC.
type overrunLog struct {
	Logged   int64      `json:"logged"`
	Retained int64      `json:"retained"`
	Overruns [][2]int64 `json:"overruns"` // [due ns, lag ns]
}

func fetchOverruns(ctx context.Context, url string, since int64) (*overrunLog, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/debug/overruns?since="+strconv.FormatInt(since, 10), nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading the simulator's overrun log: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading the simulator's overrun log: HTTP %d", resp.StatusCode)
	}
	var l overrunLog
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		return nil, fmt.Errorf("reading the simulator's overrun log: %w", err)
	}
	return &l, nil
}

// duringStalls counts the overruns whose wait, from due to start, overlaps
// a stall the probe saw on any CPU: the machine did not run a thread that
// asked to run then, so the delivery could not have started either.
func duringStalls(l *overrunLog, stalls *jitter.Stalls) int64 {
	var n int64
	for _, o := range l.Overruns {
		if stalls.Overlaps(o[0], o[0]+o[1]) {
			n++
		}
	}
	return n
}

// fillStalls stops the probe and matches the simulator's overruns of the
// step, [monoStart, monoEnd] on CLOCK_MONOTONIC, against the stalls the
// probe saw.
func (r *StepResult) fillStalls(ctx context.Context, p *probeChild, simURL string, monoStart, monoEnd int64) {
	rep, stalls, err := p.stop()
	m := &r.Machine
	if err != nil {
		m.Error = err.Error()
		return
	}
	m.Known = true
	w, n, stalled, longest := rep.Totals()
	m.Wakeups, m.Stalls = w, n
	m.StalledMs, m.LongestMs = float64(stalled)/1e6, float64(longest)/1e6
	for _, c := range rep.CPUs {
		m.WakeP99Ms = max(m.WakeP99Ms, float64(c.P99)/1e6)
	}
	if span := monoEnd - monoStart; span > 0 {
		m.Coverage = float64(stalls.Covered(monoStart, monoEnd)) / float64(span)
	}
	l, err := fetchOverruns(ctx, simURL, monoStart)
	if err != nil {
		m.Error = err.Error()
		return
	}
	r.Sim.Matched = true
	r.Sim.DuringStalls = min(duringStalls(l, stalls), r.Sim.Overruns)
	r.Sim.Own = r.Sim.Overruns - r.Sim.DuringStalls // unlisted (log overflow) count as its own
	if r.Sim.Deliveries > 0 {
		r.Sim.OwnFraction = float64(r.Sim.Own) / float64(r.Sim.Deliveries)
	}
}
