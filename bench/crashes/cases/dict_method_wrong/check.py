import subprocess
import sys

import main

assert main.low_stock(main.STOCK) == ["cups (0)", "espresso beans (4)"], main.low_stock(main.STOCK)
assert main.low_stock({"a": 10}, threshold=11) == ["a (10)"]
assert main.low_stock({}) == []
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "reorder: cups (0); espresso beans (4)\n", r.stdout
print("ok")
