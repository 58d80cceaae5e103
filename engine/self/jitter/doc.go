// Package jitter measures how promptly this machine runs a thread that
// asks to wake at a given instant, in the manner of cyclictest: one
// thread per CPU, each pinned to its CPU, sleeps to absolute deadlines
// on CLOCK_MONOTONIC and records how late it woke.
//
// A load generator's timing error can never be smaller than the wake-up
// latency of the machine it runs on, and on shared cloud VMs that latency
// has a tail no guest counter shows: the hypervisor deschedules a vCPU
// for milliseconds at a time. llmload calibrate runs this probe beside
// the simulator so that a late token delivery can be told apart: the
// simulator's own queueing, or the whole machine stalled.
//
// Stall instants are CLOCK_MONOTONIC nanoseconds (monoclock.Now), a clock
// every process on the machine shares, so stalls seen by the probe can be
// matched with events timed in another process.
package jitter
