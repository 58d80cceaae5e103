// Package urlcheck validates the URLs a run is given (--url,
// --server-metrics, --gpu-metrics) before anything is sent to them: a
// malformed URL, or one carrying a user:password, must fail with an error
// naming the flag before the first probe goes out with the bearer key.
// The functions are pure: safe for concurrent use.
package urlcheck

import (
	"fmt"
	"net/url"

	"github.com/llmload/llmload/engine/guard/redact"
)

// HTTP checks that raw is an absolute http or https URL with a host and
// without userinfo; flag names the flag it came from, for the message,
// and example shows a good value. Messages quote the URL redacted.
func HTTP(flag, raw, example string) error {
	u, err := url.Parse(raw)
	shown := redact.URL(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%s %q is not a URL (%v); want one such as %s", flag, shown, unwrap(err), example)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%s %q: want an http:// or https:// URL such as %s", flag, shown, example)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%s %q has no host; want one such as %s", flag, shown, example)
	case u.User != nil:
		return fmt.Errorf("%s %q carries a user name or password; remove it from the URL and give the key with --api-key or the LLMLOAD_API_KEY environment variable", flag, shown)
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%s %q: port %s is not a port number (1-65535)", flag, shown, p)
		}
	}
	return nil
}

// unwrap drops url.Error's "parse <url>: " prefix, which would repeat the
// URL unredacted.
func unwrap(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
