-- burstgpt.lua: replay a BurstGPT trace (GPT-3.5 and GPT-4 traffic on Azure).
--
-- BurstGPT (https://github.com/HPMLL/BurstGPT) logs each request's arrival
-- (Timestamp, seconds), Model, Request tokens, Response tokens, Total
-- tokens and Log Type ("Conversation log" or "API log"). Rows with zero
-- response tokens are failed requests: they are left out (and counted) by
-- default, or replayed as 1-token requests with --keep-failed, so the
-- arrival pattern keeps its failed bursts.
--
-- Without --trace it replays scenarios/data/burstgpt_sample.csv: 200
-- synthetic rows in BurstGPT's column layout, made for llmload, so this
-- runs on a fresh clone.
--
-- Usage:
--   llmload run scenarios/burstgpt.lua --limit 50                 # sample, built-in simulator
--   llmload run scenarios/burstgpt.lua --trace BurstGPT_1.csv --only-model GPT-4 --speedup 20 \
--       --url http://gpu-node:8000 --model meta-llama/Llama-3.1-8B-Instruct
--
-- Options of this scenario:
--   --trace PATH          BurstGPT CSV; default: the shipped sample
--   --speedup X           divide the trace's inter-arrival gaps by X
--   --only-model NAME     replay only rows of this Model (ChatGPT or GPT-4); empty: all
--   --log-type NAME       replay only this Log Type ("Conversation log" or "API log"); empty: all
--   --keep-failed         replay failed requests too, as 1-token requests
--   --from S, --to S      replay only the part of the trace from S to T seconds in (--to 0: to the end)

local llm = require("llmload")

local opt = llm.options {
  trace = { default = llm.script_dir .. "/data/burstgpt_sample.csv", help = "BurstGPT CSV (BurstGPT_1.csv or a slice of it)" },
  speedup = { default = 1, help = "divide inter-arrival gaps by this" },
  only_model = { default = "", help = "replay only rows whose Model is this (ChatGPT or GPT-4); empty = all" },
  log_type = { default = "", help = "replay only rows of this Log Type (Conversation log or API log); empty = all" },
  keep_failed = { default = false, help = "replay failed requests (Response tokens = 0) as 1-token requests" },
  from = { default = 0, help = "seconds into the trace to start at" },
  to = { default = 0, help = "seconds into the trace to stop at; 0 = the end" },
}

local rows = llm.trace.burstgpt(opt.trace, { keep_failed = opt.keep_failed })
if opt.from > 0 or opt.to > 0 then
  rows = rows:window(opt.from, opt.to > 0 and opt.to or nil)
end
if opt.only_model ~= "" or opt.log_type ~= "" then
  rows = rows:filter(function(row)
    return (opt.only_model == "" or row.fields.Model == opt.only_model)
       and (opt.log_type == "" or row.fields["Log Type"] == opt.log_type)
  end)
end

return llm.scenario {
  name = "burstgpt",
  source = rows,
  arrivals = llm.arrivals.replay { speedup = opt.speedup },
  concurrency = 32, on_full = "queue",
  request = function(row)
    return llm.chat {
      prompt_tokens = math.max(1, row.context_tokens),
      max_tokens = row.failed and 1 or row.generated_tokens,
      ignore_eos = true,
      tags = { model = row.fields.Model, log_type = row.fields["Log Type"], failed = row.failed },
    }
  end,
}
