import subprocess
import sys

import main

assert main.eligible(main.SIGNUPS) == ["ana", "dan"], main.eligible(main.SIGNUPS)
assert main.eligible([{"name": "x", "age": "9"}], min_age=10) == []
assert main.eligible([{"name": "y", "age": "100"}]) == ["y"]
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "eligible: ana, dan\n", r.stdout
print("ok")
