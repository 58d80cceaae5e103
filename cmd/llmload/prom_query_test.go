package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// promAPI is the envelope of Prometheus' HTTP API answers.
type promAPI struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

// promGet asks Prometheus' HTTP API at base+path and returns the answer's
// data, or its error.
func promGet(ctx context.Context, base, path string, params url.Values) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path+"?"+params.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body promAPI
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("HTTP %d, undecodable answer: %v", resp.StatusCode, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s", body.ErrorType, body.Error)
	}
	return body.Data, nil
}

// promSample is one series of an instant query's answer.
type promSample struct {
	labels map[string]string
	value  float64
}

// promQuery runs an instant query and returns its samples.
func promQuery(t *testing.T, ctx context.Context, base, expr string) []promSample {
	t.Helper()
	data, err := promGet(ctx, base, "/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	var m struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	out := make([]promSample, 0, len(m.Result))
	for _, r := range m.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("query %s: value %v: %v", expr, r.Value[1], err)
		}
		out = append(out, promSample{r.Metric, v})
	}
	return out
}

// promQueryBy runs an instant query and returns its values by the value of
// label ("" for series without it).
func promQueryBy(t *testing.T, ctx context.Context, base, expr, label string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range promQuery(t, ctx, base, expr) {
		out[s.labels[label]] = s.value
	}
	return out
}

// promQueryScalar runs an instant query that yields one value (0 when empty).
func promQueryScalar(t *testing.T, ctx context.Context, base, expr string) float64 {
	t.Helper()
	samples := promQuery(t, ctx, base, expr)
	if len(samples) > 1 {
		t.Fatalf("query %s: %d results, want at most one", expr, len(samples))
	}
	if len(samples) == 0 {
		return 0
	}
	return samples[0].value
}

// promQueryRange runs a range query at 1 s steps, as a Grafana panel does,
// and counts the series and their finite values.
func promQueryRange(ctx context.Context, base, expr string, start, end time.Time) (series, finite int, err error) {
	data, err := promGet(ctx, base, "/api/v1/query_range", url.Values{"query": {expr},
		"start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix()+1, 10)}, "step": {"1"}})
	if err != nil {
		return 0, 0, err
	}
	var m struct {
		Result []struct {
			Values [][2]any `json:"values"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return 0, 0, err
	}
	for _, r := range m.Result {
		for _, v := range r.Values {
			s, _ := v[1].(string)
			if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				finite++
			}
		}
	}
	return len(m.Result), finite, nil
}

// promLabelValues is what Grafana's label_values(match, label) asks.
func promLabelValues(t *testing.T, ctx context.Context, base, label, match string) []string {
	t.Helper()
	data, err := promGet(ctx, base, "/api/v1/label/"+label+"/values", url.Values{"match[]": {match}})
	if err != nil {
		t.Fatalf("label values %s of %s: %v", label, match, err)
	}
	var values []string
	if err := json.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	return values
}
func promtoolCheck(t *testing.T, ctx context.Context, promtool, cfg string) {
	t.Helper()
	out, err := exec.CommandContext(ctx, promtool, "check", "config", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config %s: %v\n%s", cfg, err, out)
	}
}

func stackGet(t *testing.T, ctx context.Context, u string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return string(b)
}
