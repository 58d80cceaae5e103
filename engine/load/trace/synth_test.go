package trace

import (
	"errors"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/llmload/llmload/engine/shared/randdist"
	"github.com/llmload/llmload/internal/testenv"
)

// quantile7 is numpy's default quantile (linear between order statistics)
// of sorted s: the definition docs/traces.md gives for the embedded tables.
func quantile7(s []float64, p float64) float64 {
	h := float64(len(s)-1) * p
	i := int(h)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (h-float64(i))*(s[i+1]-s[i])
}

type traceStats struct {
	rows              int
	rate, gapCV       float64
	ctxMean, genMean  float64
	ctxSorted, genSrt []float64
}

// statsOf computes the figures of docs/traces.md over rows.
func statsOf(rows []Row) traceStats {
	n := len(rows)
	st := traceStats{rows: n}
	span := (rows[n-1].At - rows[0].At).Seconds()
	st.rate = float64(n-1) / span
	var sum, sq float64
	for i := 1; i < n; i++ {
		sum += (rows[i].At - rows[i-1].At).Seconds()
	}
	mean := sum / float64(n-1)
	for i := 1; i < n; i++ {
		d := (rows[i].At - rows[i-1].At).Seconds() - mean
		sq += d * d
	}
	st.gapCV = math.Sqrt(sq/float64(n-2)) / mean
	for _, r := range rows {
		st.ctxSorted = append(st.ctxSorted, float64(r.ContextTokens))
		st.genSrt = append(st.genSrt, float64(r.GeneratedTokens))
		st.ctxMean += float64(r.ContextTokens) / float64(n)
		st.genMean += float64(r.GeneratedTokens) / float64(n)
	}
	slices.Sort(st.ctxSorted)
	slices.Sort(st.genSrt)
	return st
}

