-- burst.lua: bursty arrivals at a fixed mean rate (gamma process).
--
-- The same mean rate hurts more when it comes in bursts. Gaps between
-- requests are gamma-distributed with mean 1/--rate and shape --burstiness,
-- as vLLM's benchmark's --burstiness: 1 is a Poisson process, below 1 the
-- requests bunch up (0.25: gaps' coefficient of variation 2), above 1 they
-- are more regular. Run it twice, e.g. --burstiness 1 and 0.2, and compare
-- TTFT p99 and the client queue time at the same throughput.
--
-- Lengths come from the synthetic Azure-conversation source. The first
-- --warmup requests are left out of the summary (the server's caches and
-- CUDA graphs warm up).
--
-- Usage:
--   llmload run scenarios/burst.lua --rate 8 --burstiness 0.25 --duration 5m
--   llmload run scenarios/burst.lua --limit 40
--
-- Options: --rate R (mean req/s), --burstiness B (> 0), --warmup N (requests).

local llm = require("llmload")

local opt = llm.options {
  rate = { default = 8, help = "mean requests per second" },
  burstiness = { default = 0.25, help = "gamma shape: 1 = Poisson, < 1 burstier, > 1 more regular" },
  warmup = { default = 5, help = "requests at the start left out of the summary" },
}

return llm.scenario {
  name = "burst",
  source = llm.synth.azure_conv(),
  arrivals = llm.arrivals.gamma { rate = opt.rate, burstiness = opt.burstiness },
  concurrency = 32, on_full = "queue",
  warmup = opt.warmup,
  slo = { ttft = "1s", tpot = "100ms" },
  thresholds = { "error_rate < 1%" },
}
