package trace

// Figures of the Azure LLM inference trace 2023, code
// (AzureLLMInferenceTrace_code.csv, Azure Public Dataset, CC-BY-4.0): 8,819
// requests over 3,435.9 s. docs/traces.md says how they were computed, and
// TestSynthCodeFiguresMatchTrace recomputes them from the file.
const (
	// AzureCodeRate is the trace's mean arrival rate in requests per
	// second: (rows - 1) / (last timestamp - first timestamp).
	AzureCodeRate = 2.566395
	// AzureCodeGapCV is the coefficient of variation of the trace's
	// inter-arrival gaps: far from a Poisson process's 1, because bursts of
	// requests milliseconds apart alternate with idle minutes.
	AzureCodeGapCV = 13.152037

	azureCodeContextMean   = 2047.8483
	azureCodeContextMedian = 1469
	azureCodeGenMean       = 27.8825
	azureCodeGenMedian     = 13
)

// azureCodeContextQ, azureCodeGenQ and azureCodeGapQ are the quantiles of
// ContextTokens, GeneratedTokens and the inter-arrival gaps (seconds) at
// quantileProbs (numpy's default "type 7" interpolation).
var azureCodeContextQ = [103]float64{
	3, 17, 35, 50, 62, 75, 88, 97, 109, 130,
	147, 162, 179, 193, 209, 232, 253, 283, 319, 352,
	385.6, 423, 468.96, 501.42, 539, 578, 604, 651, 698.04, 745.22,
	770, 816, 848, 880, 908.12, 938.6, 969.48, 997, 1027, 1049,
	1075, 1105.38, 1133, 1174, 1204.92, 1261.1, 1296.28, 1346.46, 1377, 1417,
	1469, 1500.18, 1555, 1600, 1641.72, 1690, 1724, 1774, 1823, 1873.24,
	1909, 1963.98, 2024.16, 2077, 2128, 2163.7, 2226, 2284.06, 2329.24, 2386.42,
	2433, 2479.56, 2546, 2615.14, 2670.64, 2744.5, 2804.04, 2895.58, 2975.04, 3066,
	3192.4, 3294.16, 3450.56, 3598.94, 3714.12, 3920.2, 4107, 4319.66, 4559, 4759,
	5187.6, 5632.9, 5959.24, 6193.74, 6584.84, 7303.3, 7430.28, 7435, 7436, 7436,
	7436, 7437, 7437,
}

var azureCodeGenQ = [103]float64{
	6, 6, 6, 6, 6, 6, 6, 6, 6, 7,
	7, 7, 7, 7, 7, 7, 8, 8, 8, 8,
	8, 8, 9, 9, 9, 9, 9, 9, 9, 9,
	9, 10, 10, 10, 10, 10, 10, 11, 11, 11,
	11, 11, 12, 12, 12, 12, 12, 13, 13, 13,
	13, 13, 13, 14, 14, 14, 14, 15, 15, 15,
	16, 16, 16, 17, 17, 18, 18, 19, 19, 19,
	20, 21, 21, 22, 23, 24, 25, 26, 27, 28,
	29, 31, 32, 34, 37, 39, 42, 45, 48, 52,
	55, 59.38, 65, 72, 79, 90, 105, 128, 170.92, 251.46,
	359.38, 825.274, 1899,
}

var azureCodeGapQ = [103]float64{
	0.000006, 0.0000222, 0.000042, 0.0000605, 0.0000767, 0.000088, 0.000108, 0.000131, 0.00015, 0.000175,
	0.000209, 0.000258, 0.0005291, 0.0007502, 0.000831, 0.000885, 0.0009407, 0.000999, 0.00105, 0.0011012,
	0.001184, 0.0013206, 0.001546, 0.0017818, 0.0019301, 0.0020773, 0.0022414, 0.0024831, 0.002811, 0.0030429,
	0.0032922, 0.003627, 0.0039573, 0.0042916, 0.004822, 0.0053441, 0.005995, 0.0069303, 0.0083738, 0.0110673,
	0.015104, 0.019545, 0.024487, 0.029427, 0.0334912, 0.0382171, 0.0427573, 0.0488686, 0.054104, 0.0587803,
	0.063798, 0.0691304, 0.0749764, 0.0797479, 0.0858777, 0.0895573, 0.0915525, 0.092629, 0.093374, 0.0943262,
	0.0949904, 0.0956201, 0.0962707, 0.0968238, 0.0974253, 0.0979436, 0.0984767, 0.098878, 0.0993371, 0.0997658,
	0.1001298, 0.1006763, 0.1011975, 0.1018942, 0.1027278, 0.1039955, 0.1073304, 0.117337, 0.1288847, 0.1415133,
	0.1600692, 0.1759934, 0.1902134, 0.1949223, 0.1972483, 0.1988315, 0.2000916, 0.2020589, 0.2083279, 0.2342105,
	0.2728563, 0.2954427, 0.3000423, 0.3125365, 0.3720297, 0.4007763, 0.4892009, 0.5974356, 0.7987461, 2.2050704,
	9.9783312, 79.2325026, 217.168952,
}

// azureCodeGapTableMean is the mean of the piecewise-linear quantile
// function of azureCodeGapQ: the mean gap that sampling the table gives
// before rescaling.
var azureCodeGapTableMean = func() float64 {
	m := 0.0
	for i := 0; i+1 < len(quantileProbs); i++ {
		m += (quantileProbs[i+1] - quantileProbs[i]) * (azureCodeGapQ[i] + azureCodeGapQ[i+1]) / 2
	}
	return m
}()

// SynthAzureCode returns an endless source shaped like the Azure 2023 code
// trace. Code traffic is far burstier than conversation traffic (gap CV 13
// instead of 1.1), which no gamma process with a sane shape reproduces, so
// the gaps are drawn from the trace's own gap quantile table (a renewal
// process with the trace's gap distribution), scaled so that the mean rate
// is cfg.Rate (AzureCodeRate when 0). ContextTokens and GeneratedTokens are
// drawn independently from the trace's quantile tables. Rows start at At =
// 0 and have Line 0. A negative, infinite or NaN Rate panics (callers
// validate user input).
//
// The source is not safe for concurrent use; Close makes Next fail.
func SynthAzureCode(cfg SynthConfig) Source { return newSynth(&azureCodeParams, cfg) }

var azureCodeParams = synthParams{
	name:     "azure-code",
	stream:   0x617a7572655f6364, // "azure_cd"
	rate:     AzureCodeRate,
	contextQ: &azureCodeContextQ,
	genQ:     &azureCodeGenQ,
	gapQ:     &azureCodeGapQ,
	gapQMean: azureCodeGapTableMean,
}

// interpQuantiles is sampleQuantiles without rounding: the piecewise-linear
// quantile function of q at u in [0, 1).
func interpQuantiles(q *[103]float64, u float64) float64 {
	i := min(int(u*100), 99)
	for i < len(quantileProbs)-2 && u >= quantileProbs[i+1] {
		i++
	}
	p0, p1 := quantileProbs[i], quantileProbs[i+1]
	t := min(max((u-p0)/(p1-p0), 0), 1)
	return q[i] + t*(q[i+1]-q[i])
}
