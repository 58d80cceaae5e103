package record

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// randomResult is a result with every field the line carries set, some of
// them (session, tags, token counts, failure, drop) only sometimes.
func randomResult(rng *rand.Rand) *request.Result {
	us := func(n int) time.Duration { return time.Duration(rng.IntN(n)) * time.Microsecond }
	r := &request.Result{
		Seq: rng.Int64N(1e6), Scenario: "chat \"x\"", SourceLine: rng.IntN(100),
		Scheduled: us(1e7) + time.Duration(rng.IntN(1000)), Status: 200,
		BytesSent: rng.Int64N(1e5), BytesRecv: rng.Int64N(1e6), SSEEvents: rng.IntN(500),
		PromptTokensRequested: rng.IntN(4000), MaxTokens: rng.IntN(500),
		FinishReason: "length", Truncated: rng.IntN(2) == 0, UsageFromServer: rng.IntN(2) == 0,
	}
	r.Released = r.Scheduled + us(1000)
	r.Dispatched = r.Released + us(1000)
	r.Sent = r.Dispatched + us(100)
	r.Headers = r.Sent + us(1000)
	if rng.IntN(3) > 0 {
		r.PromptTokens = 1 + rng.IntN(4000)
	}
	if rng.IntN(2) == 0 {
		r.Session = request.SessionRef{ID: "s-7", User: rng.IntN(9), Turn: 1 + rng.IntN(5)}
	}
	if rng.IntN(2) == 0 {
		r.Tags = map[string]string{"tenant": "a", "k\n": "v\u00e9"}
	}
	events := rng.IntN(40)
	multi := rng.IntN(2) == 0
	t := r.Headers - r.Sent + time.Duration(rng.IntN(1e6))
	for i := range events {
		k := int32(1)
		if multi {
			k = int32(1 + rng.IntN(4))
			r.TokenCounts = append(r.TokenCounts, k)
		}
		if i > 0 {
			// Gaps divisible by k, as a gap split in k equal ITLs must be
			// to round-trip to the nanosecond.
			t += time.Duration(k) * time.Duration(1+rng.IntN(2e7))
		}
		r.TokenTimes = append(r.TokenTimes, t)
		r.CompletionTokens += int(k)
	}
	r.LastByte = r.Headers + us(1000)
	if events > 0 {
		r.FirstToken = r.Sent + r.TokenTimes[0]
		r.LastByte = r.Sent + r.TokenTimes[events-1] + us(1000)
	}
	switch rng.IntN(6) {
	case 0:
		r.Error, r.ErrorMsg, r.Status = request.ErrHTTPStatus, "503 busy", 503
	case 1:
		*r = request.Result{Seq: r.Seq, Scenario: r.Scenario, Scheduled: r.Scheduled, Released: r.Released,
			Error: request.ErrDropped, ErrorMsg: "gate full", PromptTokensRequested: r.PromptTokensRequested}
	}
	return r
}

func TestParseRequestLineRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		want := randomResult(rng)
		good, warm := rng.IntN(2) == 0, rng.IntN(2) == 0
		line := appendLineVerdict(appendRequestLine(nil, want), good, warm)
		got, err := ParseRequestLine(line)
		if err != nil {
			t.Fatalf("result %d: %v\n%s", i, err, line)
		}
		again := appendLineVerdict(appendRequestLine(nil, &got.Result), got.Good, got.Warmup)
		if !bytes.Equal(again, line) {
			t.Fatalf("result %d: the line read back writes\n%s\nnot\n%s", i, again, line)
		}
		g := &got.Result
		if g.Scheduled != want.Scheduled || g.Released != want.Released || g.Sent != want.Sent ||
			g.FirstToken != want.FirstToken || g.LastByte != want.LastByte || g.Error != want.Error ||
			len(g.TokenTimes) != len(want.TokenTimes) || got.Good != good || got.Warmup != warm {
			t.Fatalf("result %d: read back %+v, want %+v", i, g, want)
		}
		var wantITL, gotITL []float64
		EachITL(want, func(gap float64, k int64) { wantITL = append(wantITL, gap, float64(k)) })
		EachITL(g, func(gap float64, k int64) { gotITL = append(gotITL, gap, float64(k)) })
		if len(wantITL) != len(gotITL) {
			t.Fatalf("result %d: %d ITL events, want %d", i, len(gotITL)/2, len(wantITL)/2)
		}
		for j := range wantITL {
			if wantITL[j] != gotITL[j] {
				t.Fatalf("result %d: ITL %v, want %v", i, gotITL, wantITL)
			}
		}
	}
}

