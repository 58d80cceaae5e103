package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// testConfig is a fixed-profile configuration with short timings.
func testConfig() Config {
	c := DefaultConfig()
	c.Model = "test-model"
	c.Profile = ProfileFixed
	c.TTFT = 2 * time.Millisecond
	c.ITL = time.Millisecond
	c.Seed = 7
	return c
}

type testServer struct {
	*Server
	url string
	reg *prometheus.Registry
}

// startServer serves cfg on a real loopback listener until the test ends.
func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := New(cfg, reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testServer{Server: s, url: "http://" + ln.Addr().String(), reg: reg}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t testing.TB, method, url, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func post(t testing.TB, url, body string) response { return do(t, http.MethodPost, url, body) }

// sseEvents splits an event stream into the payloads of its data: lines,
// failing on anything that is not vLLM's framing.
func sseEvents(t testing.TB, body []byte) []string {
	t.Helper()
	var out []string
	for len(body) > 0 {
		i := bytes.Index(body, []byte("\n\n"))
		if i < 0 {
			t.Fatalf("unterminated event %q", body)
		}
		ev := string(body[:i])
		body = body[i+2:]
		if !strings.HasPrefix(ev, "data: ") || strings.Contains(ev, "\n") {
			t.Fatalf("malformed event %q", ev)
		}
		out = append(out, strings.TrimPrefix(ev, "data: "))
	}
	return out
}

func mustJSON(t testing.TB, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v: %q", err, s)
	}
	return v
}

// streamTimes posts a streaming request and records when each event
// arrived, measured from the server's receipt of the request (its
// ReceiptHeader, on the same host's clock), so that the offsets exclude the
// client's connection setup and any delay in reading the headers.
func streamTimes(t testing.TB, url, body string) (events []string, at []time.Duration) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	ns, err := strconv.ParseInt(resp.Header.Get(ReceiptHeader), 10, 64)
	if err != nil {
		t.Errorf("%s: %v", ReceiptHeader, err)
	}
	start := time.Unix(0, ns)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err != io.EOF {
				t.Error(err)
			}
			return events, at
		}
		if strings.HasPrefix(line, "data: ") {
			events = append(events, strings.TrimSuffix(strings.TrimPrefix(line, "data: "), "\n"))
			at = append(at, time.Since(start))
		}
	}
}
