-- poisson_sweep.lua: the highest Poisson request rate that still meets the SLO.
--
-- A capacity search over the rate of Poisson arrivals: it doubles the rate
-- from --start until a step breaks the SLO, then bisects until the last good
-- and the first bad rate are within --precision (docs/scripting.md#capacity-searches).
-- A step passes when at least --target of its requests were good (completed
-- within --ttft-slo and --tpot-slo). It used to be a linear climb written in
-- hooks (kept as bench/linear_sweep.lua for comparison); the search reaches
-- the same precision in far fewer steps, and stops a step early once the
-- server is saturated.
--
-- Usage:
--   llmload run scenarios/poisson_sweep.lua --start 2 --ttft-slo 1s
--   llmload run scenarios/poisson_sweep.lua --precision 0.05 --step-time 20s
--
-- See also scenarios/capacity.lua (concurrency, trace shapes, every knob).

local llm = require("llmload")

local opt = llm.options {
  start = { default = 2, help = "first rate, requests per second" },
  max = { default = 512, help = "highest rate tried" },
  precision = { default = 0.1, help = "relative width of the final bracket" },
  step_time = { default = "10s", help = "judged time per step, after a 5 s warm-up" },
  target = { default = 0.9, help = "fraction of good requests a step needs to pass" },
  min_requests = { default = 50, help = "requests a step needs before it is judged" },
  ttft_slo = { default = "1s", help = "TTFT objective" },
  tpot_slo = { default = "100ms", help = "TPOT objective" },
}

return llm.scenario {
  name = "poisson-sweep",
  source = llm.synth.azure_conv(),
  concurrency = 1024,
  slo = { ttft = opt.ttft_slo, tpot = opt.tpot_slo },
  capacity = {
    by = "rate", arrivals = "poisson",
    start = opt.start, max = opt.max, precision = opt.precision,
    goodput = opt.target, min_time = opt.step_time, min_requests = opt.min_requests,
  },
}
