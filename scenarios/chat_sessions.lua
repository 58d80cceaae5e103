-- chat_sessions.lua: closed-loop chat users carrying real answers.
--
-- Each user runs a conversation: a system prompt, then --turns turns of a
-- user message (synthetic text of about --prompt tokens) and the model's
-- whole answer, which joins the conversation, so turn k+1 sends
-- everything said so far: the server's prefix cache sees exactly the reuse
-- a real chat has. Between turns the user reads and types for a random
-- think time (exponential, mean --think seconds). When a conversation
-- ends the user starts the next one at once (k6's constant-vus).
--
-- With --session-rate R, sessions instead start on their own (Poisson, R
-- per second) whatever the server does, and only the turns inside each
-- session wait for answers: open-loop sessions, closed-loop turns.
--
-- Usage:
--   llmload run scenarios/chat_sessions.lua --users 64 --turns 8
--   llmload run scenarios/chat_sessions.lua --session-rate 2
--   llmload run scenarios/chat_sessions.lua --users 8 --turns 4 --think 0.5 --duration 60
--   llmload run scenarios/chat_sessions.lua --users 5000 --ramp 10 --think 30   # users join over 10 s
--
-- Split over 2 machines (docs/cli.md, "Shards"): shard i runs the users u
-- with (u-1) mod 2 = i; the merge adds them up (by_turn exactly):
--   llmload run scenarios/chat_sessions.lua --users 64 --shard 0/2 --start-at 2026-12-07T10:00:00Z --out results/s0
--   llmload run scenarios/chat_sessions.lua --users 64 --shard 1/2 --start-at 2026-12-07T10:00:00Z --out results/s1
--   llmload merge results/s0 results/s1 --out results/merged
--
-- summary.json then has a "sessions" section (sessions, turns per session,
-- think time, the Lua step cost, turn rate against the zero-latency turn
-- rate) and "by_turn" (TTFT and E2E percentiles by turn index: turn 1
-- pays the whole prefill, later turns should not).

local llm = require("llmload")

local opt = llm.options {
  users = { default = 16, help = "closed-loop users (each runs conversations one after another)" },
  session_rate = { default = 0, help = "start sessions open-loop at this rate per second (Poisson) instead of --users" },
  turns = { default = 6, help = "turns per conversation" },
  prompt = { default = 120, help = "tokens of each user message" },
  answer = { default = 96, help = "max_tokens of each answer" },
  think = { default = 2, help = "mean think time between turns, seconds (exponential)" },
  iterations = { default = 0, help = "conversations per user (0 = until the run ends)" },
  ramp = { default = 0, help = "seconds over which the users start (k6's ramping-vus; 0 = all at once)" },
  system = { default = "You are a concise assistant. Answer in a few sentences.", help = "system prompt (\"\" = none); every session shares it, so the server caches it once" },
}

-- The argument tables are made once, not on every turn: s:user, s:chat
-- and s:think only read them, and each table a turn builds is garbage the
-- session step pays for (docs/scripting.md, "Sessions": cost of a step).
local message = { tokens = opt.prompt }
local ask = { max_tokens = opt.answer }
local think = { mean = opt.think }

local function conversation(s)
  if opt.system ~= "" then s:system(opt.system) end
  for turn = 1, opt.turns do
    s:user(message)
    local r = s:chat(ask)
    if not r.ok then return end -- a failed turn ends the conversation
    if turn < opt.turns then s:think(think) end
  end
end

local sc = {
  name = "chat_sessions",
  session = conversation,
  duration = "40s", -- --duration overrides it; --duration 0 runs until the iterations end
  slo = { ttft = "1s", tpot = "100ms" },
  thresholds = { "error_rate < 1%" },
}
if opt.session_rate > 0 then
  sc.arrivals = llm.arrivals.poisson { rate = opt.session_rate }
  sc.concurrency = 256
else
  if opt.ramp > 0 then
    -- Users join evenly over --ramp seconds, then stay; the run ends with
    -- the last stage (--duration, default 40 s, of holding).
    sc.users = llm.users { { users = opt.users, duration = opt.ramp }, { users = opt.users, duration = 40 } }
  else
    sc.users = opt.users
  end
  if opt.iterations > 0 then sc.iterations = opt.iterations end
end
return llm.scenario(sc)
