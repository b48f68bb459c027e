import subprocess
import sys

from billing.invoice import invoice_total
from billing.models import customer

assert invoice_total(customer("a", "FR", 0.2), 100.0) == 120.0, invoice_total(customer("a", "FR", 0.2), 100.0)
assert invoice_total(customer("b", "DE", 0.19), 1000.0) == 1190.0
assert invoice_total(customer("c", "HK", 0.0), 50.0) == 50.0
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "avego (FR): 1200.00\nnorthwind (DE): 1190.00\n", r.stdout
print("ok")
