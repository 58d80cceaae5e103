-- azure_conv.lua: replay Azure LLM inference "conversation" traffic.
--
-- Each trace row (timestamp, context tokens, generated tokens) becomes one
-- streamed chat request with a unique synthetic prompt of that many tokens
-- that asks for exactly that many output tokens (max_tokens + ignore_eos),
-- sent at the row's time. Without --csv the rows come from a synthetic
-- source shaped like the Azure 2023 conversation trace, so this runs
-- anywhere.
--
-- Usage:
--   llmload run scenarios/azure_conv.lua                     # synthetic rows, built-in simulator
--   llmload run scenarios/azure_conv.lua --speedup 10 --limit 500
--   llmload run scenarios/azure_conv.lua --csv AzureLLMInferenceTrace_conv.csv \
--       --url http://gpu-node:8000 --model meta-llama/Llama-3.1-8B-Instruct
--   llmload run scenarios/azure_conv.lua --help              # engine flags and these options
--
-- Split over machines (docs/cli.md, "Shards"): 8 processes, one per
-- machine, each with its index, the same instant, and the same --seed,
-- together send exactly what one process would; `llmload merge` makes
-- their results one run's (exact counts and percentiles, thresholds
-- checked on the whole):
--   llmload run scenarios/azure_conv.lua --shard 2/8 --start-at 2026-12-07T10:00:00Z --out results/s2
--   llmload merge results/s0 results/s1 ... results/s7 --out results/merged
--
-- Against a GPU node deployed with `llmload stack` (docs/stack.md): the
-- server's vLLM series come from its /metrics (--server-metrics auto), GPU
-- power and energy per token from the DCGM exporter, and the run's own
-- series are served for that node's Prometheus to scrape:
--   llmload run scenarios/azure_conv.lua --url http://gpu-node:8000 \
--       --server-metrics auto --gpu-metrics http://gpu-node:9400/metrics \
--       --metrics-addr 0.0.0.0:9464 --metrics-linger 15s
--
-- Options of this scenario (declared below with llm.options):
--   --csv PATH      Azure trace CSV (2023 or 2024 format); empty: synthetic traffic
--   --speedup X     divide the trace's inter-arrival gaps by X (2 = twice the rate)
-- Engine flags (--url, --model, --concurrency, --limit, --duration,
-- --skip-bad-rows, --seed, ...) are described in docs/cli.md; a flag given
-- on the command line wins over the values set in llm.scenario below.

local llm = require("llmload")

local opt = llm.options {
  csv = { default = "", help = "Azure trace CSV; empty = synthetic azure-conv-like traffic" },
  speedup = { default = 1, help = "divide inter-arrival gaps by this" },
}

local rows = opt.csv ~= "" and llm.trace.azure(opt.csv) or llm.synth.azure_conv()

return llm.scenario {
  name = "azure-conv",
  source = rows,
  arrivals = llm.arrivals.replay { speedup = opt.speedup },
  concurrency = 16, on_full = "queue",
  request = function(row)
    return llm.chat {
      prompt_tokens = row.context_tokens,
      max_tokens = row.generated_tokens,
      ignore_eos = true,
    }
  end,
}
