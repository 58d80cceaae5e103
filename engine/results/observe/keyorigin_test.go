package observe

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// authRecorder is a /metrics server that remembers the Authorization
// headers it received.
type authRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (a *authRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.seen = append(a.seen, r.Header.Get("Authorization"))
	a.mu.Unlock()
	w.Write([]byte("vllm:generation_tokens_total 1\n"))
}

func (a *authRecorder) headers() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

// TestKeyOnlyToTheEndpointsOrigin scrapes two loopback servers: the
// endpoint's own (same origin) gets the bearer key, another (another
// port, so another origin) does not, unless KeyAnyOrigin says so.
func TestKeyOnlyToTheEndpointsOrigin(t *testing.T) {
	const key = "sk-origin-secret"
	for _, anyOrigin := range []bool{false, true} {
		endpoint, other := &authRecorder{}, &authRecorder{}
		se, so := httptest.NewServer(endpoint), httptest.NewServer(other)
		var log bytes.Buffer
		o, err := Start(Config{
			Epoch: time.Now(), Interval: time.Hour, Log: &log,
			Targets: []Target{
				{Role: "server", URL: se.URL + "/metrics", APIKey: key, KeyOrigin: se.URL + "/v1/chat/completions", KeyAnyOrigin: anyOrigin},
				{Role: "gpu", URL: so.URL + "/metrics?token=x", APIKey: key, KeyOrigin: se.URL + "/v1", KeyAnyOrigin: anyOrigin},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		rep := o.Stop()
		se.Close()
		so.Close()
		for _, h := range endpoint.headers() {
			if h != "Bearer "+key {
				t.Errorf("anyOrigin=%v: the endpoint's origin got Authorization %q", anyOrigin, h)
			}
		}
		want := ""
		if anyOrigin {
			want = "Bearer " + key
		}
		hs := other.headers()
		if len(hs) == 0 {
			t.Fatalf("the other server was not scraped")
		}
		for _, h := range hs {
			if h != want {
				t.Errorf("anyOrigin=%v: another origin got Authorization %q, want %q", anyOrigin, h, want)
			}
		}
		if !anyOrigin && !strings.Contains(log.String(), "--server-metrics-auth") {
			t.Errorf("no note says how to send the key: %q", log.String())
		}
		for _, s := range append(rep.Notes, rep.Targets...) {
			if strings.Contains(s, "token=x") || strings.Contains(s, key) {
				t.Errorf("a secret reached the report: %q", s)
			}
		}
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"http://h:8000/metrics", "http://h:8000/v1/chat/completions", true},
		{"http://H/metrics", "http://h:80/v1", true},
		{"https://h/metrics", "http://h/v1", false},
		{"http://h:9400/metrics", "http://h:8000/v1", false},
		{"http://evil/metrics", "http://h/v1", false},
		{"::bad", "http://h/v1", false},
	} {
		if got := SameOrigin(tc.a, tc.b); got != tc.want {
			t.Errorf("SameOrigin(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
