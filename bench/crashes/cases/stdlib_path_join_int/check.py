import subprocess
import sys

import main

assert main.export_path(2024, 5) == "exports/2024/05.csv", main.export_path(2024, 5)
assert main.export_path(1999, 12) == "exports/1999/12.csv"
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "exports/2024/05.csv\nexports/2024/12.csv\n", r.stdout
print("ok")
