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
# Numbers and method: docs/performance.md, "Sessions".
SESSIONS_USERS ?= 5000
SESSIONS_ARGS  ?= --turns 8 --think 30 --answer 32 --ramp 10
SESSIONS_RUNS  ?= 3
bench-sessions: build
	@set -e; out=results/bench-sessions; mkdir -p $$out; \
	$(BIN) sim --addr 127.0.0.1:0 --profile fixed --ttft 50ms --itl 10ms >$$out/sim.log 2>&1 & sim=$$!; \
	trap 'kill $$sim 2>/dev/null || true' EXIT INT TERM; \
	url=; for i in $$(seq 100); do \
	  url=$$(grep -o 'http://[0-9.:]*' $$out/sim.log | head -n 1); [ -n "$$url" ] && break; sleep 0.1; \
	done; [ -n "$$url" ] || { echo "the simulator did not start:"; cat $$out/sim.log; exit 1; }; \
	echo "simulator $$url (pid $$sim); $(SESSIONS_USERS) users $(SESSIONS_ARGS); load average $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	for r in $$(seq $(SESSIONS_RUNS)); do \
	  $(BIN) run scenarios/chat_sessions.lua --url $$url --no-ui --out $$out/run-$$r --overwrite \
	    --users $(SESSIONS_USERS) $(SESSIONS_ARGS) >$$out/run-$$r.log 2>&1 & pid=$$!; \
	  hwm=0; while kill -0 $$pid 2>/dev/null; do \
	    h=$$(awk '/^VmHWM/ {print $$2}' /proc/$$pid/status 2>/dev/null || true); [ -n "$$h" ] && hwm=$$h; sleep 0.2; \
	  done; \
	  wait $$pid || { echo "run $$r failed:"; tail -n 20 $$out/run-$$r.log; exit 1; }; \
	  awk -v run=$$r -v hwm=$$hwm -v la="$$(cut -d' ' -f1 /proc/loadavg)" ' \
	    /"sessions": \{/ {s=1} s && /"started"/ {gsub(/[^0-9]/, "", $$2); started=$$2} \
	    s && /"step_cost"/ {c=1} \
	    c && /"p50_ms"/ {gsub(/,/, "", $$2); p50=$$2*1000} c && /"p90_ms"/ {gsub(/,/, "", $$2); p90=$$2*1000} \
	    c && /"p99_ms"/ {gsub(/,/, "", $$2); p99=$$2*1000} \
	    c && /"max_ms"/ {gsub(/,/, "", $$2); mx=$$2*1000; c=0} \
	    s && /"step_cpu"/ {u=1} u && /"p99_ms"/ {gsub(/,/, "", $$2); cpu99=$$2*1000; u=0} \
	    END {printf "run %d: sessions started %d, step cost p50 %.0f us p90 %.0f us p99 %.0f us max %.0f us (CPU p99 %.0f us), client peak RSS %.0f MB (load average %s)\n", \
	      run, started, p50, p90, p99, mx, cpu99, hwm/1024, la}' $$out/run-$$r/summary.json; \
	done
