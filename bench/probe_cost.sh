#!/usr/bin/env bash
# Measures what heal's behaviour probe (src/prove/behaviour/probe.py) costs a program: the
# program of bench/probe_cost/app.py calls cost_per_click 100,000 times beside other work, and
# is timed plain, as a fixed run (the probe watching cost_per_click, the edited function) and as
# a baseline run (the probe watching every function of app.py). Prints median wall and CPU times
# over REPS repetitions and their ratios to the plain run; a mode watches a function that is
# never called, so the hook stays on to the end (the cost of the hook itself). On Python 3.12+
# the fixed and baseline runs are also timed with the probe's sys.settrace path forced.
# Usage: bash bench/probe_cost.sh [REPS]      (default 11)
#        PYTHON=/path/to/python3.12 bash bench/probe_cost.sh    (another interpreter)
set -euo pipefail
reps=${1:-11}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The very file heal embeds with include_str!, installed the way heal installs it.
mkdir -p "$work/probe" "$work/project"
cp "$here/src/prove/behaviour/probe.py" "$work/probe/sitecustomize.py"
cp "$here/bench/probe_cost/app.py" "$work/project/app.py"
echo "machine: $(nproc) cores, $("$python" --version 2>&1), $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "repetitions: $reps"
"$python" "$here/bench/probe_cost/run.py" "$work/probe" "$work/project" "$reps"
