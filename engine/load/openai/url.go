package openai

import (
	"fmt"
	"net/url"
	"strings"
)

// URLs are the addresses derived from the user's --url.
type URLs struct {
	Root        string // the server root, where vLLM serves /tokenize and /metrics
	Chat        string // POST target for chat completions
	Completions string // POST target for completions
}

// ParseURL accepts the forms users paste and derives every address from
// it. The rule, on the URL's path with trailing slashes removed:
//
//   - ends in /chat/completions or /completions: that is an endpoint; the
//     API base is what precedes it;
//   - ends in /v1: that is the API base;
//   - anything else (empty, or a proxy prefix): the API base is path + /v1.
//
// Chat = base + /chat/completions, Completions = base + /completions, and
// Root = base without a final /v1. A query string (for example Azure's
// ?api-version=) is kept on both endpoint URLs. So http://h:8000,
// http://h:8000/v1 and http://h:8000/v1/chat/completions all give the same
// URLs.
func ParseURL(raw string) (URLs, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return URLs{}, fmt.Errorf("url %q: %w; want http://host:port[/v1[/chat/completions]]", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return URLs{}, fmt.Errorf("url %q: scheme must be http or https; want http://host:port[/v1[/chat/completions]]", raw)
	}
	if u.Host == "" {
		return URLs{}, fmt.Errorf("url %q: no host; want http://host:port[/v1[/chat/completions]]", raw)
	}
	if u.Fragment != "" || u.User != nil {
		return URLs{}, fmt.Errorf("url %q: fragments and user:password@ are not supported (pass the API key separately)", raw)
	}
	p := strings.TrimRight(u.Path, "/")
	switch {
	case strings.HasSuffix(p, "/chat/completions"):
		p = strings.TrimSuffix(p, "/chat/completions")
	case strings.HasSuffix(p, "/completions"):
		p = strings.TrimSuffix(p, "/completions")
	case strings.HasSuffix(p, "/v1"):
	default:
		p += "/v1"
	}
	origin := u.Scheme + "://" + u.Host
	query := ""
	if u.RawQuery != "" {
		query = "?" + u.RawQuery
	}
	return URLs{
		Root:        origin + strings.TrimSuffix(p, "/v1"),
		Chat:        origin + p + "/chat/completions" + query,
		Completions: origin + p + "/completions" + query,
	}, nil
}

// BaseURL is the server root derived from raw by ParseURL's rule (where
// GET /v1/models and POST /tokenize are asked), or raw without trailing
// slashes when it does not parse; the error then surfaces from NewBuilder.
func BaseURL(raw string) string {
	u, err := ParseURL(raw)
	if err != nil {
		return strings.TrimRight(strings.TrimSpace(raw), "/")
	}
	return u.Root
}
