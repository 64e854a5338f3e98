#!/usr/bin/env bash
# The false-alarm budget: every correct strategy on limited.yaml (5 units vs 1,500 buyers),
# REPEAT times each on fresh state; any violation is a false alarm. Prints one table row per
# strategy. Needs PostgreSQL and Redis (FLASHBENCH_DATABASE_URL, FLASHBENCH_REDIS_URL).
# Usage: bench/false-alarms.sh [REPEAT]   (default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${1:-50}
BIN=$PWD/target/release/flashbench
[ -x "$BIN" ] || cargo build --release
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "| strategy | repetitions | violations | orders per repetition | indeterminate | exit | wall time |"
echo "|---|---|---|---|---|---|---|"
for pair in memory/atomic sqlite/conditional postgres/conditional postgres/for-update redis/lua; do
  backend=${pair%/*}; strategy=${pair#*/}
  start=$(date +%s.%N)
  code=0
  "$BIN" run scenarios/limited.yaml --backend "$backend" --strategy "$strategy" --repeat "$REPEAT" --quiet \
    --out "$out/$backend-$strategy" > /dev/null || code=$?
  end=$(date +%s.%N)
  python3 - "$out/$backend-$strategy/summary.json" "$pair" "$code" "$start" "$end" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
reps = s.get("repetitions") or [s]
violations = sum(len(r.get("violated", [])) for r in reps)
orders = sorted({r["orders"] for r in reps})
ind = s["indeterminate"]
print(f"| {sys.argv[2]} | {len(reps)} | {violations} | {', '.join(map(str, orders))} | {ind['total']} "
      f"| {sys.argv[3]} | {float(sys.argv[5]) - float(sys.argv[4]):.0f} s |")
PY
done
