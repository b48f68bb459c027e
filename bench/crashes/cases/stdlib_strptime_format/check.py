import subprocess
import sys
from datetime import date

import main

assert main.parse_day("2024-05-17") == date(2024, 5, 17)
assert main.parse_day("2024-01-02") == date(2024, 1, 2)
assert main.days_left("2024-06-02") == 32
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "F-001: due in 16 days\nF-002: due in 32 days\n", r.stdout
print("ok")
