#!/usr/bin/env bash
# Measures what the proof's sandbox (bubblewrap) costs: the same healing (a misspelt local
# fixed by an instant rule, no model) proved REPS times with verify.sandbox = "off" and REPS
# times with the sandbox, interleaved, each in a fresh git repository, with a release build.
# Reports the median time of the proof (the record's timings_ms.prove: two baseline runs, the
# fixed run, py_compile) each way, and the ratio. Each run's record must say what confined its
# proof (`fix.sandbox`): bubblewrap for the sandboxed runs, none for the others; otherwise the
# bench stops, since the ratio would compare something else.
# Usage: bash bench/sandbox_cost.sh [REPS]      (default 11)
set -euo pipefail
reps=${1:-11}
here=$(cd "$(dirname "$0")/.." && pwd)
command -v bwrap >/dev/null || { echo "bench: bwrap is not installed (apt-get install bubblewrap)" >&2; exit 1; }
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
heal=${CARGO_TARGET_DIR:-$here/target}/release/heal
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
app='import sys


def greet(name):
    message = "hello " + name
    return mesage


print(greet("team"), flush=True)
'
# The proof's time and what confined it, from the run's record: "<ms> <fix.sandbox>".
proof_of() {
  python3 -c '
import glob, json, sys
found = glob.glob(sys.argv[1] + "/storage/errors/err_*.json")
r = json.load(open(found[0])) if found else {}
ms = r.get("timings_ms", {}).get("prove")
if ms is None:
    sys.exit("bench: FAILED: the " + sys.argv[2] + " left no record of a proof")
print(ms, (r.get("fix") or {}).get("sandbox") or "(not said)")
' "$1" "$2"
}
off=()
on=()
for i in $(seq 1 "$reps"); do
  for mode in off auto; do
    dir="$work/$mode-$i"
    mkdir -p "$dir"
    printf '%s' "$app" >"$dir/app.py"
    printf 'storage/\n' >"$dir/.gitignore"
    git -C "$dir" init -q -b main
    git -C "$dir" -c user.name=bench -c user.email=bench@localhost add .
    git -C "$dir" -c user.name=bench -c user.email=bench@localhost commit -q -m initial
    (cd "$dir" && HEAL_PROVIDER=none HEAL_GIT_MODE=off HEAL_VERIFY_SANDBOX=$mode \
      "$heal" run -- python3 app.py >/dev/null 2>&1) || true
    proof=$(proof_of "$dir" "$mode run $i")
    read -r ms sandbox <<<"$proof"
    case "$mode:$sandbox" in
      auto:bubblewrap*) on+=("$ms") ;;
      off:"no sandbox"*) off+=("$ms") ;;
      *)
        echo "bench: FAILED: the $mode run $i was not confined as the comparison needs (bubblewrap with auto, none with off); its record says fix.sandbox = $sandbox" >&2
        exit 1
        ;;
    esac
  done
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
a=$(median "${off[@]}")
b=$(median "${on[@]}")
echo "machine: $(nproc) cores, $(python3 --version 2>&1), $(bwrap --version), $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "proof of one instant fix, $reps runs each way, medians:"
echo "without the sandbox: ${a} ms"
echo "with the sandbox:    ${b} ms   (x$(echo "scale=3; $b / $a" | bc))"
