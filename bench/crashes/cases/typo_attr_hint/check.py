import subprocess
import sys

import main

assert main.Invoice("A", 100.0, 0.2).total() == 120.0
assert main.Invoice("B", 10.0, 0.0).total() == 10.0
assert main.Invoice("C", 55.5, 0.055).total() == 58.55
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "F-001: 120.00\nF-002: 58.55\n", r.stdout
print("ok")
