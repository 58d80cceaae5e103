-- shard_trace.lua: a small fixed trace (40 synthetic azure-conv rows of
-- the run seed) that runs whole or as shard --part of --parts, for the
-- merge test (merge_e2e_test.go): the shards together send exactly the
-- rows of the whole run.
local llm = require("llmload")

local opt = llm.options {
  part = { default = 0, help = "this shard's index, 0-based" },
  parts = { default = 1, help = "number of shards (1: the whole trace)" },
}

local rows = llm.synth.azure_conv():limit(40)
if opt.parts > 1 then rows = rows:shard(opt.part, opt.parts) end

return llm.scenario {
  name = "shard-trace",
  source = rows,
  arrivals = llm.arrivals.replay { speedup = 20 },
  concurrency = 16, on_full = "queue",
  slo = { ttft = "300ms" },
  thresholds = { "completed >= 40", "error_rate < 1%" },
  request = function(row)
    return llm.chat {
      prompt_tokens = math.min(row.context_tokens, 1500),
      max_tokens = math.min(row.generated_tokens, 60),
      ignore_eos = true,
    }
  end,
}
