import subprocess
import sys

import main

assert main.latest_price([1.8, 1.9, 2.1]) == 2.1
assert main.latest_price([3.2]) == 3.2
assert main.latest_price([5, 4]) == 4
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "espresso: 2.10\nlatte: 3.20\nmocha: 3.40\n", r.stdout
print("ok")
