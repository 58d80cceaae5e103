// Package monoclock reads one monotonic clock that every process on the
// machine shares, so that instants timed in one process (the simulator's
// late deliveries, the client's requests) can be matched with those of
// another (the jitter probe's stalls). A leaf: it imports nothing of
// llmload, so stack/sim and the engine both use it.
package monoclock
