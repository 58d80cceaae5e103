-- Trace readers, function sources and source methods, as values: what
-- they read is checked from Go (sources_test.go), as rows are read by the
-- engine, not by the script.
local llm = require("llmload")
local function e(...) return llmtest.expect_error(...) end

function Test_readers()
  assert(tostring(llm.trace.burstgpt("testdata/burstgpt_small.csv")) == "source: burstgpt trace testdata/burstgpt_small.csv")
  assert(tostring(llm.trace.burstgpt("testdata/burstgpt_small.csv", { keep_failed = true, fields = false, skip_bad = true }))
    == "source: burstgpt trace testdata/burstgpt_small.csv")
  assert(tostring(llm.trace.mooncake("testdata/mooncake_small.jsonl", { block_size = 16 })) == "source: mooncake trace testdata/mooncake_small.jsonl")
  assert(tostring(llm.trace.csv("testdata/requests_small.csv", { timestamp = "when_ms", time_unit = "ms",
    context_tokens = "prompt", generated_tokens = "answer" })) == "source: csv trace testdata/requests_small.csv")
  assert(tostring(llm.trace.jsonl("testdata/requests_small.jsonl")) == "source: jsonl trace testdata/requests_small.jsonl")
  assert(tostring(llm.source(function(i) return nil end)):match("^source: function at testdata/sources_test.lua:%d+$"))
end

function Test_reader_errors()
  e("llm.trace.burstgpt takes the path of a BurstGPT trace CSV, got nil", llm.trace.burstgpt)
  e("llm.trace.burstgpt: unknown field keep_fail (did you mean keep_failed?)", llm.trace.burstgpt, "testdata/burstgpt_small.csv", { keep_fail = true })
  e("llm.trace.burstgpt: keep_failed must be true or false, got number 1", llm.trace.burstgpt, "testdata/burstgpt_small.csv", { keep_failed = 1 })
  e("llm.trace.burstgpt: argument 2 must be a table of options", llm.trace.burstgpt, "testdata/burstgpt_small.csv", "x")
  e("llm.trace.burstgpt: testdata/missing.csv: no such file or directory; check the path", llm.trace.burstgpt, "testdata/missing.csv")
  -- The wrong format is refused at the call, with a hint.
  e('testdata/azure_small.csv:1: not a trace of the expected format: the header has no column "Request tokens"',
    llm.trace.burstgpt, "testdata/azure_small.csv")
  e("the file is an Azure LLM inference trace: use llm.trace.azure", llm.trace.mooncake, "testdata/azure_small.csv")
  e("llm.trace.mooncake: block_size must be a whole number >= 1, got number 0", llm.trace.mooncake, "testdata/mooncake_small.jsonl", { block_size = 0 })
  e("llm.trace.csv: argument 2 must be a table of options", llm.trace.csv, "testdata/requests_small.csv")
  e('the header has no column "tokens" for the context tokens', llm.trace.csv, "testdata/requests_small.csv", { context_tokens = "tokens" })
  e('llm.trace.csv: time_unit must be "s", "ms", "us" or "ns", got string "sec"', llm.trace.csv, "testdata/requests_small.csv", { time_unit = "sec" })
  e("llm.trace.csv: timestamp must be the name of a column (or key) of the trace, got number 1", llm.trace.csv, "testdata/requests_small.csv", { timestamp = 1 })
  e("llm.trace.jsonl: unknown field hash (did you mean hash_ids?)", llm.trace.jsonl, "testdata/requests_small.jsonl", { hash = "h" })
  e("llm.source takes a function(i) returning the i-th row as a table, or nil after the last, got nil", llm.source)
end

function Test_methods()
  local src = llm.trace.burstgpt("testdata/burstgpt_small.csv")
    :skip(1):window(0, 60):shard(0, 2):limit(10)
    :filter(function(row) return row.context_tokens > 100 end)
    :map(function(row) row.generated_tokens = 1; return row end)
  assert(tostring(src) == "source: burstgpt trace testdata/burstgpt_small.csv:skip(1):window(0, 60):shard(0, 2):limit(10):filter():map()",
    tostring(src))
  assert(tostring(llm.synth.azure_conv():window(5)) == "source: synthetic azure-conv, seed 1:window(5, 0)")
end

function Test_method_errors()
  local src = llm.synth.azure_conv()
  e("source:limit: n must be a whole number >= 0, got number -1", src.limit, src, -1)
  e("source:window: to (1s) must be after from (2s)", src.window, src, 2, 1)
  e("source:window: from (seconds) must be a number >= 0, got nil", src.window, src)
  e("source:shard: i must be below n (shards are numbered 0 to n-1), got i = 2, n = 2", src.shard, src, 2, 2)
  e("source:shard: n must be a whole number >= 1, got number 0", src.shard, src, 0, 0)
  e("source:filter takes a function(row) returning true for the rows to keep, got nil", src.filter, src)
  e("source:map takes a function(row) returning the row to use, as a table, got string", src.map, src, "x")
  e("source:limit must be called on a source with a colon (src:limit(...)), got number 5", src.limit, 5)
  -- A failed call leaves the source untouched...
  local ok = src:limit(3)
  -- ...and a source is a stream: wrapping it takes it over.
  e("source:skip: this source is already read by :limit() at line", src.skip, src, 1)
  e("llm.scenario: this source is already read by :limit() at line", llm.scenario, { source = src })
  llm.scenario { name = "wrapped", source = ok }
end

function Test_function_source()
  local sc = llm.scenario { name = "fn", source = function(i) if i <= 2 then return { context_tokens = i, generated_tokens = 1 } end end }
  assert(tostring(sc) == "scenario fn")
  e("llm.scenario: source must be a source", llm.scenario, { source = "rows.csv" })
end

function Test_chat_hash_ids()
  local sp = llm.chat { prompt_tokens = 1100, hash_ids = { 0, 1, 2 }, block_size = 512 }
  assert(#sp.hash_ids == 3 and sp.hash_ids[3] == 2 and sp.block_size == 512)
  assert(#llm.completion { prompt_tokens = 5 }.hash_ids == 0)
  e("llm.chat: hash_ids need prompt_tokens", llm.chat, { messages = { { role = "user", content = "x" } }, hash_ids = { 1 } })
  e("llm.chat: hash_ids[2] = number -1; want a whole number >= 0", llm.chat, { prompt_tokens = 5, hash_ids = { 1, -1 } })
  e("llm.chat: hash_ids = string \"1\"; want a list of whole numbers >= 0", llm.chat, { prompt_tokens = 5, hash_ids = "1" })
  e("llm.completion: block_size must be a whole number >= 1, got number 0", llm.completion, { prompt_tokens = 5, block_size = 0 })
end
