"""Times bench/probe_cost/app.py with and without heal's behaviour probe.

Usage: python3 run.py PROBE_DIR WORK_DIR REPS (bench/probe_cost.sh prepares both folders).
Each program runs under this interpreter. Wall time and CPU time (user + system of the child):
on a machine shared with other work, CPU time is the steadier of the two."""

import json
import os
import resource
import statistics
import subprocess
import sys
import time

probe_dir, work, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
app = os.path.join(work, "app.py")
empty = os.path.join(work, "empty.py")
with open(empty, "w") as f:
    f.write("pass\n")
specs = {
    "fixed run (watches cost_per_click)": {"functions": [["app.py", "cost_per_click"]]},
    "baseline run (watches every function of app.py)": {"files": ["app.py"]},
    # The tracer stays on to the end: what every Python call costs while the probe watches.
    "probe on, watching a function never called": {"functions": [["app.py", "never_called"]]},
}
if hasattr(sys, "monitoring"):
    # The probe's older hook, on the same Python, for comparison.
    specs["fixed run, sys.settrace forced"] = dict(
        specs["fixed run (watches cost_per_click)"], tracer="settrace")
    specs["baseline run, sys.settrace forced"] = dict(
        specs["baseline run (watches every function of app.py)"], tracer="settrace")
modes = {"plain": (app, None)}
for name, spec in specs.items():
    path = os.path.join(work, "spec-%d.json" % len(modes))
    with open(path, "w") as f:
        json.dump(dict({"root": work, "files": [], "functions": []}, **spec), f)
    modes[name] = (app, path)
# Python's own start, and the probe's, on a program that does nothing.
modes["start only: plain, empty program"] = (empty, None)
modes["start only: probe loaded, empty program"] = (empty, modes["fixed run (watches cost_per_click)"][1])

base_env = {k: v for k, v in os.environ.items() if not k.startswith("HEAL_PROBE_")}
base_env.pop("PYTHONPATH", None)
times = {name: [] for name in modes}
cpu = {name: [] for name in modes}
outputs = {}
lines = {}
# Modes interleaved, so a slow spell of the machine falls on all of them alike.
for rep in range(reps):
    for name, (script, spec) in modes.items():
        env = dict(base_env)
        out = os.path.join(work, "out-%d.jsonl" % list(modes).index(name))
        if spec is not None:
            if os.path.exists(out):
                os.remove(out)
            env.update(PYTHONPATH=probe_dir, HEAL_PROBE_SPEC=spec, HEAL_PROBE_OUT=out)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, script], cwd=work, env=env, capture_output=True, check=True
        )
        times[name].append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[name].append(
            after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if script == app:
            outputs.setdefault(name, result.stdout + result.stderr)
        if spec is not None:
            with open(out) as f:
                lines[name] = sum(1 for _ in f)

plain = statistics.median(times["plain"])
plain_cpu = statistics.median(cpu["plain"])
print("%-50s %28s   %s" % ("", "wall: median (min-max), ratio", "cpu: median, ratio"))
for name, samples in times.items():
    median = statistics.median(samples)
    median_cpu = statistics.median(cpu[name])
    probed = modes[name][1] is not None and modes[name][0] != empty
    print("%-50s %7.1f ms (%5.1f-%5.1f) %6s   %7.1f ms %6s%s" % (
        name, median * 1000, min(samples) * 1000, max(samples) * 1000,
        "x%.2f" % (median / plain) if probed else "",
        median_cpu * 1000,
        "x%.2f" % (median_cpu / plain_cpu) if probed else "",
        "  (%d lines written)" % lines[name] if probed else ""))
if len(set(outputs.values())) != 1:
    print("OUTPUT DIFFERS with the probe:", outputs)
    sys.exit(1)
print("program output identical in every mode:", outputs["plain"].decode().strip())
