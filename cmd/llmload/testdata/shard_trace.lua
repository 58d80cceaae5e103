-- shard_trace.lua: a small fixed trace (40 synthetic azure-conv rows of
-- the run seed) for the merge test (merge_e2e_test.go), run whole and as
-- `--shard i/4`. Its threshold "completed >= 40" fails in every shard (10
-- requests each) and holds on the merged run: merge checks thresholds on
-- the merged data.
local llm = require("llmload")

return llm.scenario {
  name = "shard-trace",
  source = llm.synth.azure_conv():limit(40),
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
