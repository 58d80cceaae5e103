package trace

import (
	"math"
	"slices"
	"testing"

	"github.com/llmload/llmload/internal/testenv"
)

// TestSynthCodeFiguresMatchTrace recomputes the embedded code figures from
// the real trace.
func TestSynthCodeFiguresMatchTrace(t *testing.T) {
	r, err := OpenAzure(testenv.SharedData(t, "azure2023/AzureLLMInferenceTrace_code.csv"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows := readAll(t, r)
	st := statsOf(rows)
	if st.rows != 8819 {
		t.Errorf("%d rows, want 8819", st.rows)
	}
	checkEmbeddedFigures(t, st, traceFigures{AzureCodeRate, AzureCodeGapCV, azureCodeContextMean, azureCodeGenMean,
		azureCodeContextMedian, azureCodeGenMedian}, &azureCodeContextQ, &azureCodeGenQ)
	gaps := make([]float64, 0, len(rows)-1)
	for i := 1; i < len(rows); i++ {
		gaps = append(gaps, (rows[i].At - rows[i-1].At).Seconds())
	}
	slices.Sort(gaps)
	for i, p := range quantileProbs {
		// Gaps are embedded to 0.1 µs.
		if got := quantile7(gaps, p); math.Abs(got-azureCodeGapQ[i]) > 1e-7 {
			t.Errorf("gap quantile %g = %.8g, embedded %.8g", p, got, azureCodeGapQ[i])
		}
	}
}

func TestSynthCodeMatchesFigures(t *testing.T) {
	const n = 400_000
	rows := readAll(t, Limit(SynthAzureCode(SynthConfig{Seed: 1}), n))
	if rows[0].At != 0 || rows[0].Line != 0 || rows[0].HashIDs != nil {
		t.Errorf("first row %+v, want At 0, Line 0, no hash ids", rows[0])
	}
	st := statsOf(rows)
	t.Logf("synthetic code, %d rows: rate %.4f/s, gap CV %.3f, context mean %.1f, generated mean %.1f",
		n, st.rate, st.gapCV, st.ctxMean, st.genMean)
	// The table's gaps have a CV near 10, so the rate's standard error is
	// about 10/sqrt(n) = 1.6%: 8% is five of them.
	checkNear(t, []figureCheck{
		{"rate", st.rate, AzureCodeRate, 0.08},
		{"context mean", st.ctxMean, azureCodeContextMean, 0.02},
		{"generated mean", st.genMean, azureCodeGenMean, 0.03},
	})
	// Bursty like the trace: a gap CV far above a Poisson process's 1.
	if st.gapCV < 5 {
		t.Errorf("synthetic gap CV %.3g; the code trace's is %.3g", st.gapCV, AzureCodeGapCV)
	}
	// The gap distribution's middle, rescaled to the mean: the trace's
	// median gap is 6% of its mean one.
	gaps := make([]float64, 0, n-1)
	for i := 1; i < n; i++ {
		gaps = append(gaps, (rows[i].At - rows[i-1].At).Seconds())
	}
	slices.Sort(gaps)
	wantMedian := azureCodeGapQ[50] / azureCodeGapTableMean / AzureCodeRate
	if m := quantile7(gaps, 0.5); !near(m, wantMedian, 0.03) {
		t.Errorf("median gap %.4g s, want %.4g s", m, wantMedian)
	}
	checkMarginals(t, st, &azureCodeContextQ, &azureCodeGenQ)
}

func TestSynthCodeRateAndSeed(t *testing.T) {
	st := statsOf(readAll(t, Limit(SynthAzureCode(SynthConfig{Seed: 3, Rate: 40}), 400_000)))
	if !near(st.rate, 40, 0.08) {
		t.Errorf("Rate 40: got %.4g", st.rate)
	}
	a := readAll(t, Limit(SynthAzureCode(SynthConfig{Seed: 42}), 2000))
	b := readAll(t, Limit(SynthAzureCode(SynthConfig{Seed: 42}), 2000))
	c := readAll(t, Limit(SynthAzureCode(SynthConfig{Seed: 43}), 2000))
	if !slices.EqualFunc(a, b, func(x, y Row) bool {
		return x.At == y.At && x.ContextTokens == y.ContextTokens && x.GeneratedTokens == y.GeneratedTokens
	}) {
		t.Error("the same seed gave different rows")
	}
	if slices.EqualFunc(a, c, func(x, y Row) bool { return x.At == y.At }) {
		t.Error("seeds 42 and 43 gave the same arrivals")
	}
}

func TestInterpQuantiles(t *testing.T) {
	if got := interpQuantiles(&azureCodeGapQ, 0); got != azureCodeGapQ[0] {
		t.Errorf("u=0: %g", got)
	}
	if got := interpQuantiles(&azureCodeGapQ, 0.997); !near(got, (azureCodeGapQ[100]+azureCodeGapQ[101])/2, 1e-9) {
		t.Errorf("u=0.997: %g", got)
	}
	if got := interpQuantiles(&azureCodeGapQ, math.Nextafter(1, 0)); !near(got, azureCodeGapQ[102], 1e-9) {
		t.Errorf("u→1: %g", got)
	}
	if got := interpQuantiles(&azureCodeGapQ, 0.255); !near(got, (azureCodeGapQ[25]+azureCodeGapQ[26])/2, 1e-9) {
		t.Errorf("u=0.255: %g", got)
	}
}

// TestSynthCodeMeanRateExact checks the rescaling without sampling noise
// (the gaps are too heavy-tailed for a sample mean to be tight): the mean
// of the gap quantile function, integrated over u, times the scale, is
// exactly 1/rate.
func TestSynthCodeMeanRateExact(t *testing.T) {
	const steps = 1_000_000
	sum := 0.0
	for i := range steps {
		sum += interpQuantiles(&azureCodeGapQ, (float64(i)+0.5)/steps)
	}
	mean := sum / steps
	if !near(mean, azureCodeGapTableMean, 1e-6) {
		t.Fatalf("integrated table mean %.9g, computed %.9g", mean, azureCodeGapTableMean)
	}
	for _, rate := range []float64{0, 1, 37.5} {
		s := SynthAzureCode(SynthConfig{Rate: rate}).(*synth)
		want := rate
		if rate == 0 {
			want = AzureCodeRate
		}
		if got := 1 / (mean * s.scale); !near(got, want, 1e-6) {
			t.Errorf("Rate %g: expected rate %.9g", rate, got)
		}
	}
}
