import subprocess
import sys

import main

assert main.daily_report("avego", [120.5, 80.25, 42.25]) == "avego: Total: 243.00 EUR", main.daily_report("avego", [120.5, 80.25, 42.25])
assert main.daily_report("x", []) == "x: Total: 0.00 EUR"
assert main.daily_report("y", [1.005, 2]) == "y: Total: 3.00 EUR"
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "avego: Total: 243.00 EUR\nnorthwind: Total: 20.00 EUR\n", r.stdout
print("ok")
