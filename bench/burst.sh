#!/usr/bin/env bash
# One burst of N buyers on scenarios/limited.yaml: wall time, peak memory of flashbench and of
# its child servers (VmHWM, sampled every 10 ms), attempts per second and send skew, from the
# run's summary.json. Usage: bench/burst.sh BUYERS [BACKEND [STRATEGY]]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}; BACKEND=${2:-memory}; STRATEGY=${3:-}
BIN=$PWD/target/release/flashbench
[ -x "$BIN" ] || cargo build --release
out=$(mktemp -d)
args=(run scenarios/limited.yaml --buyers "$N" --backend "$BACKEND" --quiet --out "$out/run")
[ -n "$STRATEGY" ] && args+=(--strategy "$STRATEGY")
start=$(date +%s.%N)
"$BIN" "${args[@]}" > "$out/stdout" & parent=$!
peak_parent=0; peak_child=0
while kill -0 "$parent" 2>/dev/null; do
  p=$(awk '/VmHWM/ {print $2}' /proc/$parent/status 2>/dev/null || echo 0); [ "${p:-0}" -gt "$peak_parent" ] && peak_parent=$p
  for c in $(pgrep -P "$parent" -f "flashbench serve" || true); do
    v=$(awk '/VmHWM/ {print $2}' /proc/$c/status 2>/dev/null || echo 0); [ "${v:-0}" -gt "$peak_child" ] && peak_child=$v
  done
  sleep 0.01
done
code=0; wait "$parent" || code=$?
end=$(date +%s.%N)
python3 - "$out/run/summary.json" "$start" "$end" "$peak_parent" "$peak_child" "$code" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
start, end, pp, pc, code = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
p = s["products"][0]
print(f"| {s['buyers']} | {s['target']['backend']}/{s['target']['strategy']} | {s['target']['placement']} | exit {code}, "
      f"{p['orders']} sold, final {p['final_stock']} | {end - start:.2f} s | {pp // 1024} MiB"
      f"{f' + {pc // 1024} MiB' if pc else ''} | {s['throughput_rps']:.0f} | {s['send_skew_us']['p99'] / 1000:.1f} ms |")
PY
rm -rf "$out"