func near(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

// TestSynthFiguresMatchTrace recomputes the embedded figures from the real
// trace, so the tables cannot drift from what docs/traces.md says they are.
func TestSynthFiguresMatchTrace(t *testing.T) {
	r, err := OpenAzure(testenv.SharedData(t, "azure2023/AzureLLMInferenceTrace_conv.csv"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st := statsOf(readAll(t, r))
	checkEmbeddedFigures(t, st, traceFigures{AzureConvRate, AzureConvGapCV, azureConvContextMean, azureConvGenMean,
		azureConvContextMedian, azureConvGenMedian}, &azureConvContextQ, &azureConvGenQ)
}

// traceFigures are the summary figures of a trace that docs/traces.md
// gives and the synthetic sources embed.
type traceFigures struct {
	rate, gapCV, ctxMean, genMean, ctxMedian, genMedian float64
}

// checkEmbeddedFigures checks that the figures and token quantile tables
// embedded for a trace are those of st, computed from the trace itself.
func checkEmbeddedFigures(t *testing.T, st traceStats, want traceFigures, ctxQ, genQ *[103]float64) {
	t.Helper()
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"rate", st.rate, want.rate},
		{"gap CV", st.gapCV, want.gapCV},
		{"context mean", st.ctxMean, want.ctxMean},
		{"generated mean", st.genMean, want.genMean},
		{"context median", quantile7(st.ctxSorted, 0.5), want.ctxMedian},
		{"generated median", quantile7(st.genSrt, 0.5), want.genMedian},
	} {
		if !near(c.got, c.want, 1e-6) {
			t.Errorf("%s of the trace = %.7g, embedded %.7g", c.name, c.got, c.want)
		}
	}
	for i, p := range quantileProbs {
		if got := quantile7(st.ctxSorted, p); !near(got, ctxQ[i], 1e-5) {
			t.Errorf("ContextTokens quantile %g = %g, embedded %g", p, got, ctxQ[i])
		}
		if got := quantile7(st.genSrt, p); !near(got, genQ[i], 1e-5) {
			t.Errorf("GeneratedTokens quantile %g = %g, embedded %g", p, got, genQ[i])
		}
	}
}

// figureCheck is a synthetic source's figure against the trace's, with a
// relative tolerance.
type figureCheck struct {
	name           string
	got, want, tol float64
}

func checkNear(t *testing.T, checks []figureCheck) {
	t.Helper()
	for _, c := range checks {
		if !near(c.got, c.want, c.tol) {
			t.Errorf("synthetic %s = %.5g, trace %.5g (tolerance %.1f%%)", c.name, c.got, c.want, 100*c.tol)
		}
	}
}

// checkMarginals checks that each sampled percentile of a synthetic
// source's token lengths falls between the trace's neighbouring
// percentiles (rounded to whole tokens).
func checkMarginals(t *testing.T, st traceStats, ctxQ, genQ *[103]float64) {
	t.Helper()
	for p := 2; p <= 98; p += 4 {
		for _, m := range []struct {
			name   string
			sorted []float64
			q      *[103]float64
		}{{"context", st.ctxSorted, ctxQ}, {"generated", st.genSrt, genQ}} {
			got := quantile7(m.sorted, float64(p)/100)
			if got < math.Floor(m.q[p-1]) || got > math.Ceil(m.q[p+1]) {
				t.Errorf("synthetic %s p%d = %g, trace p%d..p%d = %g..%g", m.name, p, got, p-1, p+1, m.q[p-1], m.q[p+1])
			}
		}
	}
}

func synthRows(t *testing.T, cfg SynthConfig, n int) []Row {
	t.Helper()
	return readAll(t, Limit(SynthAzureConv(cfg), int64(n)))
}

func TestSynthMatchesFigures(t *testing.T) {
	const n = 200_000
	rows := synthRows(t, SynthConfig{Seed: 1}, n)
	if rows[0].At != 0 || rows[0].Line != 0 || rows[0].HashIDs != nil {
		t.Errorf("first row %+v, want At 0, Line 0, no hash ids", rows[0])
	}
	st := statsOf(rows)
	t.Logf("synthetic, %d rows: rate %.4f/s, gap CV %.4f, context mean %.1f median %g, generated mean %.1f median %g",
		n, st.rate, st.gapCV, st.ctxMean, quantile7(st.ctxSorted, 0.5), st.genMean, quantile7(st.genSrt, 0.5))
	// Tolerances are several standard errors wide for n rows (the rate's
	// relative error is about CV/sqrt(n) = 0.25%), plus the small bias of
	// interpolating a 103-point table (0.4% on the context mean).
	checkNear(t, []figureCheck{
		{"rate", st.rate, AzureConvRate, 0.015},
		{"gap CV", st.gapCV, AzureConvGapCV, 0.03},
		{"context mean", st.ctxMean, azureConvContextMean, 0.02},
		{"generated mean", st.genMean, azureConvGenMean, 0.02},
	})
	// Medians: within the trace's own p49..p51 band.
	if m := quantile7(st.ctxSorted, 0.5); m < azureConvContextQ[49] || m > azureConvContextQ[51] {
		t.Errorf("synthetic context median %g, trace %d (p49..p51 = %g..%g)", m, azureConvContextMedian, azureConvContextQ[49], azureConvContextQ[51])
	}
	if m := quantile7(st.genSrt, 0.5); m < azureConvGenQ[49] || m > azureConvGenQ[51] {
		t.Errorf("synthetic generated median %g, trace %d (p49..p51 = %g..%g)", m, azureConvGenMedian, azureConvGenQ[49], azureConvGenQ[51])
	}
	// The whole marginal.
	checkMarginals(t, st, &azureConvContextQ, &azureConvGenQ)
	if st.ctxSorted[0] < 2 || st.ctxSorted[n-1] > 14050 || st.genSrt[0] < 7 || st.genSrt[n-1] > 1000 {
		t.Errorf("lengths outside the trace's range: context %g..%g, generated %g..%g",
			st.ctxSorted[0], st.ctxSorted[n-1], st.genSrt[0], st.genSrt[n-1])
	}
}

func TestSynthRateOverride(t *testing.T) {
	st := statsOf(synthRows(t, SynthConfig{Seed: 9, Rate: 50}, 100_000))
	if !near(st.rate, 50, 0.02) || !near(st.gapCV, AzureConvGapCV, 0.04) {
		t.Errorf("Rate 50: got rate %.4g, gap CV %.4g; want 50 and %.4g", st.rate, st.gapCV, AzureConvGapCV)
	}
}

func TestSynthDeterministic(t *testing.T) {
	a := synthRows(t, SynthConfig{Seed: 42}, 5000)
	b := synthRows(t, SynthConfig{Seed: 42}, 5000)
	c := synthRows(t, SynthConfig{Seed: 43}, 5000)
	if !slices.EqualFunc(a, b, func(x, y Row) bool {
		return x.At == y.At && x.ContextTokens == y.ContextTokens && x.GeneratedTokens == y.GeneratedTokens
	}) {
		t.Error("the same seed gave different rows")
	}
	same := 0
	for i := range a {
		if a[i].ContextTokens == c[i].ContextTokens && a[i].At == c[i].At {
			same++
		}
	}
	if same > 50 {
		t.Errorf("seeds 42 and 43 agree on %d of %d rows", same, len(a))
	}
	for i := 1; i < len(a); i++ {
		if a[i].At < a[i-1].At {
			t.Fatalf("row %d arrives before row %d", i, i-1)
		}
	}
}

// synthSources are the synthetic sources, for the tests that hold for all.
var synthSources = []struct {
	name string
	new  func(SynthConfig) Source
}{{"azure-conv", SynthAzureConv}, {"azure-code", SynthAzureCode}}

func TestSynthClose(t *testing.T) {
	for _, src := range synthSources {
		s := src.new(SynthConfig{})
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// The message names the source.
		want := "synthetic " + src.name + " source: Next after Close: file already closed"
		if _, err := s.Next(); !errors.Is(err, os.ErrClosed) || err.Error() != want {
			t.Errorf("Next after Close = %v, want %q wrapping os.ErrClosed", err, want)
		}
	}
}

func TestSynthBadRatePanics(t *testing.T) {
	for _, src := range synthSources {
		for _, rate := range []float64{-1, math.NaN(), math.Inf(1)} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: Rate %v did not panic", src.name, rate)
					}
				}()
				src.new(SynthConfig{Rate: rate})
			}()
		}
	}
}

