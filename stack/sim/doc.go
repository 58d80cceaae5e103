// Package sim is a simulated vLLM OpenAI-compatible server: the target every
// end-to-end test of the load generator runs against, and what `llmload sim`
// and `llmload run` without --url serve.
//
// It speaks vLLM's wire format byte for byte where clients can tell
// (/v1/chat/completions and /v1/completions, streamed or not, /v1/models,
// /tokenize, /health, error objects), tokenizes with its own deterministic
// word tokenizer, and produces tokens in real time on an absolute clock from
// one of two profiles:
//
//   - "fixed": every request is independent of load; token k arrives at
//     receipt + TTFT + k*ITL. This is the accuracy reference for the client.
//   - "h100-llama3-8b": a vLLM V1 continuous-batching engine (package
//     engine) whose step times are calibrated to Llama-3.1-8B on one H100.
//
// Chat requests that carry tools are answered with tool calls at
// --tool-call-rate (tools.go). Answers are a pure function of the seed and
// the request body, and a conversation that sends each answer back as it was
// streamed re-tokenizes to the earlier prompt plus that answer, so it stays
// in the prefix cache as it would on vLLM.
//
// /metrics exposes vLLM's V1 metric names, DCGM-style GPU power and energy,
// and the simulator's own lag, so a test can tell when the simulator rather
// than the client was the bottleneck. docs/sim.md is the user documentation.
package sim
