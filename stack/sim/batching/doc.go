// Package batching is the simulator's model of a vLLM V1 engine core: a
// continuous-batching scheduler over a paged KV cache with prefix caching,
// and a cost model that turns one scheduled batch into a step duration.
//
// It has no clock and no goroutines. A driver calls Schedule with the step's
// start time, sleeps for CostModel.StepTime of the returned batch, then calls
// Finish with the step's end time; Finish reports which requests produced a
// token. Tests drive it the same way with a made-up clock.
package batching
