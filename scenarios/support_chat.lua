-- support_chat.lua: a support desk's day in one minute, with a ramp of users.
--
-- Users arrive over the first --ramp seconds up to --users, stay, and leave
-- over the last 10 s (k6's ramping-vus: llm.users stages; leaving users
-- finish the request they have out and stop before their next turn). Each
-- user runs --iterations conversations: a system prompt, the assistant's
-- canned greeting, then turns in which the user either asks a short
-- question or pastes a longer document (synthetic text of --paste tokens).
-- Reading an answer takes log-normal time around --read seconds; typing
-- the next question uniform time between 1 and 3 seconds. When the
-- conversation grows past --window messages it is cut back to the system
-- prompt and the greeting, as chat products trim their context.
--
-- Usage:
--   llmload run scenarios/support_chat.lua
--   llmload run scenarios/support_chat.lua --users 200 --ramp 60 --iterations 5

local llm = require("llmload")

local opt = llm.options {
  users = { default = 12, help = "users at the top of the ramp" },
  ramp = { default = 10, help = "seconds for the users to arrive" },
  hold = { default = 40, help = "seconds at the top" },
  iterations = { default = 3, help = "conversations per user" },
  turns = { default = 5, help = "turns per conversation" },
  paste = { default = 400, help = "tokens of a pasted document" },
  read = { default = 1.5, help = "median seconds to read an answer" },
  window = { default = 8, help = "most messages kept before the conversation is trimmed" },
}

local greetings = 0

return llm.scenario {
  name = "support_chat",
  users = llm.users {
    { users = opt.users, duration = opt.ramp },
    { users = opt.users, duration = opt.hold },
    { users = 0, duration = 10 },
  },
  iterations = opt.iterations,
  slo = { ttft = "2s", tpot = "100ms" },
  session = function(s)
    s:system("You are the support assistant of a cloud provider. Be precise and brief.")
    greetings = greetings + 1
    s:assistant("Hello! How can I help you today?")
    for turn = 1, opt.turns do
      if turn > 1 then s:think { min = 1, max = 3 } end -- typing
      if turn % 3 == 2 then
        s:user("Here is the log I see: " .. s:text { tokens = opt.paste })
      else
        s:user { tokens = 40 }
      end
      local r = s:chat { max_tokens = 128, temperature = 0.2, tags = { kind = turn % 3 == 2 and "paste" or "question" } }
      if not r.ok then return end
      s:think { median = opt.read, sigma = 0.6 } -- reading
      if #s:history() > opt.window then s:clear(2) end -- keep the system prompt and the greeting
    end
  end,
  teardown = function(summary)
    print(string.format("support_chat: %d conversations greeted, %d requests", greetings, summary.completed))
  end,
}
