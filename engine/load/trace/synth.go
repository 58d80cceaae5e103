package trace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/llmload/llmload/engine/shared/randdist"
)

// Figures of the Azure LLM inference trace 2023, conversation
// (AzureLLMInferenceTrace_conv.csv, Azure Public Dataset, CC-BY-4.0): 19,366
// requests over 3,501.7 s. docs/traces.md says how they were computed, and
// TestSynthFiguresMatchTrace recomputes them from the file.
const (
	// AzureConvRate is the trace's mean arrival rate in requests per second:
	// (rows - 1) / (last timestamp - first timestamp).
	AzureConvRate = 5.530136
	// AzureConvGapCV is the coefficient of variation (sd / mean) of the
	// trace's inter-arrival gaps; 1 would be a Poisson process.
	AzureConvGapCV = 1.094198

	azureConvContextMean   = 1154.6974
	azureConvContextMedian = 1020
	azureConvGenMean       = 211.1259
	azureConvGenMedian     = 129
)

// quantileProbs are the cumulative probabilities of the quantile tables:
// every percentile, plus 99.5 and 99.9 so the long upper tail is not drawn
// as one straight line from p99 to the maximum.
var quantileProbs = func() [103]float64 {
	var p [103]float64
	for i := 0; i <= 99; i++ {
		p[i] = float64(i) / 100
	}
	p[100], p[101], p[102] = 0.995, 0.999, 1
	return p
}()

// azureConvContextQ and azureConvGenQ are the quantiles of ContextTokens and
// GeneratedTokens at quantileProbs (linear interpolation between order
// statistics, numpy's default "type 7").
var azureConvContextQ = [103]float64{
	2, 29, 91, 161, 181, 181, 191, 197, 201, 203,
	207, 212, 222, 242, 317, 372, 375, 378, 381, 384,
	387, 390, 392, 394, 395, 396, 398, 399, 400, 402,
	403, 405, 406, 408, 411, 414, 419, 424, 433, 456,
	703, 862.65, 903, 946, 971.6, 984, 994, 1002, 1009, 1014,
	1020, 1025, 1031, 1036, 1041, 1045, 1050, 1055, 1060, 1065,
	1071, 1076, 1081, 1086, 1092, 1097, 1102, 1109, 1116, 1122,
	1130, 1139, 1147, 1159.45, 1171, 1189, 1214.4, 1249, 1311, 1314,
	1315, 1321, 1368.3, 1508, 1689.2, 1876.25, 2032, 2221, 2401.2, 2584,
	2734.5, 3291.15, 4073, 4076, 4079, 4083, 4086, 4090, 4098, 4142,
	4831, 6179.15, 14050,
}

var azureConvGenQ = [103]float64{
	7, 16, 24, 32, 38, 41, 44, 47, 49, 52,
	54, 57, 59, 62, 64, 67, 69, 71, 73, 75,
	77, 79, 81, 82, 84, 85, 86, 87, 89, 90,
	91, 92, 93, 94, 95, 96, 97, 99, 100, 101,
	103, 105, 107, 108, 110, 113, 116, 118, 122, 125,
	129, 133, 137, 141, 145, 151, 156, 161, 163, 169,
	177, 182, 190, 201.95, 216, 217, 237, 371, 375, 378,
	384, 387, 390, 393, 394, 395, 396, 396, 397, 398,
	400, 402, 404, 407, 410, 411, 414, 415, 417, 420,
	424, 428, 429, 433, 442, 451, 468, 509, 540, 601,
	643.175, 954, 1000,
}

// SynthConfig configures SynthAzureConv.
type SynthConfig struct {
	Seed uint64  // the same seed gives the same rows
	Rate float64 // mean requests per second; 0 = AzureConvRate
}

// SynthAzureConv returns an endless source shaped like the Azure 2023
// conversation trace: arrivals are a Gamma renewal process with the trace's
// inter-arrival CV and mean rate cfg.Rate (the trace's own when 0), and
// ContextTokens and GeneratedTokens are drawn independently from the
// trace's quantile tables. Rows start at At = 0 and have Line 0. A negative,
// infinite or NaN Rate is a programming error (callers validate user input)
// and panics.
//
// The source is not safe for concurrent use; Close makes Next fail.
func SynthAzureConv(cfg SynthConfig) Source { return newSynth(&azureConvParams, cfg) }

