// Package wire holds the facts of the wire between llmload's client and a
// vLLM-compatible server that both sides must agree on: vLLM's histogram
// buckets, which the simulator serves and the client's exporter mirrors,
// and the header in which llmload's simulator stamps a request's receipt.
// One copy, so the two sides cannot drift. A leaf: it imports nothing, so
// stack/sim can use it without depending on the engine.
package wire

// SimReceiptHeader is the response header in which llmload's simulator
// says when it received a request, as Unix nanoseconds. With it a client
// on the same host splits its TTFT into the way there (ServerReceived -
// Sent), the server's time, and the way back.
const SimReceiptHeader = "X-Llmload-Sim-Receipt"

// Histogram bucket upper bounds, in seconds, from vLLM's
// vllm/v1/metrics/loggers.py. Dashboards and histogram_quantile queries
// written for vLLM work unchanged on the simulator, and the client's
// histograms line up with the server's.
var (
	// TTFTBuckets: vllm:time_to_first_token_seconds.
	TTFTBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
		0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	// ITLBuckets: vllm:inter_token_latency_seconds and
	// vllm:request_time_per_output_token_seconds.
	ITLBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
		1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
	// RequestLatencyBuckets: vllm:e2e_request_latency_seconds and the
	// request phase histograms (queue, inference, prefill, decode).
	RequestLatencyBuckets = []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0,
		30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
)
