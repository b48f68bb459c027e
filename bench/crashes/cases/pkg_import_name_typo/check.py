import subprocess
import sys

from reports.summary import monthly_summary

assert monthly_summary("avego", 12500.0, 10000.0) == "avego: 12,500.00 EUR (125.0% of target)", monthly_summary("avego", 12500.0, 10000.0)
assert monthly_summary("x", 1.0, 4.0) == "x: 1.00 EUR (25.0% of target)"
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "avego: 12,500.00 EUR (125.0% of target)\nnorthwind: 800.00 EUR (80.0% of target)\n", r.stdout
print("ok")
