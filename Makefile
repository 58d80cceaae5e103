# llmload: the one place that says how to build, demo, test and benchmark.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
BIN      := bin/llmload
PKGS     := ./...

.PHONY: all build demo test test-short vet lint bench bench-calibrate bench-sessions fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/llmload

# The out-of-the-box run: built-in simulator + synthetic Azure-conv-like traffic.
demo:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/llmload run scenarios/azure_conv.lua --limit 200

# Every test, including the end-to-end runs against the simulator. CI calls exactly this.
test: vet
	$(GO) test -count=1 -timeout 20m $(PKGS)

# Unit tests only (skips the slow end-to-end runs).
test-short:
	$(GO) test -count=1 -short $(PKGS)

vet:
	@fmt_out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$fmt_out" ]; then echo "gofmt needed on:"; echo "$$fmt_out"; exit 1; fi
	$(GO) vet $(PKGS)

# staticcheck comes from the Go module proxy; pinned so lint results are stable.
lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

# Benchmarks (numbers go to docs/performance.md). BENCH selects, COUNT repeats.
BENCH ?= .
COUNT ?= 5
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) $(PKGS)

# A short pass of every fuzz target (FUZZTIME each).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin results

# Full self-calibration (numbers for docs/performance.md): simulator in its own process.
bench-calibrate: build
	$(BIN) calibrate --out results/calibrate-bench

# 5,000 concurrent closed-loop chat sessions against the simulator in its
# own process (so the client's RSS is its own), SESSIONS_RUNS times: the
# Lua step cost (summary.json sessions.step_cost) and the client's peak RSS
# (VmHWM of the `llmload run` process, read until it exits). The think
# time keeps ~60 turns in flight, so the simulator is not the limit; users
# join over 10 s (--ramp), as a real population does, and every
# user holds a session for the whole run (8 turns of ~31 s outlast it).
# bench/sessions_ab.sh runs them (one build here; it alternates several).
# Numbers and method: docs/performance.md, "Sessions".
SESSIONS_USERS ?= 5000
SESSIONS_ARGS  ?= --turns 8 --think 30 --answer 32 --ramp 10
SESSIONS_RUNS  ?= 3
bench-sessions: build
	SESSIONS_USERS=$(SESSIONS_USERS) SESSIONS_ARGS="$(SESSIONS_ARGS)" SESSIONS_OUT=results/bench-sessions \
	  bench/sessions_ab.sh $(SESSIONS_RUNS) run=$(BIN)
