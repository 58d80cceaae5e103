-- session_replay.lua: conversations replayed from a session trace.
--
-- The session JSONL format (docs/traces.md, "Sessions") records one line per
-- turn: the session, the turn, when the session started (turn 1) or how
-- long the user waited after the previous answer (later turns), and the
-- turn's new input tokens and output tokens. Each session starts when the
-- trace says (scaled by --speedup); each turn adds a user message of the
-- recorded new tokens to the conversation and asks for the recorded output,
-- so the server sees the real answers of earlier turns in every prompt.
-- The session id goes to the server in the X-Conversation-ID header (and the
-- body's "user" field), for routers that keep a conversation on one replica.
--
-- Without --trace it replays scenarios/data/sessions_sample.jsonl (30
-- synthetic conversations of 1 to 5 turns).
--
-- Usage:
--   llmload run scenarios/session_replay.lua
--   llmload run scenarios/session_replay.lua --trace my_sessions.jsonl --speedup 10

local llm = require("llmload")

local opt = llm.options {
  trace = { default = "scenarios/data/sessions_sample.jsonl", help = "session JSONL trace (docs/traces.md)" },
  speedup = { default = 1, help = "replay this many times faster: session starts and think times" },
}

return llm.scenario {
  name = "session_replay",
  sessions = llm.trace.sessions(opt.trace),
  arrivals = llm.arrivals.replay { speedup = opt.speedup },
  session_header = "X-Conversation-ID",
  concurrency = 64,
  session = function(s)
    for i, t in ipairs(s.trace) do
      if i > 1 then s:think(t.think / opt.speedup) end
      s:user { tokens = t.new_tokens }
      local r = s:chat { max_tokens = t.output_tokens, ignore_eos = true }
      if not r.ok then return end
    end
  end,
}
