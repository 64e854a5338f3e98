#!/usr/bin/env bash
# flashbench's open-model generator against oha and wrk, side by side in one run, on the same
# `flashbench serve --backend memory --rate-limit off` (GET /products/hot: the same cheap
# request for every tool, so the figures are the generators', not the store's):
#  (a) the highest rate each holds for DURATION seconds: flashbench `arrival.mode: rate` with
#      < 1 % dropped and no error or timeout; oha `-q RATE` with ≥ 99 % of the rate answered;
#      and wrk's closed-loop throughput (64 connections), for scale;
#  (b) at half of flashbench's highest rate: latency p50/p99 from flashbench (intended arrival
#      → answer) and from oha --latency-correction;
#  (c) CPU time (user + system) each generator spends per request at that rate.
# Prints a Markdown table with the ratios. Needs oha (cargo install oha) and wrk (Debian).
# Usage: bench/loadgen.sh [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-5}
BIN=$PWD/target/release/flashbench
PORT=${PORT:-18090}
for tool in oha wrk python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (oha: cargo install oha; wrk: apt install wrk)" >&2; exit 2; }
done
[ -x "$BIN" ] || cargo build --release
work=$(mktemp -d); spid=
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$BIN" serve --listen 127.0.0.1:$PORT --quiet --rate-limit off --backend memory --products bench/hot.yaml \
  > "$work/serve.out" 2> "$work/serve.err" & spid=$!
for _ in $(seq 100); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$work/serve.out" || { echo "flashbench serve did not start: $(cat "$work/serve.err")" >&2; exit 1; }
python3 - "$BIN" "$PORT" "$DUR" "$work" <<'PY'
import json, resource, subprocess, sys, time
sys.path.insert(0, "bench")
from loadgen_scenario import scenario
BIN, PORT, DUR, WORK = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
URL = f"http://127.0.0.1:{PORT}"
SLOTS = 256
RATES = [1000, 2000, 4000, 8000, 12000, 16000, 20000, 25000, 30000, 40000, 50000]
MAX_BUYERS = 100_000  # a run's most; faster rates run shorter

def seconds(rate):
    return max(1, min(DUR, MAX_BUYERS // rate))

def timed(cmd):
    """Runs cmd; returns (stdout, cpu seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, cpu

def flashbench(rate):
    yaml = scenario(URL, rate, seconds(rate), SLOTS)
    path = f"{WORK}/loadgen-{rate}.yaml"
    open(path, "w").write(yaml)
    out, cpu = timed([BIN, "run", path, "--quiet", "--out", f"{WORK}/fb-{rate}"])
    try:
        s = json.load(open(f"{WORK}/fb-{rate}/summary.json"))
    except OSError:
        return {"holds": False, "why": (out.stdout + out.stderr).strip()[-300:]}
    bad = sum(s["outcomes"].get(o, 0) for o in ("error", "timeout", "not_sent"))
    st = s["stream"]
    return {"holds": st["dropped_rate"] < 0.01 and bad == 0, "dropped": st["dropped_rate"], "bad": bad,
            "rps": s["throughput_rps"], "p50": s["latency_us"]["all"]["p50"] / 1000,
            "p99": s["latency_us"]["all"]["p99"] / 1000, "cpu_us": cpu * 1e6 / max(s["attempts"], 1)}

def oha(rate):
    d = seconds(rate)
    out, cpu = timed(["oha", "-z", f"{d}s", "-q", str(rate), "-c", str(SLOTS), "--latency-correction",
                      "--no-tui", "--output-format", "json", f"{URL}/products/hot"])
    j = json.loads(out.stdout)
    ok = j["statusCodeDistribution"].get("200", 0)
    lat = j["latencyPercentiles"]
    return {"holds": ok >= 0.99 * rate * d, "rps": ok / d, "p50": lat["p50"] * 1000, "p99": lat["p99"] * 1000,
            "cpu_us": cpu * 1e6 / max(ok, 1)}

def highest(run):
    best, rows = None, []
    for r in RATES:
        res = run(r); rows.append((r, res))
        print(f"  {run.__name__} {r}/s: {res}", file=sys.stderr)
        if not res["holds"]:
            break
        best = r
    return best, rows

fb_max, _ = highest(flashbench)
oha_max, _ = highest(oha)
wrk = subprocess.run(["wrk", "-t2", "-c64", f"-d{DUR}s", f"{URL}/products/hot"], capture_output=True, text=True).stdout
wrk_rps = next(float(l.split()[1]) for l in wrk.splitlines() if l.startswith("Requests/sec"))
half = (fb_max or RATES[0]) // 2
f, o = flashbench(half), oha(half)
ratio = lambda a, b: f"{a / b:.2f}" if a and b else "n/a"
print(f"| measure | flashbench | oha | ratio (flashbench ÷ oha) |")
print(f"|---|---:|---:|---:|")
print(f"| highest rate held ({DUR} s) | {fb_max}/s | {oha_max}/s | {ratio(fb_max, oha_max)} |")
print(f"| latency p50 at {half}/s (ms) | {f['p50']:.2f} | {o['p50']:.2f} | {ratio(f['p50'], o['p50'])} |")
print(f"| latency p99 at {half}/s (ms) | {f['p99']:.2f} | {o['p99']:.2f} | {ratio(f['p99'], o['p99'])} |")
print(f"| CPU per request at {half}/s (µs) | {f['cpu_us']:.1f} | {o['cpu_us']:.1f} | {ratio(f['cpu_us'], o['cpu_us'])} |")
print(f"| wrk closed loop, 64 connections | | | {wrk_rps:.0f}/s |")
PY
