-- azure_mixed.lua: code and conversation traffic at once, against one server.
--
-- Two scenarios run side by side, each with its own source, arrivals,
-- concurrency cap and results (a subdirectory per scenario), and each
-- request tagged kind = "code" or kind = "conv": what a shared endpoint
-- serving an IDE assistant and a chat app sees. Comparing the two tables
-- shows how the long code prompts (prefill) hurt chat TTFT, and how chat's
-- long outputs (decode) slow code completions.
--
-- Without --code-csv / --conv-csv the rows are synthetic, shaped like the
-- Azure 2023 traces (llm.synth.azure_code, llm.synth.azure_conv).
--
-- Usage:
--   llmload run scenarios/azure_mixed.lua --limit 100
--   llmload run scenarios/azure_mixed.lua --code-csv AzureLLMInferenceTrace_code.csv \
--       --conv-csv AzureLLMInferenceTrace_conv.csv --speedup 2 --url http://gpu-node:8000
--
-- Options:
--   --code-csv PATH, --conv-csv PATH   the two traces; empty: synthetic
--   --speedup X                        divide both traces' gaps by X
--   --code-share N, --conv-share N     concurrency caps of the two scenarios
-- --limit and --duration apply to each scenario.

local llm = require("llmload")

local opt = llm.options {
  code_csv = { default = "", help = "Azure code trace CSV; empty = synthetic" },
  conv_csv = { default = "", help = "Azure conversation trace CSV; empty = synthetic" },
  speedup = { default = 1, help = "divide inter-arrival gaps by this" },
  code_share = { default = 8, help = "concurrency cap of the code scenario" },
  conv_share = { default = 16, help = "concurrency cap of the conversation scenario" },
}

-- One function for both: the row's lengths, and a tag naming the traffic.
local function requests(kind)
  return function(row)
    return llm.chat {
      prompt_tokens = row.context_tokens,
      max_tokens = row.generated_tokens,
      ignore_eos = true,
      tags = { kind = kind },
    }
  end
end

return {
  llm.scenario {
    name = "code",
    source = opt.code_csv ~= "" and llm.trace.azure(opt.code_csv) or llm.synth.azure_code(),
    arrivals = llm.arrivals.replay { speedup = opt.speedup },
    concurrency = opt.code_share,
    slo = { ttft = "2s" },
    request = requests("code"),
  },
  llm.scenario {
    name = "conv",
    source = opt.conv_csv ~= "" and llm.trace.azure(opt.conv_csv) or llm.synth.azure_conv(),
    arrivals = llm.arrivals.replay { speedup = opt.speedup },
    concurrency = opt.conv_share,
    slo = { ttft = "1s", tpot = "100ms" },
    request = requests("conv"),
  },
}
