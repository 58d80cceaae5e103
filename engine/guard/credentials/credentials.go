// Package credentials finds the API key of a run when the command line and
// llmload.toml give none: in the environment, where most OpenAI-compatible
// tools look for it. The functions are pure: safe for concurrent use.
package credentials

// EnvVars are the environment variables read for the API key, in order:
// llmload's own first, so that it can differ from what other tools use.
var EnvVars = []string{"LLMLOAD_API_KEY", "OPENAI_API_KEY"}

// FromEnv returns the first non-empty EnvVars value and its variable's
// name, or "", "" when none is set. getenv is os.Getenv in production.
//
// The key from the environment is one the user did not name for this run,
// so the caller sends it only to an endpoint the user chose (--url,
// llmload.toml, or the built-in simulator), never to a URL a scenario
// script set: the script's author did not get the user's key.
func FromEnv(getenv func(string) string) (key, name string) {
	for _, v := range EnvVars {
		if k := getenv(v); k != "" {
			return k, v
		}
	}
	return "", ""
}

// PrometheusTokenEnv holds the bearer token for a Prometheus that
// --server-metrics or --gpu-metrics reads through its query API
// (prom+http://...): never a flag or part of the URL, which are written
// down in summary.json.
const PrometheusTokenEnv = "LLMLOAD_PROMETHEUS_TOKEN"