func TestSampleQuantilesEdges(t *testing.T) {
	if got := sampleQuantiles(&azureConvContextQ, 0); got != 2 {
		t.Errorf("u=0 gives %d, want the minimum 2", got)
	}
	if got := sampleQuantiles(&azureConvContextQ, math.Nextafter(1, 0)); got != 14050 {
		t.Errorf("u→1 gives %d, want the maximum 14050", got)
	}
	// The tail segments: halfway between p99.5 and p99.9.
	if got, want := sampleQuantiles(&azureConvContextQ, 0.997), int(math.Round((4831+6179.15)/2)); got != want {
		t.Errorf("u=0.997 gives %d, want %d", got, want)
	}
	if got := sampleQuantiles(&azureConvGenQ, 0.5); got != azureConvGenMedian {
		t.Errorf("u=0.5 gives %d, want the median %d", got, azureConvGenMedian)
	}
}

func TestGammaMoments(t *testing.T) {
	s := SynthAzureConv(SynthConfig{Seed: 5}).(*synth)
	for _, shape := range []float64{0.5, 1, 2.5} {
		const n = 100_000
		var sum, sq float64
		for range n {
			x := randdist.Gamma(s.rng, shape)
			sum += x
			sq += x * x
		}
		mean := sum / n
		variance := sq/n - mean*mean
		if !near(mean, shape, 0.02) || !near(variance, shape, 0.06) {
			t.Errorf("Gamma(%g): mean %.4g, variance %.4g; want both %g", shape, mean, variance, shape)
		}
	}
}
