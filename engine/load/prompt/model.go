package prompt

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/llmload/llmload/engine/load/request"
)

// Model is the linear words-to-tokens model of one endpoint of one served
// model: tokens = A*words + B. A is the tokens each synthetic word costs in
// the server's tokenizer (1 for the Llama-3 and GPT-4 families), B the
// fixed overhead the server adds around the text (BOS token, the chat
// template's role headers and generation prompt). A Model is a value.
type Model struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
}

// Identity is the model used when nothing is known: one token per word and
// no overhead.
var Identity = Model{A: 1, B: 0}

// Tokens is the predicted token count of a prompt of the given word count.
func (m Model) Tokens(words int) float64 { return m.A*float64(words) + m.B }

// WordsFor is the word count whose predicted token count is nearest to
// tokens; at least 1, since an empty prompt is not a prompt.
func (m Model) WordsFor(tokens int) int {
	a := m.A
	if !(a > 0) || math.IsInf(a, 0) {
		a = 1
	}
	w := math.Round((float64(tokens) - m.B) / a)
	if !(w >= 1) { // also catches NaN
		return 1
	}
	if w > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(w)
}

// Method says where a Calibration's model came from.
type Method string

const (
	// MethodTokenize: fitted once from the server's POST /tokenize.
	MethodTokenize Method = "tokenize"
	// MethodUsage: learned online from usage.prompt_tokens of responses,
	// because the server has no usable /tokenize.
	MethodUsage Method = "usage"
	// MethodFixed: given by the caller, never refitted.
	MethodFixed Method = "fixed"
)

// Point is one calibration measurement: a synthetic prompt of Words words
// that the server counted as Tokens tokens.
type Point struct {
	Words  int `json:"words"`
	Tokens int `json:"tokens"`
}

// Report is a Calibration's state for a run's summary metadata. The
// per-request error (|usage.prompt_tokens - requested|) is measured by the
// recorder; this records the model it came from.
type Report struct {
	Endpoint string  `json:"endpoint"`
	Method   Method  `json:"method"`
	A        float64 `json:"a"`
	B        float64 `json:"b"`
	// Points are the /tokenize measurements (tokenize) or the first
	// observations (usage, at most maxKeptPoints).
	Points []Point `json:"points,omitempty"`
	// Samples is the number of observations the usage fit used.
	Samples int `json:"samples,omitempty"`
	// Residuals of Points against the model, in tokens.
	MaxResidual float64 `json:"max_residual_tokens"`
	RMSResidual float64 `json:"rms_residual_tokens"`
	MaxModelLen int     `json:"max_model_len,omitempty"` // as /tokenize reported it
	Note        string  `json:"note,omitempty"`          // why calibration fell back, if it did
}

const (
	ringSize      = 4096 // words of recent synthetic requests, for pairing with usage
	maxKeptPoints = 1024 // usage observations kept for the report's residuals
	wordsMask     = 1<<24 - 1
)

// Calibration holds the Model for one endpoint of one served model and,
// in MethodUsage, learns it from responses.
//
// Concurrency: Model and WordsFor are lock-free (one atomic load) and may
// be called from the planner while results arrive; NoteSent is lock-free;
// Observe and Report take an internal mutex. All methods are safe for
// concurrent use.
type Calibration struct {
	endpoint    request.Endpoint
	method      Method
	maxModelLen int
	note        string
	prior       Model

	cur atomic.Pointer[Model]

	// words of recent synthetic requests, indexed by seq; each slot packs
	// a request tag (upper 40 bits) and the word count (lower 24).
	ring [ringSize]atomic.Uint64

	mu               sync.Mutex
	n                float64
	sw, st, sww, swt float64
	points           []Point
	fitPoints        []Point // tokenize: the fit's measurements
}

// NewFixed returns a Calibration that always uses m.
func NewFixed(ep request.Endpoint, m Model) *Calibration {
	c := &Calibration{endpoint: ep, method: MethodFixed, prior: m}
	c.cur.Store(&m)
	return c
}

// NewOnline returns a Calibration that starts from prior and refits A and
// B by least squares from every observation (see Observe).
func NewOnline(ep request.Endpoint, prior Model) *Calibration {
	c := &Calibration{endpoint: ep, method: MethodUsage, prior: prior}
	c.cur.Store(&prior)
	return c
}

// Endpoint is the endpoint the calibration was made for.
func (c *Calibration) Endpoint() request.Endpoint { return c.endpoint }

// Method says how the model was obtained.
func (c *Calibration) Method() Method { return c.method }

// Learning reports whether Observe refines the model (MethodUsage).
func (c *Calibration) Learning() bool { return c.method == MethodUsage }

// Model is the current model.
func (c *Calibration) Model() Model { return *c.cur.Load() }

// WordsFor is the word count for a prompt of the given token count under
// the current model.
func (c *Calibration) WordsFor(tokens int) int { return c.cur.Load().WordsFor(tokens) }

func requestTag(scenario string, seq int64) uint64 {
	return StreamID(scenario, seq) &^ wordsMask
}

