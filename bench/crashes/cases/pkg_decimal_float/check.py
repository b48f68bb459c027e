import subprocess
import sys
from decimal import Decimal

from pricing.tax import with_vat

assert with_vat(Decimal("19.99")) == Decimal("23.99"), with_vat(Decimal("19.99"))
assert isinstance(with_vat(Decimal("1.00")), Decimal)
assert str(with_vat(Decimal("5.05"))) == "6.06"
assert str(with_vat(Decimal("0.10"))) == "0.12"
assert str(with_vat(Decimal("0.125"))) == "0.15"
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "A1: 23.99\nB2: 6.06\nC3: 0.12\n", r.stdout
print("ok")
