import subprocess
import sys

import main

assert main.over_budget(main.CAMPAIGNS) == ["c2", "c3"], main.over_budget(main.CAMPAIGNS)
assert main.over_budget([{"id": "x", "budget": 1.0, "spend": 1.0}]) == []
assert main.over_budget([{"id": "y", "budget": 0.0, "spend": 0.01}]) == ["y"]
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "over budget: c2, c3\n", r.stdout
print("ok")
