import subprocess
import sys

import main

assert main.split("100.00", 3) == ["33.34", "33.33", "33.33"], main.split("100.00", 3)
assert main.split("10.00", 4) == ["2.50", "2.50", "2.50", "2.50"]
assert main.split("0.05", 2) == ["0.03", "0.02"]
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "33.34 / 33.33 / 33.33\n2.50 / 2.50 / 2.50 / 2.50\n", r.stdout
print("ok")