// NoteSent records that request (scenario, seq) carried a synthetic prompt
// of the given word count, so that Observe can pair its result with it. Only the last ringSize requests are remembered, which is plenty
// for learning from early responses. A no-op unless Learning.
func (c *Calibration) NoteSent(scenario string, seq int64, words int) {
	if c.method != MethodUsage || words <= 0 || words > wordsMask {
		return
	}
	c.ring[uint64(seq)%ringSize].Store(requestTag(scenario, seq) | uint64(words))
}

// Observe feeds a result's usage.prompt_tokens, paired with the word count
// NoteSent recorded for the same request (by r.Scenario and r.Seq).
// Results without server usage, and requests that NoteSent did not record
// (not synthetic, or too old), are ignored. A no-op unless Learning. Wire
// it to the run's result callback.
func (c *Calibration) Observe(r *request.Result) {
	if r.UsageFromServer {
		c.observe(r.Scenario, r.Seq, r.PromptTokens)
	}
}

func (c *Calibration) observe(scenario string, seq int64, promptTokens int) {
	if c.method != MethodUsage || promptTokens <= 0 {
		return
	}
	v := c.ring[uint64(seq)%ringSize].Load()
	if v&^wordsMask != requestTag(scenario, seq) || v&wordsMask == 0 {
		return
	}
	c.ObserveWords(int(v&wordsMask), promptTokens)
}

// ObserveWords feeds one (words sent, tokens counted) pair directly and
// refits the model. A no-op unless Learning.
func (c *Calibration) ObserveWords(words, promptTokens int) {
	if c.method != MethodUsage || words <= 0 || promptTokens <= 0 {
		return
	}
	w, t := float64(words), float64(promptTokens)
	c.mu.Lock()
	c.n++
	c.sw += w
	c.st += t
	c.sww += w * w
	c.swt += w * t
	if len(c.points) < maxKeptPoints {
		c.points = append(c.points, Point{Words: words, Tokens: promptTokens})
	}
	m := fitSums(c.n, c.sw, c.st, c.sww, c.swt, c.prior)
	c.mu.Unlock()
	c.cur.Store(&m)
}

// fitSums is ordinary least squares of tokens on words from running sums.
// With a single distinct word count the slope is unknowable: keep the
// prior's and fit the intercept. A slope outside [0.2, 20] tokens per word
// means the data is not linear in words (or is noise around one point);
// the same fallback applies.
func fitSums(n, sw, st, sww, swt float64, prior Model) Model {
	if n == 0 {
		return prior
	}
	den := n*sww - sw*sw
	if den > 1e-9*n*sww {
		a := (n*swt - sw*st) / den
		if a >= 0.2 && a <= 20 {
			return Model{A: a, B: (st - a*sw) / n}
		}
	}
	return Model{A: prior.A, B: (st - prior.A*sw) / n}
}

// Fit fits a Model to points by least squares.
func Fit(points []Point, prior Model) Model {
	var n, sw, st, sww, swt float64
	for _, p := range points {
		w, t := float64(p.Words), float64(p.Tokens)
		n++
		sw += w
		st += t
		sww += w * w
		swt += w * t
	}
	return fitSums(n, sw, st, sww, swt, prior)
}

// residuals returns the largest and the root-mean-square |tokens - fit|.
func residuals(points []Point, m Model) (maxAbs, rms float64) {
	if len(points) == 0 {
		return 0, 0
	}
	var ss float64
	for _, p := range points {
		r := math.Abs(float64(p.Tokens) - m.Tokens(p.Words))
		maxAbs = max(maxAbs, r)
		ss += r * r
	}
	return maxAbs, math.Sqrt(ss / float64(len(points)))
}

// String is a one-line summary for progress output and result metadata,
// e.g. "tokenize (chat): tokens = 1.000*words + 8.0, max residual 0.0 over 3 points".
func (c *Calibration) String() string {
	r := c.Report()
	s := fmt.Sprintf("%s (%s): tokens = %.3f*words %+.1f", r.Method, r.Endpoint, r.A, r.B)
	switch {
	case r.Method == MethodUsage:
		s += fmt.Sprintf(", %d samples", r.Samples)
		if r.Samples > 0 {
			s += fmt.Sprintf(", max residual %.1f", r.MaxResidual)
		}
	case len(r.Points) > 0:
		s += fmt.Sprintf(", max residual %.1f over %d points", r.MaxResidual, len(r.Points))
	}
	if r.Note != "" {
		s += "; " + r.Note
	}
	return s
}

// Report describes the calibration as it stands.
func (c *Calibration) Report() Report {
	m := c.Model()
	r := Report{
		Endpoint:    c.endpoint.String(),
		Method:      c.method,
		A:           m.A,
		B:           m.B,
		MaxModelLen: c.maxModelLen,
		Note:        c.note,
	}
	c.mu.Lock()
	switch c.method {
	case MethodTokenize:
		r.Points = append([]Point(nil), c.fitPoints...)
	case MethodUsage:
		r.Points = append([]Point(nil), c.points...)
		r.Samples = int(c.n)
	}
	c.mu.Unlock()
	r.MaxResidual, r.RMSResidual = residuals(r.Points, m)
	return r
}
