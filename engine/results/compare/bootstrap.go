package compare

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// sample is a set of values for the bootstrap, resampled by cluster:
// each value belongs to a cluster (a request), and a resample draws whole
// clusters with replacement. For TTFT, TPOT and E2EL a cluster is one
// value; for ITL it is a request's tokens, whose gaps are not independent
// (one slow batch slows all of a request's tokens), so resampling tokens
// one by one would understate the spread.
type sample struct {
	vals     []float64 // ascending
	owner    []int32   // cluster of vals[i]; nil: vals[i] is cluster i
	clusters int
}

func newSample(vals []float64) *sample {
	slices.Sort(vals)
	return &sample{vals: vals, clusters: len(vals)}
}

// newClusterSample makes a sample of groups[i] (cluster i's values).
func newClusterSample(groups [][]float32) *sample {
	type vo struct {
		v float64
		o int32
	}
	var all []vo
	for i, g := range groups {
		for _, v := range g {
			all = append(all, vo{float64(v), int32(i)})
		}
	}
	slices.SortFunc(all, func(a, b vo) int { return cmp.Compare(a.v, b.v) })
	s := &sample{vals: make([]float64, len(all)), owner: make([]int32, len(all)), clusters: len(groups)}
	for i, x := range all {
		s.vals[i], s.owner[i] = x.v, x.o
	}
	return s
}

// stats are the statistics compare reports for latencies.
var stats = []struct {
	name string
	p    float64 // percentile; 0 = mean
}{{"mean", 0}, {"p50", 50}, {"p90", 90}, {"p95", 95}, {"p99", 99}}

// estimate computes every statistic of stats with cluster weights w (nil:
// every cluster once) into out. Percentiles are nearest-rank (rank
// ⌊p/100·n + ½⌋, at least 1), summary.json's definition.
func (s *sample) estimate(w []int32, out []float64) {
	weight := func(i int) float64 {
		if w == nil {
			return 1
		}
		o := i
		if s.owner != nil {
			o = int(s.owner[i])
		}
		return float64(w[o])
	}
	var n, sum float64
	for i := range s.vals {
		k := weight(i)
		n += k
		sum += k * s.vals[i]
	}
	if n == 0 {
		for i := range out {
			out[i] = math.NaN()
		}
		return
	}
	ranks := make([]float64, len(stats))
	for j, st := range stats {
		if st.p == 0 {
			out[j] = sum / n
			continue
		}
		ranks[j] = math.Max(math.Floor(st.p/100*n+0.5), 1)
	}
	var cum float64
	next := 1 // stats[0] is the mean
	for i := 0; i < len(s.vals) && next < len(stats); i++ {
		cum += weight(i)
		for next < len(stats) && cum >= ranks[next] {
			out[next] = s.vals[i]
			next++
		}
	}
	for ; next < len(stats); next++ {
		out[next] = s.vals[len(s.vals)-1]
	}
}

// resample draws s.clusters clusters with replacement into w.
func (s *sample) resample(rng *rand.Rand, w []int32) {
	clear(w)
	for range s.clusters {
		w[rng.IntN(s.clusters)]++
	}
}

// bootstrapRatios returns, for each statistic, resamples values of
// stat(new*)/stat(base*) − 1, NaN where the base's was 0.
func bootstrapRatios(base, next *sample, resamples int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 0x6c6d6c6f6164))
	wb, wn := make([]int32, base.clusters), make([]int32, next.clusters)
	sb, sn := make([]float64, len(stats)), make([]float64, len(stats))
	out := make([][]float64, len(stats))
	for range resamples {
		base.resample(rng, wb)
		next.resample(rng, wn)
		base.estimate(wb, sb)
		next.estimate(wn, sn)
		for j := range stats {
			r := math.NaN()
			if sb[j] != 0 {
				r = sn[j]/sb[j] - 1
			}
			out[j] = append(out[j], r)
		}
	}
	return out
}

// interval is the 95% percentile interval of xs (NaNs left out); NaN
// bounds when fewer than 20 values remain.
func interval(xs []float64) (lo, hi float64) {
	v := slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
	if len(v) < 20 {
		return math.NaN(), math.NaN()
	}
	slices.Sort(v)
	at := func(q float64) float64 {
		pos := q * float64(len(v)-1)
		i := int(pos)
		if i+1 >= len(v) {
			return v[len(v)-1]
		}
		f := pos - float64(i)
		return v[i]*(1-f) + v[i+1]*f
	}
	return at(0.025), at(0.975)
}

// meanRatios bootstraps the ratio of the means of two sets of window
// rates: mean(new*)/mean(base*) − 1.
func meanRatios(base, next []float64, resamples int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x77696e646f77))
	mean := func(xs []float64) float64 {
		var s float64
		for range xs {
			s += xs[rng.IntN(len(xs))]
		}
		return s / float64(len(xs))
	}
	out := make([]float64, 0, resamples)
	for range resamples {
		b, n := mean(base), mean(next)
		if b == 0 {
			out = append(out, math.NaN())
			continue
		}
		out = append(out, n/b-1)
	}
	return out
}
