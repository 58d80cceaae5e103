-- capacity.lua: the highest load the server holds within its SLOs, in one run.
--
-- A capacity search (docs/scripting.md#capacity-searches) grows the load from
-- --start by doubling until a step breaks the SLO, then bisects between the
-- last good and the first bad level until they are within --precision of
-- each other. Each step has a warm-up, then runs until it has --min-requests
-- judged requests and --min-time, or --max-time; a step whose server is
-- saturated (backlog or TTFT growing) is stopped early and failed. A step
-- passes when at least --goodput of the requests sent in it met every
-- objective. The answer, its interval, every step and why the search stopped
-- are printed and written to summary.json ("capacity").
--
-- With --by users the search steps closed-loop chat users instead: each
-- runs conversations of --turns turns (the answers join the conversation,
-- --think seconds of think time between turns), and a step is judged on
-- the turns sent in it. Between steps the users pause at a turn boundary
-- while the step's last turns finish, then carry on their conversations.
--
-- Usage:
--   llmload run scenarios/capacity.lua --ttft-p99 1s --tpot-p99 100ms
--   llmload run scenarios/capacity.lua --by concurrency --max 512
--   llmload run scenarios/capacity.lua --by users --max 512 --turns 6 --think 2
--   llmload run scenarios/capacity.lua --csv AzureLLMInferenceTrace_conv.csv --arrivals constant

local llm = require("llmload")

local opt = llm.options {
  by = { default = "rate", help = "what the search varies: rate (open loop, req/s), concurrency (closed loop, requests in flight) or users (closed-loop chat sessions)" },
  start = { default = 1, help = "first level (req/s, or requests in flight)" },
  max = { default = 256, help = "highest level tried" },
  precision = { default = 0.1, help = "stop when the last good and first bad level are within this fraction" },
  ttft_p99 = { default = "1s", help = "TTFT objective" },
  tpot_p99 = { default = "100ms", help = "TPOT objective" },
  goodput = { default = 0.99, help = "fraction of a step's requests that must meet both objectives (0.99: p99)" },
  arrivals = { default = "poisson", help = "rate search: poisson, constant or gamma" },
  warmup = { default = "5s", help = "per step: requests sent earlier are not judged" },
  min_time = { default = "10s", help = "per step: judged time at least" },
  min_requests = { default = 100, help = "per step: judged requests at least (within max-time)" },
  max_time = { default = "60s", help = "per step: longest send phase" },
  csv = { default = "", help = "Azure trace CSV for the request shapes; empty = synthetic azure-conv-like rows" },
  concurrency_cap = { default = 1024, help = "llmload's own cap on requests in flight (a rate search needs it above the server's)" },
  turns = { default = 4, help = "by users: turns per conversation" },
  prompt = { default = 120, help = "by users: tokens of each user message" },
  answer = { default = 96, help = "by users: max_tokens of each answer" },
  think = { default = 1, help = "by users: mean think time between turns, seconds (exponential)" },
}

local search = {
  by = opt.by,
  start = opt.start,
  max = opt.max,
  precision = opt.precision,
  goodput = opt.goodput,
  warmup = opt.warmup,
  min_time = opt.min_time,
  min_requests = opt.min_requests,
  max_time = opt.max_time,
}
local slo = { ttft = opt.ttft_p99, tpot = opt.tpot_p99 }

if opt.by == "users" then
  return llm.scenario {
    name = "capacity",
    slo = slo,
    capacity = search,
    session = function(s)
      for turn = 1, opt.turns do
        s:user { tokens = opt.prompt }
        local r = s:chat { max_tokens = opt.answer, ignore_eos = true }
        if not r.ok then return end -- a failed turn ends the conversation
        if turn < opt.turns and opt.think > 0 then s:think { mean = opt.think } end
      end
    end,
  }
end

search.arrivals = opt.arrivals
local rows = opt.csv ~= "" and llm.trace.azure(opt.csv) or llm.synth.azure_conv()

return llm.scenario {
  name = "capacity",
  source = rows,
  concurrency = opt.concurrency_cap,
  slo = slo,
  capacity = search,
  request = function(row)
    return llm.chat { prompt_tokens = row.context_tokens, max_tokens = row.generated_tokens, ignore_eos = true }
  end,
}
