package prom

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/results/record"
)

const ms = time.Millisecond

// completed builds a completed result sent at 1 s with tokens at the given
// offsets from send (one per event unless counts says otherwise).
func completed(seq int64, tokens []time.Duration, counts []int32, completion int) *request.Result {
	r := &request.Result{
		Seq: seq, Scheduled: time.Second, Released: time.Second + 1*ms,
		Dispatched: time.Second + 3*ms, Sent: time.Second + 3*ms,
		TokenTimes: tokens, TokenCounts: counts,
		PromptTokens: 100, PromptTokensRequested: 98, CompletionTokens: completion,
		UsageFromServer: true, Status: 200,
	}
	r.Headers = r.Sent + 10*ms
	r.FirstToken = r.Sent + tokens[0]
	r.LastByte = r.Sent + tokens[len(tokens)-1] + ms
	return r
}

func newTest(t *testing.T, info Info) (*prometheus.Registry, *Exporter, *Scenario) {
	t.Helper()
	reg := prometheus.NewRegistry()
	e, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Scenario(info)
	if err != nil {
		t.Fatal(err)
	}
	return reg, e, s
}

// TestObserveSeries checks the exact series a handful of known results
// produce: outcomes, classes, goodput and tokens.
func TestObserveSeries(t *testing.T) {
	reg, _, s := newTest(t, Info{Name: "chat", URL: "http://h:8000", Model: "m", Version: "v1",
		SLO: record.SLO{TTFT: 150 * ms}})

	fast := completed(0, []time.Duration{100 * ms, 200 * ms, 250 * ms}, nil, 3)
	slow := completed(1, []time.Duration{400 * ms, 500 * ms}, nil, 2) // misses the TTFT objective
	slow.PromptTokens = 0                                             // no usage: the requested length counts
	httpErr := &request.Result{Seq: 2, Scheduled: 2 * time.Second, Released: 2 * time.Second,
		Dispatched: 2 * time.Second, Sent: 2 * time.Second, LastByte: 2*time.Second + 5*ms,
		Status: 503, Error: request.ErrHTTPStatus, PromptTokensRequested: 50}
	drop := &request.Result{Seq: 3, Scheduled: 3 * time.Second, Released: 3*time.Second + 2*ms,
		Error: request.ErrDropped}
	for _, r := range []*request.Result{fast, slow, httpErr, drop} {
		s.Observe(r)
	}

	want := `
# HELP llmload_good_requests_total Completed requests that met every objective of the scenario's SLO (goodput); all completed ones without an SLO.
# TYPE llmload_good_requests_total counter
llmload_good_requests_total{scenario="chat"} 1
# HELP llmload_info Always 1: the scenario's endpoint, model and llmload version.
# TYPE llmload_info gauge
llmload_info{model="m",scenario="chat",url="http://h:8000",version="v1"} 1
# HELP llmload_input_tokens_total Prompt tokens of completed requests: usage.prompt_tokens, else the requested length.
# TYPE llmload_input_tokens_total counter
llmload_input_tokens_total{scenario="chat"} 198
# HELP llmload_output_tokens_total Output tokens of completed requests: usage.completion_tokens, else counted token events.
# TYPE llmload_output_tokens_total counter
llmload_output_tokens_total{scenario="chat"} 5
# HELP llmload_requests_total Finished requests by outcome: completed, failed (sent and failed) or dropped (never sent: the concurrency gate was full).
# TYPE llmload_requests_total counter
llmload_requests_total{outcome="completed",scenario="chat"} 2
llmload_requests_total{outcome="dropped",scenario="chat"} 1
llmload_requests_total{outcome="failed",scenario="chat"} 1
# HELP llmload_requests_in_flight Requests executing now (sent, not finished).
# TYPE llmload_requests_in_flight gauge
llmload_requests_in_flight{scenario="chat"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		NameGoodRequests, NameInfo, NameInputTokens, NameOutputTokens, NameRequests, NameInFlight); err != nil {
		t.Fatal(err)
	}
	errs := map[string]float64{}
	for _, m := range family(t, reg, NameRequestErrors).Metric {
		errs[label(m, LabelClass)] = m.Counter.GetValue()
	}
	if len(errs) != len(errorClasses) || errs["http_status"] != 1 || errs["dropped"] != 1 || errs["timeout"] != 0 {
		t.Fatalf("error counters %v: want every class, http_status 1, dropped 1, others 0", errs)
	}

	// Latencies: completed requests only; queue time of sent ones; lag of all.
	checkHist(t, reg, NameTTFT, 2, 0.5)                 // 100 ms + 400 ms
	checkHist(t, reg, NameTPOT, 2, (0.151/2)+(0.101/1)) // (E2E-TTFT)/(n-1): (251-100)/2, (501-400)/1 ms
	checkHist(t, reg, NameITL, 3, 0.1+0.05+0.1)         // gaps after the first event
	checkHist(t, reg, NameE2E, 2, 0.251+0.501)
	checkHist(t, reg, NameQueueTime, 3, 0.002+0.002+0) // dispatched - released; not the dropped one
	checkHist(t, reg, NameScheduleLag, 4, 0.001+0.001+0+0.002)
}

// TestITLPerToken checks that an event carrying k tokens gives k ITL
// samples of gap/k, as the recorder's ITL (docs/metrics.md).
func TestITLPerToken(t *testing.T) {
	reg, _, s := newTest(t, Info{Name: "x"})
	s.Observe(completed(0, []time.Duration{50 * ms, 90 * ms, 150 * ms}, []int32{3, 4, 1}, 8))
	// Event 1 (4 tokens, 40 ms gap): 4 x 10 ms; event 2: 60 ms. The first
	// event's extra tokens arrived with the first token: no ITL.
	checkHist(t, reg, NameITL, 5, 0.1)
	h := family(t, reg, NameITL).Metric[0].Histogram
	for _, b := range h.Bucket {
		if b.GetUpperBound() == 0.01 && b.GetCumulativeCount() != 4 {
			t.Fatalf("le=0.01 holds %d samples, want the 4 of 10 ms", b.GetCumulativeCount())
		}
	}
}

// TestMatchesRecorder feeds the same random results to the recorder and
// the exporter: every total and every histogram's count and sum must be
// what the summary reports, so Prometheus and summary.json never disagree
// on a definition.
func TestMatchesRecorder(t *testing.T) {
	slo := record.SLO{TTFT: 80 * ms, TPOT: 12 * ms}
	reg, _, s := newTest(t, Info{Name: "rand", SLO: slo})
	rec, err := record.New(record.Config{Name: "rand", Epoch: time.Now(), SLO: slo})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		r := randomResult(rng, int64(i))
		rec.Record(r)
		s.Observe(r)
	}
	sum, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	outcome := func(o string) float64 {
		for _, m := range family(t, reg, NameRequests).Metric {
			if label(m, LabelOutcome) == o {
				return m.Counter.GetValue()
			}
		}
		return -1
	}
	eq := func(what string, got float64, want int64) {
		t.Helper()
		if got != float64(want) {
			t.Errorf("%s: exporter %v, recorder %d", what, got, want)
		}
	}
	eq("completed", outcome(OutcomeCompleted), sum.Completed)
	eq("failed+dropped", outcome(OutcomeFailed)+outcome(OutcomeDropped), sum.Failed)
	eq("dropped", outcome(OutcomeDropped), sum.Dropped)
	eq("good", value(t, reg, NameGoodRequests), sum.GoodRequests)
	eq("input tokens", value(t, reg, NameInputTokens), sum.TotalInputTokens)
	eq("output tokens", value(t, reg, NameOutputTokens), sum.TotalOutputTokens)
	for _, m := range family(t, reg, NameRequestErrors).Metric {
		eq("errors "+label(m, LabelClass), m.Counter.GetValue(), sum.ErrorsByClass[label(m, LabelClass)])
	}
	if sum.GoodRequests == 0 || sum.GoodRequests == sum.Completed || sum.Dropped == 0 || sum.TPOT.N == 0 {
		t.Fatalf("random results do not exercise every case: %+v", sum)
	}
	for name, st := range map[string]record.Stats{
		NameTTFT: sum.TTFT, NameTPOT: sum.TPOT, NameITL: sum.ITL, NameE2E: sum.E2EL,
		NameQueueTime: sum.QueueTime, NameScheduleLag: sum.ScheduleLag,
	} {
		checkHist(t, reg, name, st.N, st.Mean*float64(st.N)/1e9)
	}
}

func randomResult(rng *rand.Rand, seq int64) *request.Result {
	due := time.Duration(seq) * 10 * ms
	r := &request.Result{Seq: seq, Scheduled: due, Released: due + time.Duration(rng.IntN(2000))*time.Microsecond,
		PromptTokensRequested: 10 + rng.IntN(1000)}
	switch x := rng.IntN(20); {
	case x == 0:
		r.Error = request.ErrDropped
		return r
	case x == 1:
		r.Error = errorClasses[rng.IntN(len(errorClasses)-1)]
	}
	r.Dispatched = r.Released + time.Duration(rng.IntN(50))*ms
	r.Sent = r.Dispatched + 20*time.Microsecond
	r.Headers = r.Sent + 5*ms
	r.LastByte = r.Headers + ms
	if r.Failed() {
		return r
	}
	if rng.IntN(2) == 0 {
		r.PromptTokens = r.PromptTokensRequested + rng.IntN(5) - 2
	}
	events := rng.IntN(40)      // 0: a completed request with no token at all
	counted := rng.IntN(3) == 0 // the server said how many tokens each event carried
	at := 30*ms + time.Duration(rng.IntN(100))*ms
	for range events {
		r.TokenTimes = append(r.TokenTimes, at)
		n := int32(1)
		if counted {
			n = int32(1 + rng.IntN(4))
			r.TokenCounts = append(r.TokenCounts, n)
		}
		r.CompletionTokens += int(n)
		at += time.Duration(5+rng.IntN(15)) * ms
	}
	if events > 0 {
		r.FirstToken = r.Sent + r.TokenTimes[0]
		r.LastByte = r.Sent + at
	}
	return r
}

// TestLiveGauges checks the scrape-time gauges: in flight and queued from
// Watch, the target rate only when the run knows one, and one series per
// scenario.
func TestLiveGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	e, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	rate := 4.0
	a, _ := e.Scenario(Info{Name: "a", TargetRate: func() float64 { return rate }})
	if _, err := e.Scenario(Info{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Scenario(Info{Name: "a"}); err == nil {
		t.Fatal("a second scenario named a was accepted; its series would mix with the first's")
	}
	if _, err := e.Scenario(Info{}); err == nil {
		t.Fatal("a scenario without a name was accepted")
	}
	a.Watch(func() Live { return Live{InFlight: 7, Queued: 3} })
	want := `
# HELP llmload_requests_in_flight Requests executing now (sent, not finished).
# TYPE llmload_requests_in_flight gauge
llmload_requests_in_flight{scenario="a"} 7
llmload_requests_in_flight{scenario="b"} 0
# HELP llmload_requests_queued Requests waiting at the concurrency gate for a free slot now.
# TYPE llmload_requests_queued gauge
llmload_requests_queued{scenario="a"} 3
llmload_requests_queued{scenario="b"} 0
# HELP llmload_target_rate_rps Arrival rate the scenario's schedule asks for now, in requests per second (constant, poisson, gamma arrivals).
# TYPE llmload_target_rate_rps gauge
llmload_target_rate_rps{scenario="a"} 4
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), NameInFlight, NameQueued, NameTargetRate); err != nil {
		t.Fatal(err)
	}
	rate = math.Inf(1) // "as fast as possible" has no rate to graph
	if n, err := testutil.GatherAndCount(reg, NameTargetRate); err != nil || n != 0 {
		t.Fatalf("target rate +Inf: %d series (%v), want none", n, err)
	}
	if _, err := New(reg); err == nil {
		t.Fatal("a second exporter on the same registry was accepted")
	}
	if _, err := New(nil); err == nil {
		t.Fatal("New(nil) was accepted")
	}
}

