import subprocess
import sys

import main

assert main.summary({"name": "northwind", "balance": 99, "currency": "USD"}) == "northwind: 99.00 USD"
assert main.summary({"name": "avego", "balance": 1234.5, "currency": "EUR"}) == "avego: 1,234.50 EUR"
assert main.summary({"name": "k", "balance": 0, "currency": "JPY"}) == "k: 0.00 JPY"
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "avego: 1,234.50 EUR\nnorthwind: 99.00 USD\n", r.stdout
print("ok")
