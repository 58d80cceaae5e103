package ui

import (
	"time"
)

// tri is an integer triangle wave: 0 at t=0, amp at t=period/2, back to 0
// at t=period. Test data is integer arithmetic only, so golden screens do
// not depend on the platform's floating point (FMA, libm).
func tri(t, period, amp int) float64 {
	p := t % period
	if p > period/2 {
		p = period - p
	}
	return float64(amp * 2 * p / period)
}

// testFrames returns the frames of a synthetic run, one per second from 1s
// to n s: a wavy throughput, TTFT percentiles with a spike past the warn
// level around t=70s, a queue that builds up when in-flight requests
// reach the cap, and a few errors. No server metrics: the server and GPU
// panels stay hidden.
func testFrames(n int) []*Frame { return syntheticFrames(n, false) }

// serverFrames are testFrames with the server's and the GPUs' series too,
// one point per scrape every 2s, as an Observer samples them.
func serverFrames(n int) []*Frame { return syntheticFrames(n, true) }

func syntheticFrames(n int, server bool) []*Frame {
	h := NewHistory(time.Minute)
	var sent, errs, tx, rx float64
	var frames []*Frame
	errors := map[string]int64{}
	for t := 1; t <= n; t++ {
		at := time.Duration(t) * time.Second
		rps := 20 + tri(t, 40, 16)
		h.Add(SeriesRPS, at, rps)
		h.Add(SeriesInputTPS, at, rps*512)
		h.Add(SeriesOutputTPS, at, rps*130+tri(t, 10, 300))
		p50 := 110 + tri(t, 30, 40)
		spike := 0.0
		if t >= 68 && t <= 74 {
			spike = 260
		}
		h.Add(SeriesTTFTP50, at, p50)
		h.Add(SeriesTTFTP95, at, 2*p50+spike)
		h.Add(SeriesTTFTP99, at, 3*p50+2*spike)
		h.Add(SeriesTTFTMean, at, p50+40+spike/2)
		h.Add(SeriesTPOTP95, at, 21+tri(t, 12, 6))
		h.Add(SeriesE2EP95, at, 2400+tri(t, 50, 900))
		inflight := 24 + tri(t, 40, 40)
		h.Add(SeriesInFlight, at, min(inflight, 48))
		queued := max(inflight-48, 0)
		h.Add(SeriesQueued, at, queued)
		h.Add(SeriesQueueP95, at, queued*40)
		h.Add(SeriesLagP99, at, 1+tri(t, 7, 2))
		h.Add(SeriesRateAchieved, at, rps-tri(t, 9, 2))
		h.Add(SeriesRateTarget, at, rps)
		h.Add(SeriesNetTX, at, rps*2300)
		h.Add(SeriesNetRX, at, rps*130*118)
		sent += rps
		tx += rps * 2300
		rx += rps * 130 * 118
		perSecond := 0.0
		if t%11 == 0 {
			errors["timeout"]++
			perSecond++
		}
		if t%7 == 0 {
			errors["http_5xx"] += 2
			perSecond += 2
		}
		if t == 50 {
			errors["stall"]++
			perSecond++
		}
		errs += perSecond
		h.Add(SeriesErrorRate, at, perSecond)
		if server && t%2 == 0 {
			gen := rps*128 + tri(t, 14, 200)
			h.Add(SeriesServerGenTPS, at, gen)
			h.Add(SeriesServerRunning, at, min(inflight, 48)-tri(t, 6, 4))
			h.Add(SeriesServerWaiting, at, tri(t, 26, 6))
			h.Add(SeriesKVCache, at, 40+tri(t, 40, 54))
			h.Add(SeriesPrefixHit, at, 20+tri(t, 60, 30))
			h.Add(SeriesServerTTFT, at, p50+12+spike/2)
			power := 300 + tri(t, 40, 350)
			h.Add(SeriesGPUPower, at, power)
			h.Add(SeriesGPUUtil, at, 50+tri(t, 40, 48))
			h.Add(SeriesEnergyPerTok, at, power/gen)
		}
		errCopy := make(map[string]int64, len(errors))
		for k, v := range errors {
			errCopy[k] = v
		}
		done := int64(sent) - 40
		frames = append(frames, &Frame{
			Scenario: "azure-conv",
			URL:      "http://127.0.0.1:8000/v1/chat/completions",
			Model:    "meta-llama/Llama-3.1-8B-Instruct",
			Elapsed:  at,
			Done:     done,
			Total:    10000,
			ETA:      time.Duration(float64(at) * float64(10000-done) / float64(done)),
			Series:   h.Snapshot(),
			Counters: map[string]float64{
				CounterSent: sent, CounterErrors: errs, CounterDropped: 0,
				CounterTxBytes: tx, CounterRxBytes: rx,
			},
			Errors: errCopy,
		})
	}
	return frames
}
