import subprocess
import sys

import main

assert main.mean_temperature(0) == 20.5
assert main.mean_temperature(1) == 21.0, main.mean_temperature(1)
assert main.mean_temperature(2) == 21.5
assert main.mean_temperature(1, sensors=("b",)) == 21.5
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stdout + r.stderr
lines = [l for l in r.stdout.splitlines() if l.startswith("INFO")]
assert lines == [
    "INFO poller: cycle 0: mean 20.50",
    "INFO poller: cycle 1: mean 21.00",
    "INFO poller: cycle 2: mean 21.50",
    "INFO poller: done",
], r.stdout
assert r.stdout.count("sensor c offline") == 3, r.stdout
assert r.stdout.count("TimeoutError: sensor c did not answer") == 3, r.stdout
print("ok")
