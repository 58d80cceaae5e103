package record

import (
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// SLO is the per-request service level objective behind goodput: a request
// is good when it completed and met every objective that is set. A zero
// field is not set. The comparison is <=, as vLLM bench's --goodput.
type SLO struct {
	TTFT time.Duration // time to first token, from send
	TPOT time.Duration // time per output token after the first
	E2E  time.Duration // end-to-end latency, from send to the last byte
}

// IsSet reports whether any objective is set.
func (s SLO) IsSet() bool { return s.TTFT > 0 || s.TPOT > 0 || s.E2E > 0 }

// Met reports whether res is a good request: it did not fail, and each set
// objective holds. A request with no token at all misses a TTFT objective
// (it never delivered one); one with fewer than two tokens has no TPOT and
// meets a TPOT objective (vLLM counts its TPOT as 0). Failed and dropped
// requests are never good, so they count against goodput.
func (s SLO) Met(res *request.Result) bool {
	if res.Failed() {
		return false
	}
	if s.TTFT > 0 && (res.FirstToken == 0 || res.TTFT() > s.TTFT) {
		return false
	}
	if s.TPOT > 0 {
		if tpot, ok := res.TPOT(); ok && tpot > s.TPOT {
			return false
		}
	}
	if s.E2E > 0 && res.E2E() > s.E2E {
		return false
	}
	return true
}

// isWarmup reports whether res falls in the warm-up that the summary
// leaves out.
func (c *Config) isWarmup(res *request.Result) bool {
	if c.Warmup != nil {
		return c.Warmup(res)
	}
	return res.Seq < c.WarmupRequests || res.Scheduled < c.WarmupDuration
}
