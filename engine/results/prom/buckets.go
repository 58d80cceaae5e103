package prom

import "github.com/llmload/llmload/engine/shared/wire"

// Histogram bucket upper bounds, in seconds. TTFT, ITL/TPOT and E2E use
// vLLM's own boundaries (package wire, which the simulator serves
// too), so a dashboard can put the client's and the server's histograms
// side by side bucket for bucket, and their difference is network and HTTP
// overhead rather than bucketing error.
var (
	TTFTBuckets = wire.TTFTBuckets
	ITLBuckets  = wire.ITLBuckets
	E2EBuckets  = wire.RequestLatencyBuckets

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
