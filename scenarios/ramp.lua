-- ramp.lua: ramp the request rate up, hold it, ramp it down (k6 stages).
--
-- The classic capacity test: the rate rises linearly from 0 to --peak
-- requests per second over --up seconds, stays there for --hold seconds,
-- and falls back to 0 over --down seconds. Arrivals follow the ramp exactly
-- as k6's ramping-arrival-rate executor places them (request n is sent when
-- the rate's integral reaches n); --poisson makes them random around it.
-- Watch where TTFT and the client queue time turn up on the dashboard: that
-- rate is the server's knee. The run ends with the last stage.
--
-- Prompt and output lengths come from the synthetic Azure-conversation
-- source, so each request is realistic; only the timing is the ramp's.
--
-- Usage:
--   llmload run scenarios/ramp.lua --peak 40 --up 120 --hold 300 --down 60
--   llmload run scenarios/ramp.lua --limit 40          # a quick look
--
-- Options: --peak R (req/s), --up S, --hold S, --down S (seconds),
-- --poisson (random arrivals along the same rate curve).

local llm = require("llmload")

local opt = llm.options {
  peak = { default = 20, help = "requests per second at the top of the ramp" },
  up = { default = 30, help = "seconds to ramp from 0 to the peak" },
  hold = { default = 60, help = "seconds at the peak" },
  down = { default = 30, help = "seconds to ramp back to 0" },
  poisson = { default = false, help = "random (Poisson) arrivals along the ramp instead of evenly spread" },
}

return llm.scenario {
  name = "ramp",
  source = llm.synth.azure_conv(),
  arrivals = llm.arrivals.stages {
    { rate = opt.peak, duration = opt.up },
    { rate = opt.peak, duration = opt.hold },
    { rate = 0, duration = opt.down },
    poisson = opt.poisson,
  },
  concurrency = 64, on_full = "queue",
  slo = { ttft = "1s", tpot = "100ms" },
  thresholds = {
    "error_rate < 1%",
    -- Stop early when the server is plainly overwhelmed (after a warm-up).
    { "ttft p95 < 10s", abort_on_fail = true, delay_abort_eval = "20s" },
  },
}
