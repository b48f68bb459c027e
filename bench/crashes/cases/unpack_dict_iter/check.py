import subprocess
import sys

import main

assert main.stock_value(main.STOCK, main.UNIT_COST) == 9.2, main.stock_value(main.STOCK, main.UNIT_COST)
assert main.stock_value({"ab": 2}, {"ab": 1.5}) == 3.0
assert main.stock_value({}, {}) == 0
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "stock value: 9.20\n", r.stdout
print("ok")
