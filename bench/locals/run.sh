#!/usr/bin/env bash
# Does the model fix more when the prompt shows the failing frame's locals (issue 16)?
# Runs the same bug cases of bench/crashes twice, at the same time, one per model server:
#   with:    the cases' python3 loads sentry_sdk (PYTHONPATH=bench/locals), heal run gives
#            it a SENTRY_DSN, the crash arrives with its locals, the prompt has a LOCALS block;
#   without: the same, with HEAL_RUN_SENTRY=false (no DSN, no locals).
# Usage: bench/locals/run.sh HEAL_BINARY PORT_WITH PORT_WITHOUT OUT_DIR
# Needs target/test-venv (bash .ci/run makes it) and two servers of
# ../shared/local-model/serve.sh. The results are bench/crashes/run.py's JSON; compare them
# with bench/crashes/compare.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
heal=$1 with=$2 without=$3 out=$4
mkdir -p "$out"
site=$(echo "$root"/target/test-venv/lib/python3*/site-packages)
[ -d "$site" ] || { echo "no $root/target/test-venv: run bash .ci/run once" >&2; exit 2; }
# The bugs whose failing frame holds the bad value (a 0, a None, a missing key, a str).
cases=dict_key_default_doc,forgot_return,missing_argument,nested_key_error,none_lookup_case,none_regex_group,off_by_one_last,off_by_one_pairs,pkg_key_error,stdlib_int_float_string,stdlib_path_join_int,str_concat_float,type_slice_str,type_str_compare,unbound_local_counter,zero_division_doc,stdlib_statistics_empty,unpack_too_many
HEAL_PROVIDER=openai OPENAI_BASE_URL=http://127.0.0.1:$with/v1 \
  python3 "$root/bench/crashes/run.py" --heal "$heal" --cases "$cases" --label with-locals \
  --out "$out/with.json" -- "PYTHONPATH=$here:$site" > "$out/with.log" 2>&1 &
HEAL_PROVIDER=openai OPENAI_BASE_URL=http://127.0.0.1:$without/v1 \
  python3 "$root/bench/crashes/run.py" --heal "$heal" --cases "$cases" --label without-locals \
  --out "$out/without.json" -- "PYTHONPATH=$here:$site" HEAL_RUN_SENTRY=false > "$out/without.log" 2>&1 &
wait
python3 "$root/bench/crashes/compare.py" "$out/with.json" "$out/without.json"
