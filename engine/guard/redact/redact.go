// Package redact removes secrets from what llmload writes down: the
// command line in summary.json, URLs on stdout, in summary.json and in the
// exporter's labels. A secret is the value of a flag or URL query
// parameter whose name says it is one (api-key, token, secret, password,
// ...) and the userinfo of a URL. The functions are pure: safe for
// concurrent use.
package redact

import (
	"net/url"
	"strings"
)

// Mask replaces a secret.
const Mask = "REDACTED"

// secretWords are the name parts that mark a value as secret. A name is
// split at '-', '_' and '.' and each part compared whole, so --api-key,
// hf_token and x-auth-token match and --max-tokens does not.
var secretWords = map[string]bool{
	"key": true, "apikey": true, "token": true, "secret": true, "password": true,
	"passwd": true, "pwd": true, "credential": true, "credentials": true,
	"auth": true, "authorization": true, "bearer": true, "signature": true, "sig": true,
}

// SecretName reports whether a flag, parameter or label name names a
// secret.
func SecretName(name string) bool {
	parts := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	for _, p := range parts {
		if secretWords[p] {
			return true
		}
	}
	// Spellings run together: apikey, accesstoken, clientsecret.
	n := strings.ToLower(name)
	for _, w := range []string{"apikey", "token", "secret", "password"} {
		if strings.HasSuffix(n, w) && len(parts) == 1 {
			return true
		}
	}
	return false
}

// Args returns a copy of a command line with secrets masked: the value of
// each flag whose name is a secret's (--api-key X, --api-key=X), and the
// secret parts of each value that is an http(s) URL. isBool, when not nil,
// tells flags that take no value, so that --token-ids does not mask the
// argument after it.
func Args(args []string, isBool func(name string) bool) []string {
	out := make([]string, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			out[i] = URL(a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		noValue := isBool != nil && isBool(name)
		switch {
		case !SecretName(name) || noValue:
			if hasValue {
				out[i] = a[:len(a)-len(value)] + URL(value)
			} else {
				out[i] = a
			}
		case hasValue:
			out[i] = a[:len(a)-len(value)] + Mask
		default:
			out[i] = a
			if i+1 < len(args) {
				i++
				out[i] = Mask
			}
		}
	}
	return out
}

// URL masks the userinfo of an http(s) URL and the values of its query
// parameters whose names are a secret's (api_key, key, token, ...). Other
// strings are returned as they are, except one that has a scheme and
// cannot be parsed: it might carry a secret nobody can find, so it is
// masked whole.
func URL(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return Mask + " (a URL that cannot be parsed)"
	}
	if scheme := strings.TrimPrefix(u.Scheme, "prom+"); scheme != "http" && scheme != "https" {
		return s // (prom+http: a Prometheus query API, --server-metrics)
	}
	changed := false
	if u.User != nil {
		u.User = url.User(Mask)
		changed = true
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			k, _, _ := strings.Cut(p, "=")
			name, err := url.QueryUnescape(k)
			if err != nil {
				name = k
			}
			if SecretName(name) {
				parts[i] = k + "=" + Mask
				changed = true
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	if !changed {
		return s // as given, byte for byte
	}
	return u.String()
}

// Text masks every http(s) URL inside a message, such as the error of an
// HTTP client (`Get "http://u:p@h/metrics": ...`), with URL. A URL ends at
// white space or a quote.
func Text(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "http://")
		if j := strings.Index(s, "https://"); j >= 0 && (i < 0 || j < i) {
			i = j
		}
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexAny(s, " \t\n\"'`")
		if end < 0 {
			end = len(s)
		}
		b.WriteString(URL(s[:end]))
		s = s[end:]
	}
}
