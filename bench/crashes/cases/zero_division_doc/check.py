import subprocess
import sys

import main

assert main.cost_per_conversion({"id": "a", "spend": 80.0, "conversions": 4}) == 20.0
assert main.cost_per_conversion({"id": "b", "spend": 65.0, "conversions": 0}) == 65.0, main.cost_per_conversion({"id": "b", "spend": 65.0, "conversions": 0})
assert main.cost_per_conversion({"id": "c", "spend": 9.0, "conversions": 1}) == 9.0
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "c1 20.00\nc2 65.00\nc3 4.00\n", r.stdout
print("ok")
