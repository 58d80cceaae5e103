// Package simtest serves llmload's simulator on a loopback port for tests
// that need a real vLLM-compatible server.
package simtest

import (
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmload/llmload/stack/sim"
)

// Start serves the simulator with cfg on 127.0.0.1 until the test ends and
// returns its base URL (http://127.0.0.1:PORT).
func Start(t testing.TB, cfg sim.Config) string {
	t.Helper()
	s, err := sim.New(cfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		<-served
	})
	return "http://" + ln.Addr().String()
}
