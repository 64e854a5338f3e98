#!/usr/bin/env bash
# How reliably each mutant is caught: every self-test scenario REPEAT times (a self-test passes
# when some repetition makes its catch; here every repetition is counted), and the share of
# repetitions in which each expected violation showed. Needs PostgreSQL and Redis for theirs.
# Usage: bench/mutants.sh [REPEAT] [REQUEST_TIMEOUT]   (default 20; each scenario's own)
# With REQUEST_TIMEOUT (1ms, 5ms, 40ms) buyers give up before most answers (unanswered buyers
# tolerated): the mutants must be caught from truth alone.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${1:-20}
TIMEOUT=${2:-}
BIN=$PWD/target/release/flashbench
[ -x "$BIN" ] || cargo build --release
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "| self-test | target | caught in | other violations (rate) |"
echo "|---|---|---|---|"
for f in scenarios/self-test/*.yaml; do
  name=$(basename "$f" .yaml)
  if [ -n "$TIMEOUT" ]; then
    python3 bench/with_timeout.py "$f" "$TIMEOUT" "$out/$name.yaml"
    f=$out/$name.yaml
  fi
  "$BIN" run "$f" --repeat "$REPEAT" --quiet --out "$out/$name" > /dev/null || true
  python3 - "$out/$name/summary.json" "$name" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
reps = len(s.get("repetitions") or [1])
expected = [i["name"] for i in s["invariants"] if i["expected_violation"]]
rate = s.get("violation_rate", {})
caught = ", ".join(f"{rate.get(e, 0) * reps:.0f}/{reps}" for e in expected)
others = ", ".join(f"{k} {v:.0%}" for k, v in sorted(rate.items()) if v > 0 and k not in expected) or "none"
print(f"| {sys.argv[2]} | {', '.join(expected)} | {caught} | {others} |")
PY
done
