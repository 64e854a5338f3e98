#!/usr/bin/env bash
# A correct Redis run whose Redis stops (SIGSTOP) for STALL seconds mid-run, TRIES times, each
# with a redis-server of its own: 3,000 buyers for 1,500 units over a 6 s ramp, three server
# instances. Before ground truth waited for quiet and read one snapshot, such runs reported a
# false stock_conserved ("820 + 747 = 1567 ≠ 1500") in 5 of 8. Prints one row per try and
# the count of false violations (any of the invariants a correct store cannot break).
# Usage: bench/redis-stall.sh [TRIES [STALL]]   (default 20 tries, 7 s)
set -euo pipefail
cd "$(dirname "$0")/.."
TRIES=${1:-20}; STALL=${2:-7}
BIN=$PWD/target/release/flashbench
[ -x "$BIN" ] || cargo build --release
work=$(mktemp -d)
redis_pid=
cleanup() { [ -n "$redis_pid" ] && kill -9 "$redis_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cat > "$work/stall.yaml" <<YAML
name: stall
products:
  - id: p
    stock: 1500
buyers:
  count: 3000
arrival:
  mode: ramp
  over: 6s
request_timeout: 3s
server:
  backend: redis
  strategy: lua
  instances: 3
YAML
false_total=0
echo "| try | exit | won | errors | timeouts | indeterminate: took effect / no effect / unknown | final stock | orders | false violations | truth reads |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for i in $(seq 1 "$TRIES"); do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no > /dev/null & redis_pid=$!
  until redis-cli -p "$port" ping > /dev/null 2>&1; do sleep 0.05; done
  "$BIN" run "$work/stall.yaml" --quiet --redis-url "redis://127.0.0.1:$port" --out "$work/run$i" > /dev/null & run=$!
  until [ "$(redis-cli -p "$port" --scan --pattern 'flashbench:stall:*:seq' | head -1 | xargs -r redis-cli -p "$port" get)" -ge 200 ] 2>/dev/null; do sleep 0.02; done
  kill -STOP "$redis_pid"; sleep "$STALL"; kill -CONT "$redis_pid"
  code=0; wait "$run" || code=$?
  kill -9 "$redis_pid"; wait "$redis_pid" 2>/dev/null || true; redis_pid=
  n=$(python3 - "$work/run$i/summary.json" "$i" "$code" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
o, ind, p = s["outcomes"], s["indeterminate"], s["products"][0]
hard = ["no_oversell", "stock_conserved", "stock_never_negative", "acked_orders_durable", "no_phantom_orders"]
false = [i["name"] for i in s["invariants"] if i["status"] == "fail" and i["name"] in hard]
t = s.get("truth") or {}
print(f"| {sys.argv[2]} | {sys.argv[3]} | {o['won']} | {o['error']} | {o['timeout']} | {ind['took_effect']} / {ind['no_effect']} / {ind['unknown']} "
      f"| {p['final_stock']} | {p['orders']} | {', '.join(false) or 0} | {t.get('reads', '?')} |", file=sys.stderr)
print(len(false))
PY
)
  false_total=$((false_total + n))
done 2>&1
echo
echo "false violations in $TRIES tries: $false_total"