var azureConvParams = synthParams{
	name:     "azure-conv",
	stream:   0x617a7572655f636f, // "azure_co"
	rate:     AzureConvRate,
	contextQ: &azureConvContextQ,
	genQ:     &azureConvGenQ,
	gapCV:    AzureConvGapCV,
}

// synthParams is what tells one synthetic trace from another: everything
// else (seeding, the order of draws, the clock, Close) is shared by synth.
type synthParams struct {
	name   string  // in errors: "synthetic <name> source"
	stream uint64  // the second PCG word, fixed so that a seed names one stream
	rate   float64 // mean requests per second when SynthConfig.Rate is 0

	contextQ, genQ *[103]float64 // token quantiles at quantileProbs

	// Gaps come from gapQ (seconds at quantileProbs, with mean gapQMean)
	// rescaled to the rate when gapQ is set, else from a Gamma renewal
	// process with coefficient of variation gapCV.
	gapQ     *[103]float64
	gapQMean float64
	gapCV    float64
}

// newSynth returns the source of p at cfg's seed and rate; it panics on a
// bad rate (see SynthAzureConv).
func newSynth(p *synthParams, cfg SynthConfig) *synth {
	rate := cfg.Rate
	if rate == 0 {
		rate = p.rate
	}
	if !(rate > 0) || math.IsInf(rate, 0) {
		panic(fmt.Sprintf("trace: SynthConfig.Rate must be >= 0 and finite, got %v", cfg.Rate))
	}
	s := &synth{p: p, rng: rand.New(rand.NewPCG(cfg.Seed, p.stream))}
	if p.gapQ != nil {
		s.scale = 1 / (rate * p.gapQMean) // table gap -> seconds at rate
	} else {
		s.shape = 1 / (p.gapCV * p.gapCV)
		s.scale = 1 / (rate * s.shape) // mean gap = shape * scale = 1/rate
	}
	return s
}

// synth is a synthetic source: not safe for concurrent use (Source).
type synth struct {
	p            *synthParams
	rng          *rand.Rand
	shape, scale float64
	at           time.Duration
	closed       bool
}

func (s *synth) Next() (Row, error) {
	if s.closed {
		return Row{}, fmt.Errorf("synthetic %s source: Next after Close: %w", s.p.name, os.ErrClosed)
	}
	// The draws' order (context, generated, gap) is part of what a seed
	// means: TestSynthGolden pins it.
	row := Row{
		At:              s.at,
		ContextTokens:   sampleQuantiles(s.p.contextQ, s.rng.Float64()),
		GeneratedTokens: sampleQuantiles(s.p.genQ, s.rng.Float64()),
	}
	var gap float64
	if s.p.gapQ != nil {
		gap = interpQuantiles(s.p.gapQ, s.rng.Float64()) * s.scale
	} else {
		gap = randdist.Gamma(s.rng, s.shape) * s.scale
	}
	s.at += time.Duration(math.Round(gap * float64(time.Second)))
	return row, nil
}

func (s *synth) Close() error {
	s.closed = true
	return nil
}

// sampleQuantiles maps u in [0, 1) through the piecewise-linear quantile
// function given by q at quantileProbs, rounded to a whole token count.
func sampleQuantiles(q *[103]float64, u float64) int {
	i := int(u * 100) // percentile segments are uniform up to p99
	if i >= 99 {
		i = 99
		for i < len(quantileProbs)-2 && u >= quantileProbs[i+1] {
			i++
		}
	}
	p0, p1 := quantileProbs[i], quantileProbs[i+1]
	t := (u - p0) / (p1 - p0)
	t = min(max(t, 0), 1) // u*100 may round across a boundary
	return int(math.Round(q[i] + t*(q[i+1]-q[i])))
}
