#!/usr/bin/env bash
# Compare session step costs of two (or more) builds or settings in whole
# 5,000-user runs, alternated against one simulator: A, B, A, B, ...
# On a shared VM the same build's step p99 moves by a factor of two within
# an hour, so only runs alternated in one sitting compare two versions
# (docs/performance.md, "Sessions").
#
#   bench/sessions_ab.sh ROUNDS NAME=COMMAND [NAME=COMMAND ...]
#
# COMMAND is an llmload binary, optionally preceded by VAR=value settings
# for its environment:
#   bench/sessions_ab.sh 2 old=/tmp/llmload-old new=bin/llmload
#   bench/sessions_ab.sh 2 gc100=bin/llmload gc400="GOGC=400 bin/llmload"
# SESSIONS_SCENARIO (default scenarios/chat_sessions.lua), SESSIONS_USERS
# (5000) and SESSIONS_ARGS (make bench-sessions' settings, 60 s) set the
# run; results go to SESSIONS_OUT (results/sessions-ab). Each run prints
# step cost p50/p90/p99/max, step CPU p99, peak RSS and the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 2 ]]; then
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
rounds=$1
shift
scenario=${SESSIONS_SCENARIO:-scenarios/chat_sessions.lua}
users=${SESSIONS_USERS:-5000}
read -r -a args <<<"${SESSIONS_ARGS:---turns 8 --think 30 --answer 32 --ramp 10 --duration 60s}"
out=${SESSIONS_OUT:-results/sessions-ab}
mkdir -p "$out"
make -s build

bin/llmload sim --addr 127.0.0.1:0 --profile fixed --ttft 50ms --itl 10ms >"$out/sim.log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT INT TERM
url=
for _ in $(seq 100); do
  url=$(grep -o 'http://[0-9.:]*' "$out/sim.log" | head -n 1 || true)
  [[ -n $url ]] && break
  sleep 0.1
done
[[ -n $url ]] || { echo "the simulator did not start:" >&2; cat "$out/sim.log" >&2; exit 1; }
echo "simulator $url; $users users ${args[*]}; load average $(cut -d' ' -f1-3 /proc/loadavg)"

for r in $(seq "$rounds"); do
  for spec in "$@"; do
    name=${spec%%=*}
    read -r -a cmd <<<"${spec#*=}"
    dir=$out/$name-$r
    # env runs the binary itself, so its pid is the client's and VmHWM its RSS.
    env "${cmd[@]}" run "$scenario" --url "$url" --no-ui --out "$dir" --overwrite \
      --users "$users" "${args[@]}" >"$dir.log" 2>&1 &
    pid=$!
    hwm=0
    while kill -0 "$pid" 2>/dev/null; do
      h=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      [[ -n $h ]] && hwm=$h
      sleep 0.2
    done
    wait "$pid" || { echo "$name run $r failed:" >&2; tail -n 20 "$dir.log" >&2; exit 1; }
    python3 - "$dir/summary.json" "$name-$r" "$hwm" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["sessions"]
c, u = s["step_cost"], s.get("step_cpu") or {}
us = lambda st, k: st.get(k, 0) * 1000
print(f"{sys.argv[2]}: sessions started {s['started']}, steps {c['count']}, step cost p50 {us(c, 'p50_ms'):.0f} "
      f"p90 {us(c, 'p90_ms'):.0f} p99 {us(c, 'p99_ms'):.0f} max {us(c, 'max_ms'):.0f} us (CPU p99 "
      f"{us(u, 'p99_ms'):.0f} us), peak RSS {int(sys.argv[3]) / 1024:.0f} MB (load average {sys.argv[4]})", flush=True)
PY
  done
done
