import subprocess
import sys

import main

assert main.Basket([("A1", 2, 3.5), ("B2", 1, 12.0)]).total() == 23.9, main.Basket([("A1", 2, 3.5), ("B2", 1, 12.0)]).total()
assert main.Basket([("C3", 5, 10.0)]).total() == 50.0
assert main.Basket([]).total(shipping=1.0) == 1.0
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "total: 23.90\ntotal: 50.00\n", r.stdout
print("ok")