func TestParseRequestLineErrors(t *testing.T) {
	base := string(appendLineVerdict(appendRequestLine(nil, randomResult(rand.New(rand.NewPCG(3, 3)))), true, false))
	for name, c := range map[string]struct{ line, want string }{
		"not json":       {"{", "unexpected EOF"},
		"no seq":         {`{"scenario":"x"}`, `no "seq"`},
		"no scheduled":   {`{"seq":1,"released_ms":1}`, `"scheduled_ms" is missing`},
		"bad instant":    {`{"seq":1,"scheduled_ms":"x","released_ms":1}`, "invalid number"},
		"itl without ev": {`{"seq":1,"scheduled_ms":0,"released_ms":0,"itl_ms":[1,2],"token_events":0}`, "token_events is 0"},
		"counts length":  {`{"seq":1,"scheduled_ms":0,"released_ms":0,"itl_ms":[1],"token_events":2,"token_counts":[1]}`, "1 entries for 2"},
		"too few itl":    {`{"seq":1,"scheduled_ms":0,"released_ms":0,"itl_ms":[1],"token_events":2,"token_counts":[1,3]}`, "fewer than"},
		"too many itl":   {`{"seq":1,"scheduled_ms":0,"released_ms":0,"itl_ms":[1,1,1],"token_events":2,"token_counts":[1,2]}`, "more than"},
		"negative itl":   {`{"seq":1,"scheduled_ms":0,"released_ms":0,"itl_ms":[-1],"token_events":2}`, "not an interval"},
		"empty error":    {strings.Replace(base, `"error":null`, `"error":""`, 1), "a success is null"},
	} {
		_, err := ParseRequestLine([]byte(c.line))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}

func TestParseMsExact(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"0": 0, "1": time.Millisecond, "0.000001": 1, "754.187303": 754187303, "-0.0025": -2500,
		"86400000": 24 * time.Hour, "1e3": time.Second, "1.5E-3": 1500,
	} {
		if got, err := parseMs(s); err != nil || got != want {
			t.Errorf("parseMs(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-", "x", "1.2.3", "1e400"} {
		if _, err := parseMs(s); err == nil {
			t.Errorf("parseMs(%q) gave no error", s)
		}
	}
}

// Whatever a line holds, reading it never panics, and a line that reads
// is written again as a line that reads back to the same line.
func FuzzParseRequestLine(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 8 {
		f.Add(appendLineVerdict(appendRequestLine(nil, randomResult(rng)), true, rng.IntN(2) == 0))
	}
	f.Add([]byte(`{"seq":1,"scheduled_ms":0,"released_ms":0,"itl_ms":[1,1,1],"token_events":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseRequestLine(b)
		if err != nil {
			return
		}
		w1 := appendLineVerdict(appendRequestLine(nil, &l.Result), l.Good, l.Warmup)
		l2, err := ParseRequestLine(w1)
		if err != nil {
			t.Fatalf("a line written from a parsed line does not read: %v\n%s", err, w1)
		}
		if w2 := appendLineVerdict(appendRequestLine(nil, &l2.Result), l2.Good, l2.Warmup); !bytes.Equal(w1, w2) {
			t.Fatalf("not stable:\n%s\n%s", w1, w2)
		}
	})
}
