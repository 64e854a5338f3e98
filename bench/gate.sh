#!/usr/bin/env bash
# A burst's release against the machine's floor, side by side in one run: bench/floor.c (one
# C loop writing one byte to each of N pre-connected loopback sockets) and flashbench's send
# skew on scenarios/limited.yaml (memory backend) at the same N. Prints a Markdown table with
# the ratio flashbench p99 ÷ floor p99 (goal: ≤ 0.6 at 1,500 buyers, ≤ 1.0 at 10,000, from the
# gate writing its shares on every core). Usage: bench/gate.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BIN=$PWD/target/release/flashbench
[ -x "$BIN" ] || cargo build --release
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/floor" bench/floor.c
ulimit -n 20000 2>/dev/null || true
echo "| buyers | run | floor p50 / p99 (ms) | flashbench skew p50 / p99 (ms) | p99 ratio |"
echo "|---:|---:|---:|---:|---:|"
for n in 1500 10000; do
  for r in $(seq "$RUNS"); do
    floor=$("$work/floor" "$n")
    "$BIN" run scenarios/limited.yaml --buyers "$n" --backend memory --quiet --out "$work/run-$n-$r" > /dev/null || true
    python3 - "$floor" "$work/run-$n-$r/summary.json" "$n" "$r" <<'PY'
import json, sys
floor = json.loads(sys.argv[1]); s = json.load(open(sys.argv[2])); k = s["send_skew_us"]
print(f"| {sys.argv[3]} | {sys.argv[4]} | {floor['p50_us']/1000:.2f} / {floor['p99_us']/1000:.2f} | "
      f"{k['p50']/1000:.2f} / {k['p99']/1000:.2f} | {k['p99']/floor['p99_us']:.2f} |")
PY
  done
done
