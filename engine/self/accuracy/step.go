package accuracy

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Kind says how a step sets its load.
type Kind string

const (
	// Streams holds a number of streams in flight: requests arrive at
	// Streams / StreamTime per second, so with the fixed profile's
	// deterministic stream time exactly Streams are open at any moment
	// after the first StreamTime, evenly out of phase.
	Streams Kind = "streams"
	// Rate sends requests at a constant arrival rate; the streams in
	// flight follow (Rate x StreamTime).
	Rate Kind = "rate"
	// Sessions runs closed-loop chat sessions: Sessions users, each
	// running conversations of Turns turns one after another, every turn
	// resending the conversation so far with the simulator's real answers
	// (so request bodies grow turn by turn), Think between turns. Turns
	// after the first are measured apart from the first.
	Sessions Kind = "sessions"
)

// Step is one load level of a calibration. A Step is a value.
type Step struct {
	Kind    Kind
	Streams int     // Streams: streams to hold in flight
	Rate    float64 // Rate: requests per second
	// Sessions: closed-loop users (each has at most one request out),
	// the turns of each conversation, and the wait between turns.
	Sessions int
	Turns    int
	Think    time.Duration

	TTFT, ITL    time.Duration // the simulator's fixed profile
	Tokens       int           // output tokens per request (ignore_eos: exactly this many)
	PromptTokens int           // prompt length in words of the synthetic prompt
	// Length is the measured span. Requests are due from 0 to
	// StreamTime + Length: the first StreamTime is the warm-up, in which
	// streams open until the step is at full load (and connections are
	// dialed); requests sent in it are not in the error figures. The step
	// runs about Length + 2 x StreamTime.
	Length time.Duration
}

// Name is "streams=N", "rate=R" or "sessions=NxT" (T turns each).
func (s Step) Name() string {
	switch s.Kind {
	case Rate:
		return "rate=" + strconv.FormatFloat(s.Rate, 'f', -1, 64)
	case Sessions:
		return "sessions=" + strconv.Itoa(s.Sessions) + "x" + strconv.Itoa(s.Turns)
	}
	return "streams=" + strconv.Itoa(s.Streams)
}

// StreamTime is how long one request streams: TTFT + (Tokens-1) x ITL.
func (s Step) StreamTime() time.Duration {
	return s.TTFT + time.Duration(max(s.Tokens-1, 0))*s.ITL
}

// TurnTime is one closed-loop turn of a Sessions step: a stream and the
// think time after it. It is the warm-up of such a step: its users start
// evenly over one turn time, so that they stay out of phase.
func (s Step) TurnTime() time.Duration { return s.StreamTime() + s.Think }

// ArrivalRate is the requests per second the step's schedule asks for;
// for a Sessions step, the turn rate of its users had every turn lasted
// exactly its stream time (closed-loop users have no schedule).
func (s Step) ArrivalRate() float64 {
	switch s.Kind {
	case Rate:
		return s.Rate
	case Sessions:
		return float64(s.Sessions) / s.TurnTime().Seconds()
	}
	return float64(s.Streams) / s.StreamTime().Seconds()
}

// InFlight is how many streams the step keeps open in steady state.
func (s Step) InFlight() float64 {
	switch s.Kind {
	case Streams:
		return float64(s.Streams)
	case Sessions:
		return float64(s.Sessions) * s.StreamTime().Seconds() / s.TurnTime().Seconds()
	}
	return s.Rate * s.StreamTime().Seconds()
}

// Validate reports the first setting that cannot describe a step.
func (s Step) Validate() error {
	switch {
	case s.Kind != Streams && s.Kind != Rate && s.Kind != Sessions:
		return fmt.Errorf("step kind %q: want %q, %q or %q", s.Kind, Streams, Rate, Sessions)
	case s.Kind == Streams && s.Streams < 1:
		return fmt.Errorf("%s: streams must be at least 1", s.Name())
	case s.Kind == Sessions && s.Sessions < 1:
		return fmt.Errorf("%s: sessions must be at least 1", s.Name())
	case s.Kind == Sessions && s.Turns < 2:
		return fmt.Errorf("%s: turns must be at least 2 (the step measures the turns after the first), got %d", s.Name(), s.Turns)
	case s.Kind == Sessions && s.Think < 0:
		return fmt.Errorf("%s: think time must be >= 0, got %v", s.Name(), s.Think)
	case s.Kind == Rate && !(s.Rate > 0 && !math.IsInf(s.Rate, 0)):
		return fmt.Errorf("%s: rate must be a positive number of requests per second", s.Name())
	case s.TTFT <= 0:
		return fmt.Errorf("%s: TTFT must be positive, got %v", s.Name(), s.TTFT)
	case s.ITL <= 0:
		return fmt.Errorf("%s: ITL must be positive, got %v", s.Name(), s.ITL)
	case s.Tokens < 2:
		return fmt.Errorf("%s: tokens must be at least 2 (one ITL), got %d", s.Name(), s.Tokens)
	case s.PromptTokens < 1:
		return fmt.Errorf("%s: prompt tokens must be at least 1, got %d", s.Name(), s.PromptTokens)
	case s.Length < 100*time.Millisecond:
		return fmt.Errorf("%s: length must be at least 100ms, got %v", s.Name(), s.Length)
	}
	return nil
}

