// Package accuracy measures llmload's own timing error on the machine it
// runs on: `llmload calibrate`.
//
// For each Step it starts the simulator's `fixed` profile on loopback (in
// a child process by default, so client and simulator CPU are told apart),
// whose every token is due at a known instant, and drives it with the
// engine's own runner, pacer, gate, client and recorder, exactly as
// `llmload run` does. Each result is compared with the simulator's
// promise: TTFT and ITL errors, pacer release and send lag, achieved
// against target rate. Around the step it reads the client's and the
// simulator's CPU time and peak memory, every process's CPU (to see other
// load), CPU pressure, and the simulator's own lateness from its /metrics,
// and judges whether the numbers describe the client or a busy machine
// (StepResult.Trusted, with the reasons).
//
// Resource figures come from Linux /proc; elsewhere they are reported as
// unknown. Definitions are in docs/calibrate.md, measured numbers in
// docs/performance.md.
package accuracy
