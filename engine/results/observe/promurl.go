package observe

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/llmload/llmload/engine/guard/credentials"
	"github.com/llmload/llmload/engine/guard/redact"
	"github.com/llmload/llmload/engine/guard/urlcheck"
	"github.com/llmload/llmload/engine/shared/didyoumean"
)

// PromPrefix marks a --server-metrics or --gpu-metrics value that is read
// through a Prometheus server's query API instead of scraped: a raw
// /metrics URL is http(s)://, so the two cannot be mistaken.
const PromPrefix = "prom+"

// PromExample is a good value, for messages.
const PromExample = `prom+http://prometheus:9090?selector={namespace="llm",app="vllm"}`

// DefaultFinalWait bounds how long the final sample waits for Prometheus
// to scrape every instance after the run's end: longer than a 30 s or
// 1 min scrape interval.
const DefaultFinalWait = 65 * time.Second

// PromQuery is a target read through Prometheus' HTTP API:
//
//	prom+http://HOST:PORT[/PREFIX]?selector={LABEL="VALUE",...}[&by=LABEL][&final_wait=DURATION]
type PromQuery struct {
	API       string        // the Prometheus base URL: http(s)://host:port[/prefix]
	Selector  string        // label matchers in braces, as PromQL writes them
	By        string        // the label that tells instances apart; "instance" by default
	FinalWait time.Duration // how long the final sample may wait for fresh scrapes; 0 = not at all
}

// IsProm reports whether a --server-metrics or --gpu-metrics value names
// a Prometheus query API target.
func IsProm(s string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(s)), PromPrefix)
}

// promParams are the query parameters a prom+ URL takes.
var promParams = []string{"selector", "by", "final_wait"}

// ParseProm reads a prom+ URL. Its query is split by hand: a selector's
// regular expressions keep their '+' (URL query decoding would make it a
// space) and may hold '&' inside quotes; percent escapes are decoded.
// Errors say what is wrong without the flag's name, which the caller adds.
func ParseProm(raw string) (PromQuery, error) {
	q := PromQuery{By: "instance", FinalWait: DefaultFinalWait}
	s := strings.TrimSpace(raw)
	if !IsProm(s) {
		return q, fmt.Errorf("does not start with %s", PromPrefix)
	}
	base, rawQuery, _ := strings.Cut(s[len(PromPrefix):], "?")
	if u, err := url.Parse(base); err == nil && u.User != nil {
		return q, fmt.Errorf("carries a user name or password; give a bearer token in the %s environment variable instead", credentials.PrometheusTokenEnv)
	}
	if err := urlcheck.HTTP("the Prometheus URL", base, "http://prometheus:9090"); err != nil {
		return q, err
	}
	if strings.Contains(base, "#") {
		return q, fmt.Errorf("the Prometheus URL %s has a '#'", base)
	}
	q.API = strings.TrimRight(base, "/")
	params, err := splitQuery(rawQuery)
	if err != nil {
		return q, err
	}
	for _, p := range params {
		switch p[0] {
		case "selector":
			q.Selector = strings.TrimSpace(p[1])
		case "by":
			q.By = strings.TrimSpace(p[1])
		case "final_wait":
			d, err := time.ParseDuration(p[1])
			if err != nil || d < 0 {
				return q, fmt.Errorf("final_wait=%s is not a duration such as 30s or 0s", p[1])
			}
			q.FinalWait = d
		default:
			if redact.SecretName(p[0]) {
				return q, fmt.Errorf("carries a secret (%s=); give a bearer token in the %s environment variable instead", p[0], credentials.PrometheusTokenEnv)
			}
			return q, fmt.Errorf("unknown parameter %q%s; it takes selector, by and final_wait", p[0], didyoumean.Suggest(p[0], promParams))
		}
	}
	switch {
	case q.Selector == "":
		return q, fmt.Errorf("has no selector: add ?selector={LABEL=\"VALUE\",...} naming the deployment, such as %s", PromExample)
	case !strings.HasPrefix(q.Selector, "{") || !strings.HasSuffix(q.Selector, "}"):
		return q, fmt.Errorf("selector %s: want label matchers in braces, such as {namespace=\"llm\",app=\"vllm\"}", q.Selector)
	case q.By == "":
		return q, fmt.Errorf("by= is empty: name the label that tells instances apart, such as by=pod (default instance)")
	}
	return q, nil
}

// splitQuery splits a raw URL query into key, value pairs at the '&'s
// outside double quotes and decodes percent escapes (not '+').
func splitQuery(raw string) ([][2]string, error) {
	var out [][2]string
	inQuote, start := false, 0
	for i := 0; i <= len(raw); i++ {
		if i < len(raw) {
			switch raw[i] {
			case '\\':
				if inQuote {
					i++
				}
				continue
			case '"':
				inQuote = !inQuote
				continue
			case '&':
				if inQuote {
					continue
				}
			default:
				continue
			}
		}
		part := raw[start:i]
		start = i + 1
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err1 := url.PathUnescape(k)
		dv, err2 := url.PathUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("parameter %q has a bad %%-escape", k)
		}
		out = append(out, [2]string{dk, dv})
	}
	if inQuote {
		return nil, fmt.Errorf("selector has an unclosed \"")
	}
	return out, nil
}

// SplitTargets splits a comma-separated list of --gpu-metrics URLs at the
// commas outside a prom+ URL's selector (braces and quotes), trimmed,
// without empty items.
func SplitTargets(list string) []string {
	var out []string
	depth, inQuote, start := 0, false, 0
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	for i := 0; i < len(list); i++ {
		switch c := list[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case c == ',' && depth == 0:
			add(list[start:i])
			start = i + 1
		}
	}
	add(list[start:])
	return out
}
