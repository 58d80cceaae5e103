-- Request specs: llm.chat / llm.completion fields, read back through the
-- spec's fields, and the errors for bad ones.
local llm = require("llmload")

function Test_chat_fields()
  local sp = llm.chat {
    prompt_tokens = 100, max_tokens = 20, min_tokens = 5, ignore_eos = true, temperature = 0,
    model = "m", extra = { top_p = 0.9, stop = { "x" }, nested = { a = { b = true } } },
    headers = { ["X-A"] = "b", n = 3 }, tags = { kind = "chat" },
  }
  assert(sp.endpoint == "chat")
  assert(sp.prompt_tokens == 100 and sp.max_tokens == 20 and sp.min_tokens == 5)
  assert(sp.ignore_eos == true and sp.temperature == 0 and sp.model == "m")
  assert(sp.extra.top_p == 0.9 and sp.extra.stop[1] == "x" and sp.extra.nested.a.b == true)
  assert(sp.headers["X-A"] == "b" and sp.headers.n == "3")
  assert(sp.tags.kind == "chat")
  assert(tostring(sp) == "llm.chat{prompt_tokens=100, max_tokens=20, ignore_eos=true}", tostring(sp))
end

function Test_unset_fields()
  local sp = llm.chat { prompt_tokens = 1 }
  assert(sp.temperature == nil and sp.max_tokens == 0 and sp.ignore_eos == false and sp.model == "")
  assert(next(sp.tags) == nil and next(sp.extra) == nil)
end

function Test_messages()
  local sp = llm.chat { messages = { { role = "system", content = "be brief" }, { role = "user", content = "hi" } }, max_tokens = 5 }
  assert(#sp.messages == 2 and sp.messages[2].role == "user" and sp.messages[2].content == "hi")
  assert(sp.prompt_tokens == 0)
end

function Test_completion()
  local sp = llm.completion { prompt = "Once upon a time", max_tokens = 8 }
  assert(sp.endpoint == "completion" and sp.prompt == "Once upon a time")
  assert(tostring(sp) == "llm.completion{prompt=16 bytes, max_tokens=8}", tostring(sp))
end

function Test_null_in_extra()
  local sp = llm.chat { prompt_tokens = 1, extra = { stop = llm.null } }
  assert(sp.extra.stop == nil)
  assert(tostring(llm.null) == "llm.null")
end

function Test_field_errors()
  local e = llmtest.expect_error
  e("llm.chat: unknown field ignore_eso (did you mean ignore_eos?)", llm.chat, { prompt_tokens = 1, ignore_eso = true })
  e("llm.chat: fields are named, got key number 1", llm.chat, { 5 })
  e("llm.chat takes a table: llm.chat{ ... }, got nil", llm.chat)
  e('llm.chat: ignore_eos must be true or false, got string "yes"', llm.chat, { prompt_tokens = 1, ignore_eos = "yes" })
  e("llm.chat: temperature must be a number >= 0, got number -1", llm.chat, { prompt_tokens = 1, temperature = -1 })
  e("llm.chat: model must be a string, got number 3", llm.chat, { prompt_tokens = 1, model = 3 })
  e("llm.chat: give prompt_tokens or messages, not both", llm.chat,
    { prompt_tokens = 1, messages = { { role = "user", content = "x" } } })
  e("llm.chat: min_tokens (9) is more than max_tokens (3)", llm.chat, { prompt_tokens = 1, min_tokens = 9, max_tokens = 3 })
  e("llm.chat: unknown field prompt", llm.chat, { prompt = "x" })
  e("llm.completion: needs prompt_tokens (a synthetic prompt of that length) or prompt", llm.completion, { max_tokens = 1 })
  e("llm.chat: messages must be a non-empty list", llm.chat, { messages = {} })
  e("llm.chat: messages[1].role is missing", llm.chat, { messages = { { content = "x" } } })
  e("llm.chat messages[1]: unknown field rol (did you mean role?)", llm.chat, { messages = { { rol = "user" } } })
  e("llm.chat: headers.x must be a string, got a table", llm.chat, { prompt_tokens = 1, headers = { x = {} } })
  e("llm.chat: extra must be a table of named fields", llm.chat, { prompt_tokens = 1, extra = { 1, 2 } })
  e("llm.chat: extra mixes list items and named fields", llm.chat, { prompt_tokens = 1, extra = { 1, a = 2 } })
  e("llm.chat: extra.f must be a string, number, boolean, table or llm.null, got a function", llm.chat,
    { prompt_tokens = 1, extra = { f = print } })
  e("llm.chat: extra.x must be a finite number", llm.chat, { prompt_tokens = 1, extra = { x = 0 / 0 } })
  local cyc = {}
  cyc.self = cyc
  e("is nested more than 32 deep (does a table contain itself?)", llm.chat, { prompt_tokens = 1, extra = cyc })
  e("a request spec has no field max_token (did you mean max_tokens?)", function() return llm.chat { prompt_tokens = 1 }.max_token end)
end

function Test_errors_carry_the_line()
  local ok, err = pcall(llm.chat, { prompt_tokens = "x" })
  -- pcall(llm.chat, ...) calls llm.chat from this line.
  assert(not ok and err:find("^testdata/chat_test.lua:%d+: llm.chat: prompt_tokens"), err)
end
