-- agent_loop.lua: agents that loop model -> tool call -> tool result -> model.
--
-- Each user runs a task: a system prompt and a request (synthetic text),
-- then the model is offered tools. While its answer calls tools (up to
-- --depth rounds), the agent runs each call (a modelled tool latency,
-- log-normal around --tool-ms) and sends the tool's result (synthetic
-- text of --result tokens) back in the conversation with the call; the
-- model's final text ends the task. Every request carries the whole
-- conversation, tool calls included, as an agent framework sends it.
--
-- The built-in simulator answers requests that carry tools with tool calls
-- half of the time (llmload sim --tool-call-rate), so this runs on a
-- laptop. Against vLLM, start it with tool calling enabled
-- (--enable-auto-tool-choice --tool-call-parser ...).
--
-- Usage:
--   llmload run scenarios/agent_loop.lua
--   llmload run scenarios/agent_loop.lua --users 32 --depth 5 --tool-ms 800
--
-- summary.json's "sessions" section counts the tasks and their turns
-- (model calls); tags.kind says which calls came after a tool result.

local llm = require("llmload")

local opt = llm.options {
  users = { default = 8, help = "concurrent agents" },
  depth = { default = 3, help = "most tool rounds per task" },
  tool_ms = { default = 300, help = "median tool latency, milliseconds" },
  result = { default = 200, help = "tokens of each tool result" },
  answer = { default = 128, help = "max_tokens of each model call" },
  iterations = { default = 0, help = "tasks per agent (0 = until the run ends)" },
}

local tools = {
  { type = "function", ["function"] = {
      name = "search_docs", description = "Search the documentation",
      parameters = { type = "object", properties = { query = { type = "string" } }, required = { "query" } } } },
  { type = "function", ["function"] = {
      name = "run_sql", description = "Run a read-only SQL query",
      parameters = { type = "object", properties = { sql = { type = "string" } }, required = { "sql" } } } },
}

local tool_calls = llm.counter("tool_calls")
local tool_results = llm.counter("tool_results_sent")

return llm.scenario {
  name = "agent_loop",
  users = opt.users,
  iterations = opt.iterations > 0 and opt.iterations or nil,
  duration = "30s", -- --duration overrides it; --duration 0 runs until the iterations end
  session = function(s)
    s:system("You are an agent. Use the tools when they help, then answer.")
    s:user { tokens = 150 }
    local r = s:chat { max_tokens = opt.answer, tools = tools, tags = { kind = "task" } }
    local round = 0
    while r.ok and #r.tool_calls > 0 and round < opt.depth do
      round = round + 1
      for _, call in ipairs(r.tool_calls) do
        tool_calls:add()
        s:think { median = opt.tool_ms / 1000, sigma = 0.5 } -- the tool runs
        s:tool(call, { tokens = opt.result })
        tool_results:add()
      end
      r = s:chat { max_tokens = opt.answer, tools = tools, tags = { kind = "after_tool" } }
    end
  end,
  thresholds = { "error_rate < 1%" },
}
