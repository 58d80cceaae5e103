#!/usr/bin/env bash
# Soak: a steady open-loop rate against the simulator (in its own process)
# for SOAK_MINUTES, sampling the llmload process's RSS, goroutines and open
# files every minute. Numbers go to docs/performance.md ("Soak").
#   SOAK_MINUTES=30 SOAK_RATE=100 bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${SOAK_MINUTES:-30}
rate=${SOAK_RATE:-100}
out=${SOAK_OUT:-results/soak}
bin=bin/llmload
go build -o "$bin" ./cmd/llmload
mkdir -p "$out"
simport=$(( 20000 + RANDOM % 20000 )); metport=$(( simport + 1 ))
"$bin" sim --addr 127.0.0.1:$simport --profile fixed --ttft 50ms --itl 10ms > "$out/sim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$simport/health" >/dev/null 2>&1 && break; sleep 0.1; done
cat > "$out/soak.lua" <<LUA
local llm = require("llmload")
return llm.scenario {
  name = "soak",
  source = llm.synth.azure_conv { seed = 7 },
  arrivals = llm.arrivals.poisson { rate = $rate },
  concurrency = 512,
  duration = "${minutes}m",
  request = function(row)
    return llm.chat { prompt_tokens = math.min(row.context_tokens, 2000), max_tokens = math.min(row.generated_tokens, 64), ignore_eos = true }
  end,
}
LUA
"$bin" run "$out/soak.lua" --url "http://127.0.0.1:$simport" --out "$out/run" --overwrite --no-ui --log-every 60 \
  --metrics-addr 127.0.0.1:$metport > "$out/run.log" 2>&1 &
run=$!
echo "minute rss_mb goroutines open_fds completed" > "$out/samples.txt"
for m in $(seq 0 "$minutes"); do
  sleep 60 || true
  kill -0 $run 2>/dev/null || break
  rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$run/status)
  fds=$(ls /proc/$run/fd | wc -l)
  gor=$(curl -fsS "http://127.0.0.1:$metport/metrics" | awk '/^go_goroutines / {print $2}')
  done_=$(curl -fsS "http://127.0.0.1:$metport/metrics" | awk '/^llmload_requests_total\{.*outcome="completed"/ {s+=$2} END {print s+0}')
  echo "$((m+1)) $rss $gor $fds $done_" | tee -a "$out/samples.txt"
done
wait $run || true
hwm=$(grep -h VmHWM "$out/run.log" 2>/dev/null || true)
echo "samples in $out/samples.txt; summary in $out/run/summary.json"
