#!/usr/bin/env bash
# Measures what heal's scanning of stdout costs a program that prints a lot of ordinary lines:
# a python program prints N lines (default 200,000) to stdout, timed three ways, REPS times
# each, interleaved, output to /dev/null in every case: python alone; python piped through
# `cat` (what any pipe costs: a supervisor must read the program's output through one); and
# under a release build of heal (which passes every byte through and scans both streams for
# tracebacks). Prints the medians and the ratios.
# Usage: bash bench/stdout_cost.sh [N] [REPS]      (default 200000 lines, 11 repetitions)
set -euo pipefail
n=${1:-200000}
reps=${2:-11}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
heal=$here/target/release/heal
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/lines.py" <<PY
import sys
out = sys.stdout
for i in range($n):
    out.write(f"2026-11-30 12:00:00,{i % 1000:03d} INFO served request {i} in {i % 97} ms\n")
out.flush()
PY
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
alone=()
piped=()
under=()
for _ in $(seq 1 "$reps"); do
  start=$(date +%s%N)
  (cd "$work" && python3 lines.py >/dev/null)
  alone+=("$(ms "$start")")
  start=$(date +%s%N)
  (cd "$work" && python3 lines.py | cat >/dev/null)
  piped+=("$(ms "$start")")
  start=$(date +%s%N)
  (cd "$work" && HEAL_PROVIDER=none "$heal" run -- python3 lines.py >/dev/null 2>&1)
  under+=("$(ms "$start")")
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
a=$(median "${alone[@]}")
c=$(median "${piped[@]}")
u=$(median "${under[@]}")
echo "machine: $(nproc) cores, $(python3 --version 2>&1), $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "$n lines to stdout, $reps runs each, medians:"
echo "python alone:            ${a} ms"
echo "python | cat:            ${c} ms   (x$(echo "scale=3; $c / $a" | bc) python alone)"
echo "under heal:              ${u} ms   (x$(echo "scale=3; $u / $a" | bc) python alone, x$(echo "scale=3; $u / $c" | bc) python | cat)"
