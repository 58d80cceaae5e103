package session

import (
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/results/record"
)

// stats is the executor's accounting. The counters are atomic (Report
// reads them from other goroutines); the distributions and sums belong to
// the driver and are read by Summary after Run.
type stats struct {
	started, completed, stopped, turns atomic.Int64
	thinking                           atomic.Int64 // sessions in a wait now
	users                              atomic.Int64 // closed-loop users running (the ramp's target)

	first, last time.Duration // Run's start and end on the run's clock

	perSession *hdrhistogram.Histogram // turns per ended session
	duration   *record.Dist            // session start to end
	waits      *record.Dist            // each think time or tool latency asked for
	cost       *record.Dist            // one Program.Next: a session step between two turns or waits
	start      *record.Dist            // one Program.Begin: a session's start (its coroutine is made)
	cpu        *record.Dist            // the driver thread's CPU time of one Program.Next (Linux)
	busy, all  time.Duration           // sums over ended sessions: waiting for answers, and their whole length
	thinkSum   time.Duration           // sum over ended sessions of their waits
}

func newStats() *stats {
	return &stats{
		perSession: hdrhistogram.New(1, 1<<20, 3),
		duration:   record.NewDist(), waits: record.NewDist(), cost: record.NewDist(), start: record.NewDist(), cpu: record.NewDist(),
	}
}

func (st *stats) begin(now time.Duration) { st.first = now }
func (st *stats) end(now time.Duration)   { st.last = now }

func (st *stats) stepCost(d time.Duration)  { st.cost.Add(d) }
func (st *stats) startCost(d time.Duration) { st.start.Add(d) }
func (st *stats) stepCPU(d time.Duration)   { st.cpu.Add(d) }
func (st *stats) think(d time.Duration)     { st.waits.Add(d) }

func (st *stats) ended(s *Session, now time.Duration, completed bool) {
	if completed {
		st.completed.Add(1)
	} else {
		st.stopped.Add(1)
	}
	_ = st.perSession.RecordValue(int64(min(s.Turn, 1<<20))) // in range by the clamp
	d := now - s.Started
	st.duration.Add(d)
	st.busy += s.busy
	st.thinkSum += s.think
	st.all += d
}

func (st *stats) status() runner.SessionStatus {
	started, completed, stopped := st.started.Load(), st.completed.Load(), st.stopped.Load()
	return runner.SessionStatus{
		Active:    int(started - completed - stopped),
		Users:     int(st.users.Load()),
		Thinking:  int(st.thinking.Load()),
		Started:   started,
		Completed: completed,
		Stopped:   stopped,
		Turns:     st.turns.Load(),
	}
}

// Summary is the sessions section of summary.json.
type Summary struct {
	Mode      string `json:"mode"` // "users", "ramping_users", "steered_users" (a capacity search) or "arrivals"
	Started   int64  `json:"started"`
	Completed int64  `json:"completed"` // ended on their own
	Stopped   int64  `json:"stopped"`   // cut short: end of run, ramp-down, limit
	Turns     int64  `json:"turns"`     // requests sent

	TurnsPerSession struct {
		Mean float64 `json:"mean"`
		P50  int64   `json:"p50"`
		P90  int64   `json:"p90"`
		Max  int64   `json:"max"`
	} `json:"turns_per_session"`
	Duration record.StatsMS `json:"session_duration"`
	Think    record.StatsMS `json:"think_time"` // each wait a session asked for

	// StepCost is the time of one call into the session program (Lua)
	// between two of its requests or waits; StartCost of the call that
	// starts a session (its coroutine is made). Measured, and not hidden
	// in think time.
	StepCost  record.StatsMS `json:"step_cost"`
	StartCost record.StatsMS `json:"start_cost"`
	// StepCPU is the driver thread's CPU time of each step (Linux; empty
	// elsewhere): the step's own cost, where StepCost also counts the time
	// the machine gave the thread to others.
	StepCPU record.StatsMS `json:"step_cpu"`

	// TurnRate is the achieved rate of requests (turns per second over
	// the run). Closed-loop users slow down with a slow server, so
	// ServerWaitShare says what part of the sessions' time was spent
	// waiting for answers, and ZeroLatencyTurnRate the rate the same
	// sessions would have sent had every answer been instant: the offered
	// load.
	TurnRate            float64 `json:"turn_rate"`
	ServerWaitShare     float64 `json:"server_wait_share"`
	ZeroLatencyTurnRate float64 `json:"zero_latency_turn_rate"`
}

func (st *stats) summary(mode string) *Summary {
	s := &Summary{
		Mode: mode, Started: st.started.Load(), Completed: st.completed.Load(), Stopped: st.stopped.Load(),
		Turns: st.turns.Load(), Duration: st.duration.Stats().MS(), Think: st.waits.Stats().MS(), StepCost: st.cost.Stats().MS(), StartCost: st.start.Stats().MS(), StepCPU: st.cpu.Stats().MS(),
	}
	h := st.perSession
	if h.TotalCount() > 0 {
		s.TurnsPerSession.Mean = h.Mean()
		s.TurnsPerSession.P50 = h.ValueAtQuantile(50)
		s.TurnsPerSession.P90 = h.ValueAtQuantile(90)
		s.TurnsPerSession.Max = h.Max()
	}
	if span := st.last - st.first; span > 0 {
		s.TurnRate = float64(s.Turns) / span.Seconds()
	}
	if st.all > 0 {
		s.ServerWaitShare = float64(st.busy) / float64(st.all)
		if idle := st.all - st.busy; idle > 0 {
			s.ZeroLatencyTurnRate = s.TurnRate * float64(st.all) / float64(idle)
		}
	}
	return s
}
