package prom

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves one Gatherer's metrics over HTTP at /metrics. Its methods
// are safe for concurrent use.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{} // closed when Serve has returned
}

// Listen binds addr (HOST:PORT; port 0 picks a free one) and starts
// serving g at /metrics in the background. A bind failure is returned at
// once, so a run can refuse to start rather than run unobserved.
func Listen(addr string, g prometheus.Gatherer) (*Server, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("%q is not HOST:PORT (e.g. 127.0.0.1:9464, or :9464 for every interface): %w", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w; pick another port or stop what uses it", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		// A broken collector must not hide the others from a scrape.
		ErrorHandling: promhttp.ContinueOnError,
		// Scrapes are rare and small; more than a few at once is a
		// misconfigured scraper, not a reason to take CPU from the run.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "llmload: metrics at /metrics")
	})
	s := &Server{
		ln:   ln,
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		s.srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return s, nil
}

// Addr is the address the server listens on (with the real port when
// Listen was given port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the metrics URL, for messages and scrape configs.
func (s *Server) URL() string { return "http://" + s.Addr() + "/metrics" }

// Linger keeps serving for d, or until stop is closed, then closes the
// server: after a run ends, it gives Prometheus time for a final scrape.
func (s *Server) Linger(d time.Duration, stop <-chan struct{}) error {
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-stop:
		case <-s.done:
		}
	}
	return s.Close()
}

// Close stops accepting scrapes, lets one in progress finish (up to 2 s)
// and returns when the server is down. Calling it again is harmless.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	<-s.done
	return err
}
