#!/usr/bin/env bash
# Measures heal on an error storm: N tracebacks of K kinds written as fast as python can,
# supervised by a release build of heal. Reports wall time, throughput and heal's peak RSS.
# Usage: bench/storm.sh [N] [K]      (default 100000 tracebacks of 50 kinds)
set -euo pipefail
n=${1:-100000}
k=${2:-50}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
heal=$here/target/release/heal
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/kinds"
for i in $(seq 0 $((k - 1))); do
  printf 'def handle(n):\n    raise ValueError(f"kind %s failed on item {n}")\n' "$i" >"$work/kinds/k$i.py"
done
cat >"$work/storm.py" <<PY
import importlib, traceback
fns = [importlib.import_module(f"kinds.k{i}").handle for i in range($k)]
for n in range($n):
    try:
        fns[n % $k](n)
    except ValueError:
        traceback.print_exc()
PY
# Python's own time for the same output, without heal, as the baseline.
start=$(date +%s.%N)
(cd "$work" && python3 storm.py 2>/dev/null)
base=$(echo "$(date +%s.%N) - $start" | bc)
start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$work/rss" "$heal" --root "$work" run --restart never -- python3 storm.py 2>/dev/null
took=$(echo "$(date +%s.%N) - $start" | bc)
incidents=$(ls "$work/storage/errors" | grep -c '\.json$')
total=$(cat "$work"/storage/errors/*.json | python3 -c 'import sys,json,re; t=sys.stdin.read(); print(sum(int(m) for m in re.findall(r"\"occurrences\": (\d+)", t)))')
echo "tracebacks:        $n ($k kinds)"
echo "python alone:      ${base} s"
echo "under heal:        ${took} s"
echo "incidents:         $incidents (occurrences counted: $total)"
echo "peak RSS (heal or its child, KiB): $(cat "$work/rss")"
