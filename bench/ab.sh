#!/usr/bin/env bash
# Two flashbench binaries, A and B, side by side on the same open-model load: for a change to
# the request path, what it costs. One `flashbench serve --backend memory --rate-limit off`
# (run from B) answers `GET /products/hot` for both; A and B take turns, ROUNDS times each, at
# RATE arrivals a second for DURATION seconds with 256 slots (the loadgen scenario of
# bench/loadgen.sh). Prints per run and as medians: CPU per request (user + system of the
# generator), latency p50/p99 from the intended arrival, and dropped arrivals; then B ÷ A.
# Usage: bench/ab.sh A_BINARY B_BINARY [RATE] [DURATION_SECONDS] [ROUNDS]
# An older binary: git worktree add /tmp/old REV && (cd /tmp/old && cargo build --release),
# then bench/ab.sh /tmp/old/target/release/flashbench target/release/flashbench
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,10p "$0" >&2; exit 2; }
A=$1 B=$2 RATE=${3:-10000} DUR=${4:-5} ROUNDS=${5:-3}
PORT=${PORT:-18091}
for bin in "$A" "$B"; do [ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }; done
work=$(mktemp -d); spid=
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$B" serve --listen 127.0.0.1:$PORT --quiet --rate-limit off --backend memory --products bench/hot.yaml \
  > "$work/serve.out" 2> "$work/serve.err" & spid=$!
for _ in $(seq 100); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$work/serve.out" || { echo "flashbench serve did not start: $(cat "$work/serve.err")" >&2; exit 1; }
python3 - "$A" "$B" "$PORT" "$RATE" "$DUR" "$ROUNDS" "$work" <<'PY'
import json, resource, statistics, subprocess, sys
sys.path.insert(0, "bench")
from loadgen_scenario import scenario
A, B, PORT, RATE, DUR, ROUNDS, WORK = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
yaml = scenario(f"http://127.0.0.1:{PORT}", RATE, DUR)
open(f"{WORK}/ab.yaml", "w").write(yaml)

def one(bin, n):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([bin, "run", f"{WORK}/ab.yaml", "--quiet", "--out", f"{WORK}/run-{n}"], capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    s = json.load(open(f"{WORK}/run-{n}/summary.json"))
    bad = sum(s["outcomes"].get(o, 0) for o in ("error", "timeout", "not_sent"))
    return {"cpu_us": cpu * 1e6 / max(s["attempts"], 1), "p50_ms": s["latency_us"]["all"]["p50"] / 1000,
            "p99_ms": s["latency_us"]["all"]["p99"] / 1000, "dropped_pct": s["stream"]["dropped_rate"] * 100,
            "bad": bad}

runs = {"A": [], "B": []}
for r in range(ROUNDS):
    for name, bin in (("A", A), ("B", B)):
        res = one(bin, f"{name}{r}")
        runs[name].append(res)
        print(f"  round {r + 1} {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in res.items()), file=sys.stderr)
med = {n: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for n, rs in runs.items()}
print(f"| median of {ROUNDS} at {RATE}/s for {DUR} s | A | B | B ÷ A |")
print("|---|---:|---:|---:|")
for k, label in (("cpu_us", "CPU per request (µs)"), ("p50_ms", "latency p50 (ms)"), ("p99_ms", "latency p99 (ms)"),
                 ("dropped_pct", "dropped (%)"), ("bad", "errors, timeouts, not sent")):
    a, b = med["A"][k], med["B"][k]
    print(f"| {label} | {a:.2f} | {b:.2f} | {b / a:.2f} |" if a else f"| {label} | {a:.2f} | {b:.2f} | n/a |")
PY
