package batching

import "time"

// CostModel turns a batch into the wall time one engine step takes on the
// simulated GPU:
//
//	step = Overhead + max(WeightRead, tokens*PerToken)
//	     + DecodeContext*PerContextToken + PrefillPairs*PerPrefillPair
//
// The max term is the roofline of the dense layers: a small batch is bound by
// streaming the weights from HBM once per step, a large one by tensor-core
// throughput. The last two terms are attention: decoding sequences read their
// whole KV cache, prefill chunks compute causal attention over their context.
// docs/sim.md derives the constants of each profile from published figures.
type CostModel struct {
	Overhead        time.Duration // per-step scheduling, sampling and launch cost
	WeightRead      time.Duration // one pass over the weights at HBM bandwidth
	PerToken        time.Duration // dense-layer compute per batched token
	PerContextToken float64       // ns to read one token's K and V for one decode query
	PerPrefillPair  float64       // ns of attention compute per (query, key) pair
}

// H100Llama3_8B models Llama-3.1-8B-Instruct in BF16 on one H100 SXM 80 GB
// under vLLM with CUDA graphs (see docs/sim.md for the sources):
//
//   - WeightRead: 16.06 GB of weights / 3.35 TB/s HBM3 = 4.8 ms.
//   - Overhead: a 10-sequence decode step measured 7.2 ms per token on vLLM
//     0.6.0 (Lambda vllm-benchmark, 1xH100-80GB-SXM, Llama-3-8B-Instruct),
//     2.4 ms above the weight-read floor.
//   - PerToken: 2 x 8.03 GFLOP per token at ~46% of the 989 TFLOP/s dense
//     BF16 peak = 35 us, which puts the roofline knee at ~137 tokens. With it,
//     256 concurrent ShareGPT-like requests run at ~9k output tokens/s and
//     ~25 ms TPOT, against 8,088 tokens/s and 25.6 ms median TPOT measured on
//     vLLM 0.6.0 (Lambda, max-num-seqs 256); see cost_test.go.
//   - PerContextToken: 128 KiB of BF16 K+V per token (32 layers x 8 KV heads
//     x 128 dims x 2 x 2 bytes) / 3.35 TB/s = 39 ns.
//   - PerPrefillPair: 4 x 4096 x 32 = 524 kFLOP per pair at ~50% of peak = 1 ns.
func H100Llama3_8B() CostModel {
	return CostModel{
		Overhead:        2400 * time.Microsecond,
		WeightRead:      4800 * time.Microsecond,
		PerToken:        35 * time.Microsecond,
		PerContextToken: 39.1,
		PerPrefillPair:  1.0,
	}
}

// StepTime is the duration of a step that runs b.
func (m CostModel) StepTime(b *Batch) time.Duration {
	gemm := time.Duration(b.Tokens()) * m.PerToken
	if gemm < m.WeightRead {
		gemm = m.WeightRead
	}
	attn := float64(b.DecodeContext)*m.PerContextToken + float64(b.PrefillPairs)*m.PerPrefillPair
	return m.Overhead + gemm + time.Duration(attn)
}
