import subprocess
import sys

import main

assert main.headline("avego") == "AVEGO DAILY REPORT", main.headline("avego")
assert main.headline(" northwind ") == "NORTHWIND DAILY REPORT"
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "AVEGO DAILY REPORT\nNORTHWIND DAILY REPORT\n", r.stdout
print("ok")
