import subprocess
import sys

import main

assert main.revenue(main.ORDERS) == 100.25, main.revenue(main.ORDERS)
assert main.revenue([]) == 0.0
assert main.revenue([{"id": 9, "amount": 2.5}]) == 2.5
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "orders: 3\nrevenue: 100.25 EUR\n", r.stdout
print("ok")
