package record

import (
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// FinishedAt is the instant a result counts as finished, for windows and
// the run's duration: the latest instant it carries. A sent request ends
// at its last byte; a dropped one at its release.
func FinishedAt(r *request.Result) time.Duration {
	return max(r.LastByte, r.FirstToken, r.Headers, r.Sent, r.Dispatched, r.Released, r.Scheduled)
}

// EachITL calls f(gap, k) for every token-bearing event after the first:
// the event's gap since the previous one, split into k equal inter-token
// latencies when it carried k tokens (as SGLang's bench_serving does; with
// one token per event this is vLLM's per-chunk ITL). Extra tokens in the
// first event have no ITL: they arrived with the first token.
func EachITL(r *request.Result, f func(gapNs float64, k int64)) {
	tt := r.TokenTimes
	for i := 1; i < len(tt); i++ {
		k := int64(1)
		if i < len(r.TokenCounts) && r.TokenCounts[i] > 1 {
			k = int64(r.TokenCounts[i])
		}
		f(float64(tt[i]-tt[i-1])/float64(k), k)
	}
}

// InputTokens is the prompt length a completed request counts for in
// total_input_tokens: the server's usage when it reported one, else what
// was requested.
func InputTokens(r *request.Result) int64 {
	if r.PromptTokens > 0 {
		return int64(r.PromptTokens)
	}
	return int64(r.PromptTokensRequested)
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
