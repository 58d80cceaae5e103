package observe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxBody bounds one scrape: a vLLM with many LoRA adapters and engines
// exports a few MB at most.
const maxBody = 64 << 20

// HTTPFetcher GETs a target with net/http, asking for the text format.
// Safe for concurrent use; it keeps connections alive between scrapes.
type HTTPFetcher struct{ c *http.Client }

// NewHTTPFetcher returns a fetcher with its own connection pool, so
// scrapes never queue behind the load generator's connections.
func NewHTTPFetcher() *HTTPFetcher {
	return &HTTPFetcher{c: &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     time.Minute,
	}}}
}

// Fetch implements Fetcher. A 404 wraps ErrNoMetrics.
func (h *HTTPFetcher) Fetch(ctx context.Context, t Target) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return nil, err
	}
	// The classic text format: what vLLM's prometheus_client, the DCGM
	// exporter and client_golang all serve unless asked for another.
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
	if t.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+t.APIKey)
	}
	resp, err := h.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("answered %s: %w", resp.Status, ErrNoMetrics)
	case resp.StatusCode != http.StatusOK:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return nil, fmt.Errorf("answered %s: %q", resp.Status, bytes.TrimSpace(b))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("body larger than %d MiB", maxBody>>20)
	}
	return body, nil
}

// Close closes idle connections.
func (h *HTTPFetcher) Close() { h.c.CloseIdleConnections() }
