import subprocess
import sys

import main

assert main.daily_changes([120, 132, 129, 150]) == [12, -3, 21], main.daily_changes([120, 132, 129, 150])
assert main.daily_changes([5]) == []
assert main.daily_changes([]) == []
assert main.daily_changes([1, 1]) == [0]
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "changes: [12, -3, 21]\n", r.stdout
print("ok")
