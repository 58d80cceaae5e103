-- tagged.lua: the small run behind engine/results/report's golden test and the
-- browser test. Poisson arrivals, two tagged kinds of request, an SLO and
-- thresholds, so every part of the report has something to show.
local llm = require("llmload")

return llm.scenario {
  name = "tagged",
  source = llm.synth.azure_conv(),
  arrivals = llm.arrivals.poisson { rate = 20 },
  concurrency = 8,
  slo = { ttft = "200ms", tpot = "15ms" },
  thresholds = { "ttft p95 < 2s", "error_rate < 1%", "request_goodput > 1000 rps" },
  request = function(row)
    local kind = row.context_tokens > 1000 and "long" or "short"
    return llm.chat {
      prompt_tokens = math.min(row.context_tokens, 2000),
      max_tokens = math.min(row.generated_tokens, 48),
      ignore_eos = true,
      tags = { kind = kind },
    }
  end,
}
