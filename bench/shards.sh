#!/usr/bin/env bash
# Bursts past one process: limited.yaml (5 units, SQLite) at 20,000, 50,000 and 100,000 buyers
# on this machine, and the figures BENCHMARKS.md gives for each: wall time, peak memory of all
# processes (the sum of each one's VmHWM: flashbench, its shards and the serve workers; an
# upper bound of the simultaneous peak), time to connect everyone (start of the load to the
# release), send skew, attempts per second, and the verdict.
#
#   cargo build --release && bash bench/shards.sh [BUYERS...]
set -euo pipefail
cd "$(dirname "$0")/.."
exe=target/release/flashbench
[ -x "$exe" ] || { echo "build first: cargo build --release" >&2; exit 2; }
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(20000 50000 100000)
printf '%-8s %-6s %-5s %-7s %-8s %-9s %-10s %-26s %-9s %s\n' buyers shards sold wall_s peak_GB connect_s attempts/s "skew p50/p99/max ms" exit errors
for n in "${sizes[@]}"; do
  out=$(mktemp -d)
  start=$(date +%s.%N)
  set +e
  "$exe" run scenarios/limited.yaml --buyers "$n" --quiet --out "$out/run" >"$out/log" 2>&1
  code=$?
  set -e
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  python3 - "$out/run/summary.json" "$n" "$wall" "$code" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
r = s.get("resources") or {}
peak = (r.get("flashbench", {}).get("peak_bytes", 0) + (r.get("servers") or {}).get("peak_bytes", 0)) / 2**30
sk = s["send_skew_us"]
sold = sum(p.get("orders") or 0 for p in s["products"])
print(f'{sys.argv[2]:<8} {max(1, len(s.get("shards", []))):<6} {sold:<5} {float(sys.argv[3]):<7.1f} {peak:<8.2f} '
      f'{(s.get("release_us") or 0) / 1e6:<9.1f} {s["throughput_rps"]:<10.0f} '
      f'{sk["p50"]/1000:.0f}/{sk["p99"]/1000:.0f}/{sk["max"]/1000:<17.0f} {sys.argv[4]:<9} {s["outcomes"].get("error", 0)}')
PY
  rm -rf "$out"
done
