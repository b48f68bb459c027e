import subprocess
import sys

import main

assert main.handle('{"id": 1, "payload": {"order": "A-1", "amount": 12.5}}') == ("A-1", 12.5)
assert main.handle('{"id": 3, "payload": {"order": "Z", "amount": 0}}') == ("Z", 0)
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "A-1: 12.50\nA-2: 7.00\n", r.stdout
print("ok")