// MarshalJSON writes durations in milliseconds.
func (s Step) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name            string  `json:"name"`
		Kind            Kind    `json:"kind"`
		Streams         int     `json:"streams,omitempty"`
		Rate            float64 `json:"rate,omitempty"`
		Sessions        int     `json:"sessions,omitempty"`
		Turns           int     `json:"turns,omitempty"`
		ThinkMs         float64 `json:"think_ms,omitempty"`
		ArrivalRate     float64 `json:"arrival_rate"`
		InFlight        float64 `json:"expected_in_flight"`
		TTFTms          float64 `json:"ttft_ms"`
		ITLms           float64 `json:"itl_ms"`
		Tokens          int     `json:"tokens"`
		PromptTokens    int     `json:"prompt_tokens"`
		StreamTimeMs    float64 `json:"stream_time_ms"`
		LengthSeconds   float64 `json:"length_s"`
		TokensPerSec    float64 `json:"token_rate"`
		RequestsPlanned int64   `json:"requests_planned"`
	}{
		s.Name(), s.Kind, s.Streams, s.Rate, s.Sessions, s.Turns, ms(s.Think), s.ArrivalRate(), s.InFlight(),
		ms(s.TTFT), ms(s.ITL), s.Tokens, s.PromptTokens, ms(s.StreamTime()), s.Length.Seconds(),
		s.InFlight() / s.ITL.Seconds(), s.planned(),
	})
}

// warmup is the start of the measured span: one stream time (a Sessions
// step: one turn time), in which the load ramps to its full level.
func (s Step) warmup() time.Duration {
	if s.Kind == Sessions {
		return s.TurnTime()
	}
	return s.StreamTime()
}

// span is how long requests are due: warm-up plus the measured Length.
func (s Step) span() time.Duration { return s.warmup() + s.Length }

// planned is the number of requests the schedule holds: due at i/rate
// for every i with i/rate <= span. For a Sessions step, which has no
// schedule, it is what the turn rate would send in that time.
func (s Step) planned() int64 {
	return int64(math.Floor(s.span().Seconds()*s.ArrivalRate())) + 1
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// DefaultITL is the simulator ITL a stream step uses: 10 ms up to 200
// streams, 100 ms up to 1,000, 400 ms above. Each token is one write
// system call on the simulator's side and at least one read on the
// client's; on the 2-vCPU reference VM that is ~40 us of client and ~45 us
// of simulator CPU per token, so the token rate must stay near 10k tokens/s
// for the machine to measure the client rather than itself (5,000 streams
// at 100 ms would need about four CPUs). With these ITLs the 100-,
// 1,000- and 5,000-stream steps stream 7.7k, 9k and 9.5k tokens/s: they
// differ in concurrency, what they measure, not in token rate. 100 ms at
// 1,000 streams is also what one GPU gives: the simulator's H100 /
// Llama-3.1-8B cost model puts a 1,000-sequence decode step at ~75 ms
// before any prefill.
func DefaultITL(streams int) time.Duration {
	switch {
	case streams <= 200:
		return 10 * time.Millisecond
	case streams <= 1000:
		return 100 * time.Millisecond
	default:
		return 400 * time.Millisecond
	}
}

// DefaultTTFT is the simulator TTFT of every default step, the figure
// vLLM's published client-error measurements use.
const DefaultTTFT = 50 * time.Millisecond

// StreamStep is a Streams step with the default timing for n streams.
func StreamStep(n int, length time.Duration) Step {
	tokens := 16
	if n < 10 {
		tokens = 4 // enough requests to measure TTFT in a short step
	}
	return Step{Kind: Streams, Streams: n, TTFT: DefaultTTFT, ITL: DefaultITL(n),
		Tokens: tokens, PromptTokens: 64, Length: length}
}

// RateStep is a Rate step with short streams (4 tokens at ITL 10 ms), so
// that even 5,000 requests per second keep only ~400 streams open: it
// measures pacing and per-request cost rather than streaming.
func RateStep(rate float64, length time.Duration) Step {
	return Step{Kind: Rate, Rate: rate, TTFT: DefaultTTFT, ITL: 10 * time.Millisecond,
		Tokens: 4, PromptTokens: 64, Length: length}
}

// SessionStep is a Sessions step of n users with conversations of turns
// turns and no think time, so every answer is followed at once by the
// next turn carrying it. The timing is a stream step's at n streams
// (DefaultITL, 16 tokens): n sessions keep up to n streams open, and the
// later turns' TTFT error is held to the same bound as n one-shot
// streams'. Each user message is 64 words, so turn k's body carries about
// 80 x k words of conversation.
func SessionStep(n, turns int, length time.Duration) Step {
	return Step{Kind: Sessions, Sessions: n, Turns: turns, TTFT: DefaultTTFT, ITL: DefaultITL(n),
		Tokens: 16, PromptTokens: 64, Length: length}
}

// DefaultSteps is the calibration of `llmload calibrate`: 1, 10, 100,
// 1,000 and 5,000 streams, then 100, 1,000, 2,000 and 5,000 requests per
// second, then 100 and 1,000 sessions of 6 turns, each about ten seconds.
// Quick keeps 1, 100 and 1,000 streams, 1,000 requests per second and 100
// sessions at two seconds each (under 30 s in all).
func DefaultSteps(quick bool) []Step {
	if quick {
		const l = 2 * time.Second
		return []Step{StreamStep(1, l), StreamStep(100, l), StreamStep(1000, l), RateStep(1000, l),
			SessionStep(100, DefaultTurns, l)}
	}
	const l = 10 * time.Second
	return []Step{
		StreamStep(1, l), StreamStep(10, l), StreamStep(100, l), StreamStep(1000, l), StreamStep(5000, l),
		RateStep(100, l), RateStep(1000, l), RateStep(2000, l), RateStep(5000, l),
		SessionStep(100, DefaultTurns, l), SessionStep(1000, DefaultTurns, l),
	}
}

// DefaultTurns is the turns of each conversation of the default Sessions
// steps.
const DefaultTurns = 6
