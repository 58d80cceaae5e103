#!/usr/bin/env bash
# Capacity: the answer of scenarios/capacity.lua against the built-in
# simulator (calibrated profile) in two runs, with wall times, then a linear
# sweep (bench/linear_sweep.lua, the old scenarios/poisson_sweep.lua) that
# steps by the same precision up to the answer. Numbers go to
# docs/performance.md ("Capacity search").
# With CAP_BY=users the search steps closed-loop chat users
# (scenarios/capacity.lua --by users: 4-turn conversations, 1 s mean think
# time) and there is no linear sweep to compare with.
#   bench/capacity.sh            # precision 0.1
#   CAP_PRECISION=0.05 bench/capacity.sh
#   CAP_BY=users bench/capacity.sh
#   CAP_SMOKE=1 CAP_BY=users bench/capacity.sh   # one short run: does the script work?
set -euo pipefail
cd "$(dirname "$0")/.."
p=${CAP_PRECISION:-0.1}
by=${CAP_BY:-rate}
out=${CAP_OUT:-results/capacity-bench}
bin=bin/llmload
go build -o "$bin" ./cmd/llmload
mkdir -p "$out"
case $by in
rate) range=(--start 2 --max 128) ;;
users) range=(--start 4 --max 1024) ;;
*) echo "CAP_BY=$by: want rate or users" >&2; exit 2 ;;
esac
step_args=(--by "$by" --ttft-p99 1s --tpot-p99 100ms "${range[@]}" --precision "$p"
  --warmup 3s --min-time 6s --min-requests 100 --max-time 20s --no-ui --seed 1)
runs=(1 2)
if [[ -n ${CAP_SMOKE:-} ]]; then
  step_args=(--by "$by" --ttft-p99 1s --tpot-p99 100ms --start 4 --max 8 --precision 0.5
    --warmup 0.5s --min-time 1s --min-requests 10 --max-time 3s --no-ui --seed 1)
  runs=(1)
fi
answers=()
for run in "${runs[@]}"; do
  t0=$(date +%s.%N)
  "$bin" run scenarios/capacity.lua "${step_args[@]}" --out "$out/search$run" --overwrite > "$out/search$run.log" 2>&1
  t1=$(date +%s.%N)
  line=$(python3 - "$out/search$run/summary.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["capacity"]
hi = c["high"] if c["high"] is not None else "inf"
print(f'{c["answer"]:.2f} {c["bracket_low"]:.2f} {c["bracket_high"] or 0:.2f} {c["low"]:.2f} {hi} {len(c["steps"])} {c["stop_reason"]}')
PY
)
  printf 'search run %s: answer bracket_low bracket_high low high steps reason = %s; wall %.0f s\n' "$run" "$line" "$(echo "$t1 - $t0" | bc)"
  answers+=("${line%% *}")
done
if [[ $by != rate || -n ${CAP_SMOKE:-} ]]; then
  exit 0
fi
# The linear sweep: steps of precision x answer from one step up, 9 s each
# (the search's warm-up + minimum time), until it breaks.
# The larger answer: a run that ended untrusted low would size the steps far
# too small.
a=$(printf '%s\n' "${answers[@]}" | sort -g | tail -1)
stepr=$(python3 -c "print(round($a * $p, 3))")
steps=$(python3 -c "import math; print(math.ceil(4/$p))")
t0=$(date +%s.%N)
"$bin" run bench/linear_sweep.lua --start "$stepr" --step "$stepr" --step-time 9 --steps "$steps" --target 0.99 \
  --min-requests 100 --ttft-slo 1s --tpot-slo 100ms --sample-interval 1s --no-ui --seed 1 --out "$out/linear" --overwrite > "$out/linear.log" 2>&1 || true
t1=$(date +%s.%N)
grep -E "highest rate|req/s:" "$out/linear.log" || true
printf 'linear sweep (step %s req/s): wall %.0f s\n' "$stepr" "$(echo "$t1 - $t0" | bc)"
