package report

import (
	"math"

	"github.com/llmload/llmload/engine/results/rundir"
)

// series computes the run's time series, each at most maxSeries points:
// from the requests (target and achieved send rate, in flight, queued, on
// the windows' grid), windows.jsonl (throughput, percentiles, client
// tokens/s) and server.jsonl (the server's and GPUs' view).
func series(r *rundir.Run) []Series {
	var out []Series
	add := func(id, name string, t, v []float64) {
		if len(t) == 0 || allMissing(v) {
			return
		}
		t, v = downsample(t, v, maxSeries)
		out = append(out, Series{ID: id, Name: name, T: t, V: v})
	}
	step := r.NumOr("sample_interval_s", 5)
	if step <= 0 {
		step = 5
	}
	// From the requests, on the windows' grid.
	var end float64
	for i := range r.Requests {
		end = math.Max(end, maxPresent(r.Requests[i].LastByte, r.Requests[i].Scheduled, r.Requests[i].Released)/1e3)
	}
	n := int(math.Ceil(end/step)) + 1
	if len(r.Requests) > 0 && n > 0 && n < 1e7 {
		t := make([]float64, n)
		for i := range t {
			t[i] = (float64(i) + 0.5) * step
		}
		due, sent := make([]float64, n), make([]float64, n)
		busy, queued := make([]float64, n), make([]float64, n)
		for i := range r.Requests {
			q := &r.Requests[i]
			bin(due, q.Scheduled/1e3, step)
			bin(sent, q.Sent/1e3, step)
			overlap(busy, q.Sent/1e3, q.LastByte/1e3, step)
			overlap(queued, q.Released/1e3, q.Dispatched/1e3, step)
		}
		for i := range due {
			due[i] /= step
			sent[i] /= step
			busy[i] /= step
			queued[i] /= step
		}
		add("rate_target", "due (target)", t, due)
		add("rate_sent", "sent (achieved)", t, sent)
		add("in_flight", "in flight", t, busy)
		add("queued", "queued at the gate", t, queued)
	}
	// From the windows.
	ws := r.Windows
	col := func(f func(w *rundir.Window) float64) ([]float64, []float64) {
		t, v := make([]float64, len(ws)), make([]float64, len(ws))
		for i := range ws {
			t[i] = (ws[i].Start + ws[i].End) / 2
			v[i] = f(&ws[i])
		}
		return t, v
	}
	for _, c := range []struct {
		id, name string
		f        func(w *rundir.Window) float64
	}{
		{"completed_rate", "completed", func(w *rundir.Window) float64 { return w.RequestThroughput }},
		{"goodput_rate", "good (SLO met)", func(w *rundir.Window) float64 { return w.RequestGoodput }},
		{"ttft_p50", "TTFT p50", func(w *rundir.Window) float64 { return w.P50TTFT }},
		{"ttft_p95", "TTFT p95", func(w *rundir.Window) float64 { return w.P95TTFT }},
		{"ttft_p99", "TTFT p99", func(w *rundir.Window) float64 { return w.P99TTFT }},
		{"tpot_p50", "TPOT p50", func(w *rundir.Window) float64 { return w.P50TPOT }},
		{"tpot_p95", "TPOT p95", func(w *rundir.Window) float64 { return w.P95TPOT }},
		{"tpot_p99", "TPOT p99", func(w *rundir.Window) float64 { return w.P99TPOT }},
		{"tok_client", "client (completed requests)", func(w *rundir.Window) float64 { return w.OutputThroughput }},
	} {
		t, v := col(c.f)
		add(c.id, c.name, t, v)
	}
	// From the server's scrapes, from the first request on.
	var ss []rundir.ServerSample
	for _, s := range r.Server {
		if s.T >= 0 {
			ss = append(ss, s)
		}
	}
	scol := func(f func(s *rundir.ServerSample) float64) ([]float64, []float64) {
		t, v := make([]float64, len(ss)), make([]float64, len(ss))
		for i := range ss {
			t[i], v[i] = ss[i].T, f(&ss[i])
		}
		return t, v
	}
	for _, c := range []struct {
		id, name string
		f        func(s *rundir.ServerSample) float64
	}{
		{"tok_server", "server (generated)", func(s *rundir.ServerSample) float64 { return s.GenerationTokensPerS }},
		{"server_running", "running", func(s *rundir.ServerSample) float64 { return s.Running }},
		{"server_waiting", "waiting", func(s *rundir.ServerSample) float64 { return s.Waiting }},
		{"kv_cache", "KV cache used", func(s *rundir.ServerSample) float64 { return s.KVCacheUsage * 100 }},
		{"power", "GPU power", func(s *rundir.ServerSample) float64 { return s.PowerW }},
		{"j_per_token", "energy per generated token", func(s *rundir.ServerSample) float64 { return s.JPerGenerationToken }},
	} {
		t, v := scol(c.f)
		add(c.id, c.name, t, v)
	}
	return out
}

func maxPresent(vs ...float64) float64 {
	m := 0.0
	for _, v := range vs {
		if rundir.Present(v) {
			m = math.Max(m, v)
		}
	}
	return m
}

func allMissing(v []float64) bool {
	for _, x := range v {
		if rundir.Present(x) {
			return false
		}
	}
	return true
}

// bin counts an instant (s) in its bin.
func bin(b []float64, t, step float64) {
	if !rundir.Present(t) || t < 0 {
		return
	}
	if i := int(t / step); i < len(b) {
		b[i]++
	}
}

// overlap adds to each bin the time [from, to) spent in it, so a bin's
// total / step is the mean number of requests in that state.
func overlap(b []float64, from, to, step float64) {
	if !rundir.Present(from) || !rundir.Present(to) || to <= from {
		return
	}
	from = math.Max(from, 0)
	for i := int(from / step); i < len(b) && float64(i)*step < to; i++ {
		lo, hi := math.Max(from, float64(i)*step), math.Min(to, float64(i+1)*step)
		if hi > lo {
			b[i] += hi - lo
		}
	}
}

// downsample averages consecutive points so that at most n remain; a
// group's Missing values are left out of its mean.
func downsample(t, v []float64, n int) ([]float64, []float64) {
	if len(t) <= n {
		return t, v
	}
	k := (len(t) + n - 1) / n
	var ot, ov []float64
	for i := 0; i < len(t); i += k {
		j := min(i+k, len(t))
		var st, sv float64
		var nv int
		for x := i; x < j; x++ {
			st += t[x]
			if rundir.Present(v[x]) {
				sv += v[x]
				nv++
			}
		}
		ot = append(ot, st/float64(j-i))
		if nv == 0 {
			ov = append(ov, rundir.Missing)
		} else {
			ov = append(ov, sv/float64(nv))
		}
	}
	return ot, ov
}
