import subprocess
import sys

import main

assert main.price_lines(main.CATALOGUE) == ["A1: 3.50", "B2: 12.00", "C3: 0.50"], main.price_lines(main.CATALOGUE)
assert main.price_lines("sku,price\nZ,7\n") == ["Z: 7.00"]
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "A1: 3.50\nB2: 12.00\nC3: 0.50\n", r.stdout
print("ok")
