// Package compose renders and manages the llmload stack: vLLM, the NVIDIA
// DCGM exporter, Prometheus and Grafana under docker compose on a GPU node,
// with a Grafana dashboard that puts the client (llmload run
// --metrics-addr), the server (vLLM) and the GPUs (DCGM) side by side.
//
// Render turns Options into files (compose.yaml, prometheus.yml, Grafana
// provisioning and dashboard, stack.json) from templates embedded in the
// binary; the output is a pure function of its inputs. Compose runs docker
// compose on a rendered directory, and Probe checks the running services
// over HTTP. docs/stack.md is the user guide.
package compose
