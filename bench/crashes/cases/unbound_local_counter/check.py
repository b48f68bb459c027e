import subprocess
import sys

import main

assert main.processed == 0
assert main.handle({"type": "click"}) == "click"
assert main.handle({"type": "view"}) == "view"
assert main.processed == 2, main.processed
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "handled ['click', 'view', 'click']; processed=3\n", r.stdout
print("ok")
