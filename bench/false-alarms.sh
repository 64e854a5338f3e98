#!/usr/bin/env bash
# The false-alarm budget: every correct strategy on limited.yaml (5 units vs 1,500 buyers),
# REPEAT times each on fresh state; any violation is a false alarm. Prints one table row per
# strategy. Needs PostgreSQL and Redis (FLASHBENCH_DATABASE_URL, FLASHBENCH_REDIS_URL).
# Usage: bench/false-alarms.sh [REPEAT] [REQUEST_TIMEOUT]   (default 50; the scenario's 10s)
# With REQUEST_TIMEOUT (1ms, 5ms, 40ms) buyers give up before most answers: the requests still
# take effect, truth must settle them, and unanswered buyers are tolerated (liveness).
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${1:-50}
TIMEOUT=${2:-}
BIN=$PWD/target/release/flashbench
[ -x "$BIN" ] || cargo build --release
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
scenario=scenarios/limited.yaml
if [ -n "$TIMEOUT" ]; then
  scenario=$out/limited.yaml
  python3 bench/with_timeout.py scenarios/limited.yaml "$TIMEOUT" "$scenario"
  echo "request_timeout: $TIMEOUT"
fi
echo "| strategy | repetitions | violations | orders per repetition | indeterminate | exit | wall time |"
echo "|---|---|---|---|---|---|---|"
for pair in memory/atomic sqlite/conditional postgres/conditional postgres/for-update redis/lua; do
  backend=${pair%/*}; strategy=${pair#*/}
  start=$(date +%s.%N)
  code=0
  "$BIN" run "$scenario" --backend "$backend" --strategy "$strategy" --repeat "$REPEAT" --quiet \
    --out "$out/$backend-$strategy" > /dev/null || code=$?
  end=$(date +%s.%N)
  python3 - "$out/$backend-$strategy/summary.json" "$pair" "$code" "$start" "$end" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
reps = s.get("repetitions") or [s]
LIVENESS = {"every_buyer_answered", "target_alive_after_run"}
violations = sum(len([v for v in r.get("violated", []) if v not in LIVENESS]) for r in reps)
orders = sorted({r["orders"] for r in reps})
ind = s["indeterminate"]
print(f"| {sys.argv[2]} | {len(reps)} | {violations} | {', '.join(map(str, orders))} | {ind['total']} "
      f"| {sys.argv[3]} | {float(sys.argv[5]) - float(sys.argv[4]):.0f} s |")
PY
done
