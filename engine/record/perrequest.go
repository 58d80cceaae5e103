package record

import "github.com/llmload/llmload/engine/request"

// The per-request definitions the recorder aggregates, exported so that
// other sinks (the Prometheus exporter, engine/prom) count exactly what the
// summary and the windows count, from one implementation.

// EachITL calls f(gapNs, k) for every token-bearing event of r after the
// first: its gap since the previous event, already divided by k, the
// number of tokens the event carried; the gap stands for k per-token
// inter-token latencies (docs/metrics.md, ITL). It does not allocate.
func EachITL(r *request.Result, f func(gapNs float64, k int64)) { eachITL(r, f) }

// InputTokens is the prompt length a completed request counts for in
// total_input_tokens: the server's usage.prompt_tokens when it reported
// one, else the requested length.
func InputTokens(r *request.Result) int64 { return inputTokens(r) }
