import subprocess
import sys

import main

assert main.mean_ok_latency(main.REQUESTS) == 100, main.mean_ok_latency(main.REQUESTS)
assert main.mean_ok_latency([{"status": "ok", "ms": 7}, {"status": "error", "ms": 1}]) == 7
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "mean latency of successful requests: 100.0 ms\n", r.stdout
print("ok")
