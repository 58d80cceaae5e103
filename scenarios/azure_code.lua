-- azure_code.lua: replay Azure LLM inference "code" traffic (code completion).
--
-- Code traffic differs from conversation traffic in every dimension: long
-- prompts (median 1,469 tokens, up to 7,437), very short outputs (median 13
-- tokens) and bursty arrivals (requests milliseconds apart, then idle
-- seconds: the inter-arrival CV is 13, a Poisson process has 1). So TTFT
-- (prefill) dominates, and bursts queue up at the server.
--
-- Each row becomes one streamed chat request with a unique synthetic
-- prompt of the row's length, asking for exactly the row's output length
-- (max_tokens + ignore_eos). Without --csv the rows come from
-- llm.synth.azure_code, shaped like the Azure 2023 code trace (see
-- docs/traces.md), so this runs anywhere.
--
-- Usage:
--   llmload run scenarios/azure_code.lua --limit 200
--   llmload run scenarios/azure_code.lua --csv AzureLLMInferenceTrace_code.csv --speedup 4 \
--       --url http://gpu-node:8000 --model meta-llama/Llama-3.1-8B-Instruct
--
-- Options:
--   --csv PATH      Azure code trace CSV (2023 or 2024 format); empty: synthetic traffic
--   --speedup X     divide the inter-arrival gaps by X
--   --rate R        mean rate of the synthetic traffic in req/s; 0: the trace's own (2.57)
--   --ttft-slo D    TTFT objective for goodput (summary.json request_goodput)

local llm = require("llmload")

local opt = llm.options {
  csv = { default = "", help = "Azure code trace CSV; empty = synthetic azure-code-like traffic" },
  speedup = { default = 1, help = "divide inter-arrival gaps by this" },
  rate = { default = 0, help = "mean req/s of the synthetic traffic; 0 = the trace's own" },
  ttft_slo = { default = "2s", help = "TTFT objective of a good request" },
}

local rows
if opt.csv ~= "" then
  rows = llm.trace.azure(opt.csv)
elseif opt.rate > 0 then
  rows = llm.synth.azure_code { rate = opt.rate }
else
  rows = llm.synth.azure_code()
end

return llm.scenario {
  name = "azure-code",
  source = rows,
  arrivals = llm.arrivals.replay { speedup = opt.speedup },
  concurrency = 16, on_full = "queue",
  slo = { ttft = opt.ttft_slo },
  thresholds = { "error_rate < 1%" },
  request = function(row)
    return llm.chat {
      prompt_tokens = row.context_tokens,
      max_tokens = row.generated_tokens,
      ignore_eos = true,
      tags = { kind = "code" },
    }
  end,
}
