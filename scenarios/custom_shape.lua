-- custom_shape.lua: a diurnal traffic curve written in Lua.
--
-- Real services see a day-night cycle. Here the rate follows a sine wave
-- between --low and --high requests per second over a "day" of --day
-- seconds (compressed: the default day is two minutes), for --days days,
-- starting at the mean and rising. The arrival function below returns the
-- gap before each request; it draws a non-homogeneous Poisson process by
-- thinning (Lewis and Shedler): candidate arrivals at the peak rate, each
-- kept with probability rate(t) / peak. Returning nil ends the run.
--
-- The function runs on the planner, ahead of the send times; math.random
-- is seeded from --seed, so the same seed gives the same arrivals. Edit
-- rate(t) to draw any shape (a lunch peak, a weekly cycle, a step).
--
-- Usage:
--   llmload run scenarios/custom_shape.lua --low 1 --high 20 --day 600 --days 2
--   llmload run scenarios/custom_shape.lua --limit 40
--
-- Options: --low R, --high R (req/s), --day S (seconds per cycle), --days N.

local llm = require("llmload")

local opt = llm.options {
  low = { default = 1, help = "requests per second at night" },
  high = { default = 10, help = "requests per second at midday" },
  day = { default = 120, help = "seconds per day-night cycle" },
  days = { default = 1, help = "cycles to run" },
}

local function rate(t)
  return (opt.high + opt.low) / 2 + (opt.high - opt.low) / 2 * math.sin(2 * math.pi * t / opt.day)
end

return llm.scenario {
  name = "diurnal",
  source = llm.synth.azure_conv(),
  arrivals = llm.arrivals.custom(function(n, t)
    local gap = 0
    repeat -- thinning: candidates at the peak rate, kept with probability rate/peak
      gap = gap - math.log(1 - math.random()) / opt.high
    until math.random() * opt.high <= rate(t + gap)
    if t + gap > opt.day * opt.days then return nil end
    return gap
  end),
  concurrency = 32,
  thresholds = { "error_rate < 1%" },
}
