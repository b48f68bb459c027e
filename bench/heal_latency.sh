#!/usr/bin/env bash
# Measures a whole healing with no model, from the crash to the program's clean end, with a
# release build of heal: a misspelt local fixed by an instant rule (one link), and the two-bug
# program of the README's proof section (an unused import of a missing module, then a misspelt
# local in a function called later: a crash chain of two links). Each case runs REPS times in
# a fresh git repository (commit mode: a commit, no remote) and the median wall time of
# `heal run` is printed, with how the proof's time splits (the record's timings).
# Usage: bash bench/heal_latency.sh [REPS]      (default 7)
set -euo pipefail
reps=${1:-7}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
heal=$here/target/release/heal
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

typo='import sys


def greet(name):
    message = "hello " + name
    return mesage


print(greet("team"), flush=True)
'
chain='import json
import reporting_helpers_that_do_not_exist


def report(values):
    current = 0
    for v in values:
        current += v
    return curent


print("starting", flush=True)
print(json.dumps({"total": report([1, 2, 3])}), flush=True)
'

echo "machine: $(nproc) cores, $(python3 --version 2>&1), $(git --version), $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "repetitions: $reps"
for case in typo chain; do
  times=()
  for i in $(seq 1 "$reps"); do
    dir="$work/$case-$i"
    mkdir -p "$dir"
    printf '%s' "${!case}" >"$dir/main.py"
    printf 'storage/\n' >"$dir/.gitignore"
    git -C "$dir" init -q -b main
    git -C "$dir" -c user.name=bench -c user.email=bench@localhost add .
    git -C "$dir" -c user.name=bench -c user.email=bench@localhost commit -q -m initial
    start=$(date +%s%N)
    (cd "$dir" && HEAL_PROVIDER=none HEAL_RESTART=on-failure HEAL_GIT_MODE=commit \
      "$heal" run -- python3 main.py >/dev/null 2>&1)
    end=$(date +%s%N)
    times+=($(((end - start) / 1000000)))
  done
  sorted=($(printf '%s\n' "${times[@]}" | sort -n))
  median=${sorted[$((reps / 2))]}
  prove=$(cat "$work/$case-1"/storage/errors/err_*.json | python3 -c '
import json, sys
text = sys.stdin.read()
dec = json.JSONDecoder()
i, total = 0, 0
while i < len(text):
    text_i = text[i:].lstrip()
    if not text_i:
        break
    obj, n = dec.raw_decode(text_i)
    i = len(text) - len(text_i) + n
    total += obj.get("timings_ms", {}).get("prove", 0)
print(total)')
  echo "$case: median ${median} ms from start to clean end (min ${sorted[0]}, max ${sorted[$((reps - 1))]}); proof ${prove} ms of the first run"
done
