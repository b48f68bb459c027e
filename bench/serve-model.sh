#!/usr/bin/env bash
# Starts the real local model (../shared/local-model/serve.sh) and proves it can answer, not
# only list its models: on some machines llama.cpp as pip builds it (for the build machine's
# own CPU, `GGML_NATIVE`) crashes with a segmentation fault on its first completion. Seen on a
# VM whose CPU reports AMX: the server starts, answers GET /v1/models, and dies on the first
# POST. Then this script rebuilds llama-cpp-python in serve.sh's cache for a portable x86-64
# target (AVX2, no AVX-512 or AMX; about 8 minutes on 2 cores, once) and starts it again.
#
# Usage: bench/serve-model.sh [PORT] [SERVE_SH]
#   PORT      default 8089
#   SERVE_SH  default ../shared/local-model/serve.sh beside this checkout
# Prints the base URL (http://127.0.0.1:PORT/v1) on its last line, as serve.sh does; exits
# non-zero, with what went wrong, when the model still cannot answer.
set -euo pipefail
port=${1:-8089}
here=$(cd "$(dirname "$0")/.." && pwd)
serve=${2:-$here/../shared/local-model/serve.sh}
cache=${HEAL_MODEL_CACHE:-$HOME/.cache/heal-local-model}

# One tiny completion; true when the server answered it.
answers() {
  python3 - "$1" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(
    sys.argv[1] + "/chat/completions",
    data=json.dumps({"model": "m", "messages": [{"role": "user", "content": "Say hi"}],
                     "max_tokens": 2}).encode(),
    headers={"content-type": "application/json"})
try:
    body = json.load(urllib.request.urlopen(req, timeout=300))
    sys.exit(0 if body.get("choices") else 1)
except Exception as e:  # noqa: BLE001
    print("serve-model.sh: the model did not answer a completion: %s" % e, file=sys.stderr)
    sys.exit(1)
PY
}

stop() {
  kill "$(cat "$cache/server-$port.pid" 2>/dev/null)" 2>/dev/null || true
}

# Starts the server; prints its URL when it answers a completion, else stops it.
serve_and_check() {
  local url
  url=$(bash "$serve" "$port" | tail -1) || exit 1
  if answers "$url"; then
    echo "$url"
    return 0
  fi
  stop
  return 1
}

serve_and_check && exit 0
echo "serve-model.sh: rebuilding llama-cpp-python for a portable CPU target (about 8 min)" >&2
version=$("$cache/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
  CMAKE_BUILD_PARALLEL_LEVEL=2 \
  "$cache/venv/bin/pip" install -q --force-reinstall --no-deps --no-cache-dir "llama-cpp-python==$version" >&2
serve_and_check && exit 0
echo "serve-model.sh: the model server still crashes on a completion; its log: $cache/server-$port.log" >&2
exit 1
