-- linear_sweep.lua: the linear climb scenarios/poisson_sweep.lua used to be,
-- kept for bench/capacity.sh to compare with the capacity search. It stops
-- the run (with an error from on_window) as soon as a step breaks the SLO.
--
-- poisson_sweep.lua: find the highest request rate that still meets the SLO.
--
-- Poisson arrivals start at --start requests per second. Every --step-time
-- seconds the requests sent at the current rate are judged: when at least
-- --target of them (0.9 = 90%) were good (completed within the SLO:
-- --ttft-slo and --tpot-slo), the rate goes up by --step; when not, the
-- SLO is broken: the rate falls back to the last good one and the sweep
-- stops climbing. teardown prints each step and the highest good rate.
--
-- This is the question "how many requests per second does this server hold
-- at TTFT <= 1 s?", answered in one run. The rate changes through
-- llm.set_rate from the on_window hook, so a step lasts whole sample windows
-- (--sample-interval, 5 s by default: keep --step-time a multiple of it).
-- Each step should hold enough requests to judge (--min-requests).
--
-- Usage:
--   llmload run scenarios/poisson_sweep.lua --start 2 --step 2 --step-time 30 --ttft-slo 1s
--   llmload run scenarios/poisson_sweep.lua --limit 40 --sample-interval 2s --step-time 4
--
-- Options: --start R, --step R (req/s), --step-time S (seconds), --steps N
-- (the run lasts steps * step-time at most), --target F, --min-requests N,
-- --ttft-slo D, --tpot-slo D.

local llm = require("llmload")

local opt = llm.options {
  start = { default = 2, help = "first rate, requests per second" },
  step = { default = 2, help = "rate increase per step" },
  step_time = { default = 10, help = "seconds per step" },
  steps = { default = 10, help = "steps at most" },
  target = { default = 0.9, help = "fraction of good requests a step needs to pass" },
  min_requests = { default = 10, help = "requests a step needs before it is judged" },
  ttft_slo = { default = "1s", help = "TTFT objective" },
  tpot_slo = { default = "100ms", help = "TPOT objective" },
}

local rate = opt.start
local changes = { { at_ms = 0, rate = rate } } -- when each rate took effect
local tally = {}                               -- rate -> {n = requests, good = good ones}
local step_start, best, broken = 0, nil, nil

-- The rate in effect when a request was scheduled.
local function rate_at(ms)
  local r = changes[1].rate
  for _, c in ipairs(changes) do
    if c.at_ms <= ms then r = c.rate end
  end
  return r
end

return llm.scenario {
  name = "poisson-sweep",
  source = llm.synth.azure_conv(),
  arrivals = llm.arrivals.poisson { rate = opt.start },
  concurrency = 256,
  duration = opt.steps * opt.step_time,
  slo = { ttft = opt.ttft_slo, tpot = opt.tpot_slo },

  on_response = function(r)
    local key = rate_at(r.scheduled_ms)
    local t = tally[key] or { n = 0, good = 0 }
    t.n = t.n + 1
    if r.good then t.good = t.good + 1 end
    tally[key] = t
  end,

  on_window = function(w)
    if broken or w.end_s - step_start < opt.step_time then return end
    local t = tally[rate] or { n = 0, good = 0 }
    if t.n < opt.min_requests then return end -- not enough to judge yet
    if t.good / t.n >= opt.target then
      best = rate
      rate = rate + opt.step
    else
      broken = rate
      print(string.format("linear sweep broke at %.2f req/s after %.1f s; highest good rate %s", broken, w.end_s, tostring(best)))
      error("linear sweep finished")
    end
    llm.set_rate(rate)
    step_start = w.end_s
    changes[#changes + 1] = { at_ms = w.end_s * 1000, rate = rate }
  end,

  teardown = function(summary)
    print(string.format("poisson sweep (SLO: TTFT <= %s, TPOT <= %s; a step passes with %d%% good):",
      opt.ttft_slo, opt.tpot_slo, opt.target * 100))
    local rates = {}
    for r in pairs(tally) do rates[#rates + 1] = r end
    table.sort(rates)
    for _, r in ipairs(rates) do
      local t = tally[r]
      print(string.format("  %6.2f req/s: %4d requests, %5.1f%% good", r, t.n, 100 * t.good / t.n))
    end
    if best then
      print(string.format("highest rate meeting the SLO: %.2f req/s%s", best,
        broken and string.format(" (broken at %.2f req/s)", broken) or " (never broken: raise --steps)"))
    else
      print("no step met the SLO" .. (broken and string.format(" (the first, %.2f req/s, broke it)", broken) or " (too few requests to judge)"))
    end
    print(string.format("run: request goodput %.2f req/s of %.2f req/s throughput", summary.request_goodput, summary.request_throughput))
  end,
}
