-- args: --speedup=2.5 --label=hello --verbose=yes --max-rows=7
-- Option typing: each option's type is its default's type, and the
-- command-line string is parsed as that type.
local llm = require("llmload")

local opt = llm.options {
  speedup = { default = 1, help = "gap divisor" },
  label = { default = "x", help = "a label" },
  verbose = { default = false, help = "talk more" },
  count = 3,        -- shorthand: {default = 3}
  max_rows = 0,     -- the flag is --max-rows
}

function Test_values_from_args()
  assert(opt.speedup == 2.5 and type(opt.speedup) == "number", "speedup " .. tostring(opt.speedup))
  assert(opt.label == "hello", "label " .. tostring(opt.label))
  assert(opt.verbose == true, "verbose " .. tostring(opt.verbose))
  assert(opt.max_rows == 7, "max_rows " .. tostring(opt.max_rows))
end

function Test_defaults()
  assert(opt.count == 3 and type(opt.count) == "number")
end

function Test_strict_reads()
  llmtest.expect_error("no option speedupp; declared: ", function() return opt.speedupp end)
end

function Test_number_parsing()
  assert(llmtest.options({ n = "12" }, { n = 0 }).n == 12)
  assert(llmtest.options({ n = "-1.5e2" }, { n = 0 }).n == -150)
  assert(llmtest.options({}, { n = 4 }).n == 4)
  llmtest.expect_error('--n: "12abc" is not a number', llmtest.options, { n = "12abc" }, { n = 0 })
  llmtest.expect_error('--n: "Inf" is not a number', llmtest.options, { n = "Inf" }, { n = 0 })
  llmtest.expect_error('--n: "" is not a number', llmtest.options, { n = "" }, { n = 0 })
end

function Test_boolean_parsing()
  for _, s in ipairs({ "true", "1", "yes", "on", "TRUE" }) do
    assert(llmtest.options({ b = s }, { b = false }).b == true, s)
  end
  for _, s in ipairs({ "false", "0", "no", "off" }) do
    assert(llmtest.options({ b = s }, { b = true }).b == false, s)
  end
  llmtest.expect_error('--b: "maybe" is not a boolean', llmtest.options, { b = "maybe" }, { b = true })
end

function Test_strings_are_kept_verbatim()
  assert(llmtest.options({ s = "  a b " }, { s = "" }).s == "  a b ")
  assert(llmtest.options({ s = "12" }, { s = "" }).s == "12")
end

function Test_underscore_and_dash_flags()
  assert(llmtest.options({ max_rows = "5" }, { max_rows = 0 }).max_rows == 5)
  assert(llmtest.options({ ["max-rows"] = "6" }, { max_rows = 0 }).max_rows == 6)
end

function Test_declaration_errors()
  llmtest.expect_error("default must be a string, number or boolean, got a table",
    llmtest.options, {}, { t = { default = {} } })
  llmtest.expect_error("needs a default", llmtest.options, {}, { t = { help = "no default" } })
  llmtest.expect_error("t.help must be a string", llmtest.options, {}, { t = { default = 1, help = 2 } })
  llmtest.expect_error('option name "Big" must be lower case', llmtest.options, {}, { Big = 1 })
  llmtest.expect_error("would shadow the engine flag --limit", llmtest.options, {}, { limit = 1 })
  llmtest.expect_error("would shadow the engine flag --help", llmtest.options, {}, { help = true })
  llmtest.expect_error("llm.options takes one table", llm.options, "csv")
  -- The top level already declared speedup.
  llmtest.expect_error("option speedup is already declared at line 7", llm.options, { speedup = 2 })
end
