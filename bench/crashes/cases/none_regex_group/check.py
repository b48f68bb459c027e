import subprocess
import sys

import main

assert main.order_id("order A-1042 shipped from Lyon") == "A-1042", main.order_id("order A-1042 shipped from Lyon")
assert main.order_id("order B-7 shipped from Porto") == "B-7"
assert main.order_id("late: order Z-99 shipped") == "Z-99"
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "shipped: A-1042\nshipped: B-7\n", r.stdout
print("ok")
