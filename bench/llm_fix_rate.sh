#!/usr/bin/env bash
# How often a small local model's fixes pass heal's gates and proof.
#
# Starts the local model of ../shared/local-model/serve.sh (Qwen2.5-Coder-1.5B behind llama.cpp's
# OpenAI-compatible server; first run compiles it, ~8 min), or uses MODEL_URL when set, then runs
# `heal run` once on each crash program in bench/llm_cases/ (crashes no instant rule can fix)
# with HEAL_PROVIDER=openai, and prints how each ended: the fix applied (and the program then
# runs clean) or refused (the file unchanged, the record says why).
#
# Usage: bench/llm_fix_rate.sh            (MODEL_URL=http://127.0.0.1:8089/v1 to reuse a server)
# Env: HEAL_OPENAI_STRUCTURED=json_schema|tools|json to compare ways of asking.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cd "$repo"
cargo build --quiet --locked
heal=$repo/target/debug/heal

url=${MODEL_URL:-}
if [ -z "$url" ]; then
  url=$(bash "$repo/../shared/local-model/serve.sh" 8089 | tail -1)
fi
echo "model server: $url   structured: ${HEAL_OPENAI_STRUCTURED:-tools (default)}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
applied=0; clean=0; total=0
printf '%-16s %-10s %-8s %s\n' case status rerun reason
for case in "$here"/llm_cases/*/; do
  name=$(basename "$case")
  dir=$work/$name
  cp -r "$case" "$dir"
  before=$(sha256sum "$dir/main.py")
  start=$(date +%s)
  (cd "$dir" && env -i PATH="$PATH" HOME="$work" HEAL_PROVIDER=openai OPENAI_BASE_URL="$url" \
      HEAL_OPENAI_STRUCTURED="${HEAL_OPENAI_STRUCTURED:-tools}" \
      HEAL_LLM_TIMEOUT_S=300 AUTO_FIX_MIN_CONFIDENCE=low HEAL_RESTART=never HEAL_GIT_MODE=off \
      HEAL_LOG=warn "$heal" run -- python3 main.py >/dev/null 2>&1) || true
  secs=$(( $(date +%s) - start ))
  record=$(ls "$dir"/storage/errors/err_*.json | grep -v _backup_ | head -1)
  status=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$record")
  reason=$(python3 -c 'import json,sys; print((json.load(open(sys.argv[1])).get("reason") or "")[:70])' "$record")
  rerun=-
  total=$((total + 1))
  if [ "$status" = applied ]; then
    applied=$((applied + 1))
    if (cd "$dir" && python3 main.py >/dev/null 2>&1); then rerun=clean; clean=$((clean + 1)); else rerun=FAILS; fi
  elif [ "$before" != "$(sha256sum "$dir/main.py")" ]; then
    rerun=CHANGED
  fi
  printf '%-16s %-10s %-8s %s (%ss)\n' "$name" "$status" "$rerun" "$reason" "$secs"
done
echo "fixes applied: $applied/$total; of those, clean on a plain re-run: $clean/$applied"
