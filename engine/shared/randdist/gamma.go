// Package randdist holds random variates the engine draws from more than
// one place (arrival gaps in pace, synthetic traces in trace), and the
// seed mixing of prompt streams and shard seeds, so each is written, and
// tested, once.
package randdist

import (
	"math"
	"math/rand/v2"
)

// Gamma draws from Gamma(shape, 1) with Marsaglia and Tsang's method
// (ACM TOMS 26(3), 2000). For shape < 1 it uses the boost
// Gamma(a) = Gamma(a+1) * U^(1/a). rng is used by the caller's goroutine
// only; Gamma keeps no state of its own.
func Gamma(rng *rand.Rand, shape float64) float64 {
	boost := 1.0
	if shape < 1 {
		boost = math.Pow(rng.Float64(), 1/shape)
		shape++
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v * boost
		}
	}
}
