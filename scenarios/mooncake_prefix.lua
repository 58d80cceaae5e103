-- mooncake_prefix.lua: replay a Mooncake (FAST'25) trace with its prefix reuse.
--
-- Each Mooncake row lists the hash ids of its prompt's 512-token blocks.
-- Rows of one conversation repeat the ids of the earlier turns, so the
-- serving engine can reuse their KV cache. llmload turns every id into the
-- same block of synthetic text wherever it appears (and different ids into
-- different text), so the server's prefix cache sees exactly the reuse the
-- trace recorded: TTFT here measures prefill *with* realistic cache hits.
--
-- Without --trace it replays scenarios/data/mooncake_sample.jsonl: 200
-- synthetic rows shaped like Mooncake's conversation trace (multi-turn
-- sessions sharing a first block; about 61% of prompt tokens in blocks
-- sent before), made for llmload, so this runs on a fresh clone.
--
-- Usage:
--   llmload run scenarios/mooncake_prefix.lua --limit 50          # sample, built-in simulator
--   llmload run scenarios/mooncake_prefix.lua --trace conversation_trace.jsonl --speedup 2 \
--       --url http://gpu-node:8000 --model meta-llama/Llama-3.1-8B-Instruct
--
-- Seeing the cache work: the teardown prints how many prompt tokens the
-- trace reuses (what a server with prefix caching should count as hits)
-- and the mean TTFT of requests with and without a reused prefix. The
-- server's own count is vLLM's vllm:prefix_cache_hits_total; run the
-- simulator separately to read it after the run:
--   llmload sim --addr 127.0.0.1:8000 &
--   llmload run scenarios/mooncake_prefix.lua --url http://127.0.0.1:8000 --limit 50
--   curl -s http://127.0.0.1:8000/metrics | grep prefix_cache
--
-- Options of this scenario:
--   --trace PATH       Mooncake trace (JSON lines); default: the shipped sample
--   --speedup X        divide the trace's inter-arrival gaps by X
--   --block-tokens N   prompt tokens per hash id (Mooncake: 512)

local llm = require("llmload")

local opt = llm.options {
  trace = { default = llm.script_dir .. "/data/mooncake_sample.jsonl",
            help = "Mooncake trace (JSON lines: timestamp ms, input_length, output_length, hash_ids)" },
  speedup = { default = 1, help = "divide inter-arrival gaps by this" },
  block_tokens = { default = 512, help = "prompt tokens per hash id (the Mooncake traces use 512)" },
}

local rows = llm.trace.mooncake(opt.trace, { block_size = opt.block_tokens })

-- What the trace reuses, counted as the requests are planned: the leading
-- blocks of a prompt that earlier prompts already sent.
local sent = {}
local reused_tokens, prompt_tokens = 0, 0
local ttft = { reused = { sum = 0, n = 0 }, new = { sum = 0, n = 0 } }

return llm.scenario {
  name = "mooncake-prefix",
  source = rows,
  arrivals = llm.arrivals.replay { speedup = opt.speedup },
  concurrency = 32, on_full = "queue",
  request = function(row)
    local shared = 0
    for k, id in ipairs(row.hash_ids) do
      if not sent[id] then break end
      shared = k
    end
    for _, id in ipairs(row.hash_ids) do sent[id] = true end
    reused_tokens = reused_tokens + math.min(shared * opt.block_tokens, row.context_tokens)
    prompt_tokens = prompt_tokens + row.context_tokens
    return llm.chat {
      prompt_tokens = row.context_tokens,
      hash_ids = row.hash_ids,          -- same id, same block of text
      max_tokens = row.generated_tokens,
      ignore_eos = true,
      tags = { prefix = shared > 0 and "reused" or "new" },
    }
  end,
  on_response = function(r)
    local t = ttft[r.tags.prefix]
    if r.ok and t and r.ttft_ms then
      t.sum, t.n = t.sum + r.ttft_ms, t.n + 1
    end
  end,
  teardown = function(summary)
    local pct = prompt_tokens > 0 and 100 * reused_tokens / prompt_tokens or 0
    print(string.format("mooncake-prefix: %d of %d prompt tokens (%.0f%%) were in blocks sent before;"
      .. " a server with prefix caching should count about that many as hits (vllm:prefix_cache_hits_total)",
      reused_tokens, prompt_tokens, pct))
    local function mean(t) return t.n > 0 and string.format("%.1f ms (%d requests)", t.sum / t.n, t.n) or "-" end
    print("mooncake-prefix: mean TTFT with a reused prefix " .. mean(ttft.reused) .. ", without " .. mean(ttft.new))
  end,
}
