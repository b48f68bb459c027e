import math
import subprocess
import sys

import main

assert math.isclose(main.stddev([120, 80, 100, 140, 60]), math.sqrt(800)), main.stddev([120, 80, 100, 140, 60])
assert main.stddev([5, 5, 5]) == 0.0
assert math.isclose(main.stddev([1, 3]), 1.0)
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "mean 100.0 ms\nstddev 28.28 ms\n", r.stdout
print("ok")
