package prom

// Histogram bucket upper bounds, in seconds. TTFT, ITL/TPOT and E2E use
// vLLM's own boundaries (vllm/v1/metrics/loggers.py:
// vllm:time_to_first_token_seconds, vllm:inter_token_latency_seconds and
// vllm:time_per_output_token_seconds, vllm:e2e_request_latency_seconds;
// stack/sim copies the same), so a dashboard can put the client's and the
// server's histograms side by side bucket for bucket, and their difference
// is network and HTTP overhead rather than bucketing error.
var (
	TTFTBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
		0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	ITLBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
		1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
	E2EBuckets = []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0,
		30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}

	// QueueBuckets: client queue time has no vLLM counterpart. It is 0 in
	// an open-loop run and grows to seconds or minutes when the concurrency
	// cap binds, so the range spans both (100 us to 10 min).
	QueueBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
		0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	// LagBuckets: the pacer's lateness is normally tens of microseconds;
	// milliseconds mean a busy machine, seconds a planner that fell behind.
	LagBuckets = []float64{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3,
		0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}
)
