import subprocess
import sys

import main

totals = main.units_per_warehouse(main.EXPORT)
assert totals == {"lyon": 8, "porto": 12}, totals
assert all(type(v) is int for v in totals.values()), totals
assert main.units_per_warehouse("warehouse,units\nx,7\n") == {"x": 7}
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "lyon: 8 units\nporto: 12 units\n", r.stdout
print("ok")
