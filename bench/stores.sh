#!/usr/bin/env bash
# Orders per second of each correct strategy through `flashbench serve`, measured with wrk on
# one hot product (every request a new buyer, so every answer is 201), side by side in the same
# run with the store's own limit for the same operation: redis-benchmark running the same Lua
# script, pgbench running the same SQL transaction. Prints a Markdown table of figures and
# ratios (flashbench ÷ store). Needs wrk, redis-benchmark, pgbench, and Redis and PostgreSQL
# running (FLASHBENCH_REDIS_URL, FLASHBENCH_DATABASE_URL). Usage: bench/stores.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
CONN=${CONN:-32}
POOL=${POOL:-16}
REDIS_URL=${FLASHBENCH_REDIS_URL:-redis://127.0.0.1:6379}
PG_URL=${FLASHBENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
BIN=target/release/flashbench
PORT=${PORT:-18080}
for tool in wrk redis-benchmark redis-cli pgbench; do
  command -v "$tool" >/dev/null || { echo "missing $tool (Debian: wrk, redis-tools, postgresql-client)" >&2; exit 2; }
done
[ -x "$BIN" ] || cargo build --release
hostport=${REDIS_URL#redis://}; RHOST=${hostport%%:*}; RPORT=${hostport##*:}; RPORT=${RPORT%%/*}
work=$(mktemp -d)
spid=
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

serve() { # backend strategy [extra serve flags]
  "$BIN" serve --listen 127.0.0.1:$PORT --quiet --rate-limit off --pool-size "$POOL" \
    --products bench/hot.yaml --backend "$@" > "$work/serve.out" 2> "$work/serve.err" &
  spid=$!
  for _ in $(seq 100); do grep -q listening "$work/serve.out" 2>/dev/null && return 0; sleep 0.1; done
  echo "flashbench serve did not start: $(cat "$work/serve.err")" >&2; exit 1
}
stop() { kill "$spid"; wait "$spid" 2>/dev/null || true; spid=; }

wrk_rps() { # prints orders/s; fails on any non-201 answer
  wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/order.lua "http://127.0.0.1:$PORT" > "$work/wrk.out"
  if grep -q "Non-2xx" "$work/wrk.out"; then echo "wrk saw non-2xx answers:" >&2; cat "$work/wrk.out" >&2; exit 1; fi
  awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/wrk.out"
}

redis_lua_rps() {
  local p=benchlua
  redis-cli -h "$RHOST" -p "$RPORT" del $p:stock:hot $p:limit:hot $p:held:hot $p:orders $p:seq > /dev/null
  redis-cli -h "$RHOST" -p "$RPORT" mset $p:stock:hot 1000000000 $p:limit:hot 1 > /dev/null
  local sha; sha=$(redis-cli -h "$RHOST" -p "$RPORT" script load "$(cat src/server/store/place.lua)")
  local n=$(( DUR * 40000 )) best=0 c t
  for c in 16 32 64; do
    t=$(redis-benchmark -h "$RHOST" -p "$RPORT" -c "$c" -n "$n" -r 2000000000 --csv \
      EVALSHA "$sha" 5 $p:stock:hot $p:limit:hot $p:held:hot $p:orders $p:seq r__rand_int__ 1 hot \
      | tail -n1 | cut -d, -f2 | tr -d '"' | awk '{printf "%.0f", $1}')
    best=$(awk -v a="$best" -v b="$t" 'BEGIN { print (b > a) ? b : a }')
    echo "  redis-benchmark EVALSHA -c $c: $t ops/s" >&2
  done
  echo "$best"
  redis-cli -h "$RHOST" -p "$RPORT" del $p:stock:hot $p:limit:hot $p:held:hot $p:orders $p:seq > /dev/null
}

pgbench_tps() { # sql file: the best tps over 4, 8, 16 and 32 clients (the store's own limit)
  local best=0 c t
  for c in 4 8 16 32; do
    t=$(PGOPTIONS="-c search_path=fb_bench" pgbench -n -M prepared -f "$1" -c "$c" -j 2 -T "$DUR" "$PG_URL" 2>/dev/null \
      | awk '/^tps/ {printf "%.0f", $3}')
    best=$(awk -v a="$best" -v b="$t" 'BEGIN { print (b > a) ? b : a }')
    echo "  pgbench $(basename "$1") -c $c: $t tps" >&2
  done
  echo "$best"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "# bench/stores.sh: ${DUR}s per figure, $CONN connections, pool $POOL, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| strategy | flashbench serve + wrk (orders/s) | store alone, same operation (ops/s) | ratio |"
echo "|---|---|---|---|"

serve memory --strategy atomic; m=$(wrk_rps); stop
echo "| memory/atomic (HTTP ceiling) | $m | — | — |"

serve sqlite --strategy conditional --sqlite-file "$work/bench.db"; s=$(wrk_rps); stop
echo "| sqlite/conditional | $s | — | — |"

serve redis --strategy lua --redis-url "$REDIS_URL" --redis-prefix benchfb; r=$(wrk_rps); stop
redis-cli -h "$RHOST" -p "$RPORT" --scan --pattern 'benchfb:*' | xargs -r redis-cli -h "$RHOST" -p "$RPORT" del > /dev/null
rb=$(redis_lua_rps)
echo "| redis/lua | $r | $rb (redis-benchmark EVALSHA, same script, best of -c 16/32/64) | $(ratio "$r" "$rb") |"

for strategy in conditional for-update; do
  serve postgres --strategy "$strategy" --database-url "$PG_URL" --pg-schema fb_bench; p=$(wrk_rps); stop
  pb=$(pgbench_tps "bench/pg-$strategy.sql")
  echo "| postgres/$strategy | $p | $pb (pgbench, same transaction, -M prepared, best of -c 4/8/16/32) | $(ratio "$p" "$pb") |"
done
psql "$PG_URL" -qc 'DROP SCHEMA IF EXISTS fb_bench CASCADE' > /dev/null 2>&1 || true
