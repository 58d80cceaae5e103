package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// promAPI asks Prometheus' HTTP API for instant queries
// (GET /api/v1/query). Written with net/http and encoding/json: the
// client_golang API package pulls json-iterator in before Go 1.27, for
// one endpoint and one answer shape. Safe for concurrent use.
type promAPI struct {
	base   string // http(s)://host:port[/prefix]
	token  string // bearer token, "" for none; never in a message
	client *http.Client
}

// promSample is one series of an instant query's answer: of a vector,
// its value at the query's instant; of a range vector (a selector[5s]),
// its last sample and when Prometheus scraped it.
type promSample struct {
	labels map[string]string // __name__ included
	value  float64
	at     time.Time
}

// promError is Prometheus' own account of a failed query.
type promError struct {
	Status string // HTTP status
	Type   string // errorType: bad_data, execution, timeout, ...
	Msg    string
}

func (e *promError) Error() string { return e.Type + ": " + e.Msg }

// maxPromAnswer bounds one answer: a selector matching every series of a
// large cluster is a mistake, not something to read whole.
const maxPromAnswer = 64 << 20

// instant evaluates query at instant at.
func (p *promAPI) instant(ctx context.Context, query string, at time.Time) ([]promSample, error) {
	v := url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/query?"+v.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.client.Do(req)
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err // without the URL: the query is long, the address is in the caller's message
	}
	if err != nil {
		return nil, fmt.Errorf("unreachable: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPromAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(body) > maxPromAnswer {
		return nil, fmt.Errorf("answer larger than %d MiB: narrow the selector", maxPromAnswer>>20)
	}
	samples, err := decodeInstant(body)
	if pe, ok := err.(*promError); ok {
		pe.Status = resp.Status
		return nil, pe
	}
	if err != nil && resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s, not a Prometheus query API answer (%q): give the Prometheus base URL, such as prom+http://prometheus:9090", resp.Status, bytes.TrimSpace(body[:min(len(body), 120)]))
	}
	return samples, err
}

// decodeInstant reads the JSON of an instant query's answer: a vector's
// or a range vector's series with their labels and values ("NaN", "+Inf"
// parse too), or Prometheus' error as a *promError.
func decodeInstant(body []byte) ([]promSample, error) {
	var a struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string   `json:"metric"`
				Value  []json.RawMessage   `json:"value"`  // vector: [time, "number"]
				Values [][]json.RawMessage `json:"values"` // matrix: its samples, oldest first
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("not a Prometheus query API answer: %v", err)
	}
	switch {
	case a.Status == "error":
		return nil, &promError{Type: a.ErrorType, Msg: a.Error}
	case a.Status != "success":
		return nil, fmt.Errorf("not a Prometheus query API answer: status %q", a.Status)
	case a.Data.ResultType != "vector" && a.Data.ResultType != "matrix":
		return nil, fmt.Errorf("Prometheus answered a %q, not a vector", a.Data.ResultType)
	}
	out := make([]promSample, 0, len(a.Data.Result))
	for i, r := range a.Data.Result {
		pair := r.Value
		if a.Data.ResultType == "matrix" {
			if len(r.Values) == 0 {
				continue
			}
			pair = r.Values[len(r.Values)-1]
		}
		var at float64
		var s string
		if len(pair) != 2 || json.Unmarshal(pair[0], &at) != nil || json.Unmarshal(pair[1], &s) != nil {
			return nil, fmt.Errorf("Prometheus answer: series %d: value is not [time, \"number\"]", i)
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("Prometheus answer: series %d: value %q: %v", i, s, err)
		}
		out = append(out, promSample{labels: r.Metric, value: v, at: time.UnixMilli(int64(math.Round(at * 1e3)))})
	}
	return out, nil
}
