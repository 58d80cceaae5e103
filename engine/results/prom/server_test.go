package prom

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestServer scrapes a real loopback server the way Prometheus does.
func TestServer(t *testing.T) {
	reg, _, s := newTest(t, Info{Name: "srv", URL: "http://127.0.0.1:8000", Model: "m", Version: "dev"})
	s.Observe(completed(0, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}, nil, 2))
	srv, err := Listen("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") || strings.HasSuffix(srv.Addr(), ":0") {
		t.Fatalf("URL %s, Addr %s: want the real loopback port", srv.URL(), srv.Addr())
	}
	code, body := get(t, srv.URL())
	for _, want := range []string{
		`llmload_requests_total{outcome="completed",scenario="srv"} 1`,
		`llmload_ttft_seconds_bucket{scenario="srv",le="0.01"} 1`,
		`llmload_info{model="m",scenario="srv",url="http://127.0.0.1:8000",version="dev"} 1`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("GET /metrics: %d, no %q in:\n%s", code, want, body)
		}
	}
	if code, _ := get(t, "http://"+srv.Addr()+"/nope"); code != http.StatusNotFound {
		t.Fatalf("GET /nope: %d, want 404", code)
	}

	// The port is taken now: a second server must say so, naming the address.
	if _, err := Listen(srv.Addr(), reg); err == nil || !strings.Contains(err.Error(), srv.Addr()) {
		t.Fatalf("Listen on a busy port: %v, want an error naming %s", err, srv.Addr())
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		t.Fatal("still accepting connections after Close")
	}
}

func TestListenBadAddr(t *testing.T) {
	for _, addr := range []string{"9464", "localhost", "http://127.0.0.1:9464"} {
		if _, err := Listen(addr, nil); err == nil || !strings.Contains(err.Error(), "HOST:PORT") {
			t.Errorf("Listen(%q): %v, want an error asking for HOST:PORT", addr, err)
		}
	}
}

// TestLingerStop checks that Linger serves until stop closes, and then
// shuts the server down, well before its duration.
func TestLingerStop(t *testing.T) {
	reg, _, _ := newTest(t, Info{Name: "l"})
	srv, err := Listen("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error)
	go func() { done <- srv.Linger(time.Hour, stop) }()
	if code, _ := get(t, srv.URL()); code != http.StatusOK {
		t.Fatalf("lingering server answered %d", code)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		t.Fatal("still accepting connections after Linger")
	}
}