// TestLint runs client_golang's metric linter over every series.
func TestLint(t *testing.T) {
	reg, _, s := newTest(t, Info{Name: "lint", TargetRate: func() float64 { return 1 }})
	s.Observe(completed(0, []time.Duration{10 * ms, 20 * ms}, nil, 2))
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		// llmload_info is a gauge by design (as vllm:cache_config_info).
		if p.Metric == NameInfo {
			continue
		}
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func family(t *testing.T, g prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	t.Fatalf("no %s series", name)
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func value(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mf := family(t, g, name)
	if len(mf.Metric) != 1 {
		t.Fatalf("%s: %d series, want 1", name, len(mf.Metric))
	}
	m := mf.Metric[0]
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s is neither counter nor gauge", name)
	return 0
}

func checkHist(t *testing.T, g prometheus.Gatherer, name string, count int64, sum float64) {
	t.Helper()
	mf := family(t, g, name)
	if len(mf.Metric) != 1 {
		t.Fatalf("%s: %d series, want 1", name, len(mf.Metric))
	}
	h := mf.Metric[0].Histogram
	if int64(h.GetSampleCount()) != count || math.Abs(h.GetSampleSum()-sum) > 1e-9*math.Max(1, math.Abs(sum)) {
		t.Errorf("%s: count %d sum %.9f, want %d and %.9f", name, h.GetSampleCount(), h.GetSampleSum(), count, sum)
	}
}

// TestInfoURLRedacted: a key in the endpoint URL never becomes a label.
func TestInfoURLRedacted(t *testing.T) {
	reg, _, _ := newTest(t, Info{Name: "chat", URL: "http://u:pw@h:8000/v1?api_key=sk-label", Model: "m", Version: "v1"})
	mf := family(t, reg, NameInfo)
	got := label(mf.Metric[0], "url")
	if strings.Contains(got, "sk-label") || strings.Contains(got, "pw") || got != "http://REDACTED@h:8000/v1?api_key=REDACTED" {
		t.Errorf("llmload_info url label = %q", got)
	}
}
