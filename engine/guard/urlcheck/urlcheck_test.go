package urlcheck

import (
	"strings"
	"testing"
)

func TestHTTP(t *testing.T) {
	const ex = "http://host:8000"
	for _, ok := range []string{"http://127.0.0.1:8000", "https://h/v1/chat/completions", "http://h:8000/v1?x=1", "http://[::1]:8000"} {
		if err := HTTP("--url", ok, ex); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"http://user:sk-pass@h:8000", "user name or password"},
		{"http://h:99999", "not a port number"},
		{"http://h:80x", "not a URL"},
		{"ftp://h", "want an http:// or https:// URL"},
		{"h:8000", "want an http:// or https:// URL"},
		{"http://", "has no host"},
		{"http://:8000", "has no host"},
		{"http://[::1", "not a URL"},
		{"http://h:8000/%zz?api_key=sk-pass", "not a URL"},
	} {
		err := HTTP("--url", tc.in, ex)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "--url") {
			t.Errorf("%s: %v, want an error naming --url and saying %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "sk-pass") {
			t.Errorf("%s: the error shows the secret: %v", tc.in, err)
		}
	}
}
