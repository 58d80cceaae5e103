-- Sources, arrival schedules and scenarios built from Lua.
local llm = require("llmload")

function Test_arrivals()
  assert(tostring(llm.arrivals.replay { speedup = 4 }) == "llm.arrivals.replay{speedup=4}")
  assert(tostring(llm.arrivals.replay()) == "llm.arrivals.replay{speedup=1}")
  assert(tostring(llm.arrivals.constant { rate = 2 }) == "llm.arrivals.constant{rate=2}")
  -- The poisson seed defaults to the run's --seed (1 here).
  assert(tostring(llm.arrivals.poisson { rate = 3 }) == "llm.arrivals.poisson{rate=3, seed=1}")
  assert(tostring(llm.arrivals.poisson { rate = 3, seed = 42 }) == "llm.arrivals.poisson{rate=3, seed=42}")
  assert(tostring(llm.arrivals.gamma { rate = 3, burstiness = 0.5 }) == "llm.arrivals.gamma{rate=3, burstiness=0.5, seed=1}")
end

function Test_arrival_errors()
  local e = llmtest.expect_error
  e("llm.arrivals.constant: rate (requests per second) is required", llm.arrivals.constant, {})
  e("llm.arrivals.constant: rate must be a number > 0, got number 0", llm.arrivals.constant, { rate = 0 })
  e("llm.arrivals.constant: unknown field seed", llm.arrivals.constant, { rate = 1, seed = 2 })
  e("llm.arrivals.replay: unknown field speedpu (did you mean speedup?)", llm.arrivals.replay, { speedpu = 2 })
  e("llm.arrivals.poisson: seed must be a whole number >= 0, got number -3", llm.arrivals.poisson, { rate = 1, seed = -3 })
  e("llm.arrivals.poisson takes a table", llm.arrivals.poisson, 5)
  e("llm.arrivals.gamma: burstiness must be a number > 0, got number 0", llm.arrivals.gamma, { rate = 1, burstiness = 0 })
  e("llm.arrivals.gamma: unknown field burst (did you mean burstiness?) (fields: rate, burstiness, seed)", llm.arrivals.gamma, { rate = 1, burst = 2 })
end

function Test_sources()
  assert(tostring(llm.synth.azure_conv()) == "source: synthetic azure-conv, seed 1")
  assert(tostring(llm.synth.azure_conv { seed = 9, rate = 2.5 }) == "source: synthetic azure-conv, seed 9, 2.5 req/s")
  assert(tostring(llm.trace.azure("testdata/azure_small.csv", { skip_bad = true })) == "source: azure trace testdata/azure_small.csv")
  local e = llmtest.expect_error
  e("llm.trace.azure takes the path of an Azure trace CSV, got nil", llm.trace.azure)
  e("llm.trace.azure: unknown field skip (did you mean skip_bad?)", llm.trace.azure, "testdata/azure_small.csv", { skip = true })
  e(":33: llm.trace.azure: testdata/missing.csv: no such file or directory", llm.trace.azure, "testdata/missing.csv")
  e("llm.synth.azure_conv: rate must be a number > 0", llm.synth.azure_conv, { rate = -1 })
end

function Test_scenario_values()
  local sc = llm.scenario { name = "s1", source = llm.synth.azure_conv() }
  assert(tostring(sc) == "scenario s1")
  local e = llmtest.expect_error
  e("llm.scenario: source must be a source (llm.trace.azure(path) or llm.synth.azure_conv()), got an arrival schedule",
    llm.scenario, { source = llm.arrivals.replay() })
  e("llm.scenario: arrivals must be an arrival schedule", llm.scenario, { source = llm.synth.azure_conv(), arrivals = 5 })
  e('llm.scenario: name "a b" must be letters, digits', llm.scenario, { name = "a b", source = llm.synth.azure_conv() })
  e("llm.scenario: request must be a function(row)", llm.scenario, { source = llm.synth.azure_conv(), request = "f" })
  e("llm.scenario: thresholds must be a list", llm.scenario, { source = llm.synth.azure_conv(), thresholds = { p95 = "1s" } })
  e("llm.scenario: duration: -5 seconds is not a duration >= 0", llm.scenario, { source = llm.synth.azure_conv(), duration = -5 })
  local arr = llm.arrivals.replay()
  llm.scenario { name = "first", source = llm.synth.azure_conv(), arrivals = arr }
  e('this arrival schedule is already used by scenario "first"', llm.scenario, { source = llm.synth.azure_conv(), arrivals = arr })
end

function Test_math_random_is_seeded()
  math.randomseed(5)
  local a = { math.random(), math.random(10), math.random(3, 4) }
  math.randomseed(5)
  local b = { math.random(), math.random(10), math.random(3, 4) }
  assert(a[1] == b[1] and a[2] == b[2] and a[3] == b[3])
  assert(a[1] >= 0 and a[1] < 1 and a[2] >= 1 and a[2] <= 10 and (a[3] == 3 or a[3] == 4))
  llmtest.expect_error("math.random(0): the upper bound must be at least 1", math.random, 0)
  llmtest.expect_error("math.random(5, 1): the interval is empty", math.random, 5, 1)
end

function Test_sandbox()
  assert(io == nil and os == nil and debug == nil and package == nil)
  assert(dofile == nil and loadfile == nil)
  assert(loadstring("return 1 + 1")() == 2)
  assert(llm.seed == 1 and llm.help == false)
end
