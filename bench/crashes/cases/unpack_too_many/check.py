import subprocess
import sys

import main

assert main.totals_by_currency(main.LINES) == {"EUR": 20.0, "USD": 3.0}, main.totals_by_currency(main.LINES)
assert main.totals_by_currency(["x,1.25,GBP"]) == {"GBP": 1.25}
assert main.totals_by_currency([]) == {}
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "EUR: 20.00\nUSD: 3.00\n", r.stdout
print("ok")
