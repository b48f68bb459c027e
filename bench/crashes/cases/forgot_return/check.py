import subprocess
import sys

import main

assert main.parse_line("A1;2;3.50") == {"sku": "A1", "qty": 2, "price": 3.5}, main.parse_line("A1;2;3.50")
assert main.order_total(main.ORDER_LINES) == 20.0
assert main.order_total([]) == 0
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "order total: 20.00\n", r.stdout
print("ok")
