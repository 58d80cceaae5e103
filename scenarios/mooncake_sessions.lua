-- mooncake_sessions.lua: conversations rebuilt from the Mooncake trace.
--
-- Mooncake's conversation trace records requests, not conversations, but a
-- request whose prefix blocks (hash_ids) extend all the full blocks of an
-- earlier request is that conversation's next turn (docs/traces.md says
-- the rule and what the shipped trace gives: 8,099 sessions, chains of up
-- to 43 turns). Each session starts when the trace says (scaled by
-- --speedup); each turn sends the whole conversation so far with the real
-- answers of earlier turns, a new user message of the tokens the trace
-- adds, and the trace's output length; the gap between two turns of the
-- trace becomes the think time (scaled too).
--
-- Without --trace it replays the small synthetic trace kept with the
-- scenarios (scenarios/data/mooncake_sample.jsonl, 200 rows in the
-- conversation trace's shape).
--
-- Usage:
--   llmload run scenarios/mooncake_sessions.lua
--   llmload run scenarios/mooncake_sessions.lua --trace ../shared/data/mooncake/conversation_trace.jsonl --speedup 60 --limit 2000

local llm = require("llmload")

local opt = llm.options {
  trace = { default = "scenarios/data/mooncake_sample.jsonl", help = "Mooncake trace (JSON lines with timestamp, input_length, output_length, hash_ids)" },
  speedup = { default = 4, help = "replay this many times faster: session starts and think times" },
  max_think = { default = 30, help = "cap a think time at this many seconds (after the speedup)" },
}

return llm.scenario {
  name = "mooncake_sessions",
  sessions = llm.trace.mooncake_sessions(opt.trace),
  arrivals = llm.arrivals.replay { speedup = opt.speedup },
  concurrency = 128,
  session = function(s)
    for i, t in ipairs(s.trace) do
      if i > 1 then s:think(math.min(t.think / opt.speedup, opt.max_think)) end
      s:user { tokens = t.new_tokens }
      local r = s:chat { max_tokens = t.output_tokens, ignore_eos = true }
      if not r.ok then return end
    end
  end,
}
