import subprocess
import sys

import main

sessions = {"s1": 950, "s2": 100, "s3": 699, "s4": 700}
assert main.expire(sessions) == ["s2", "s3"], sessions
assert sessions == {"s1": 950, "s4": 700}, sessions
empty = {}
assert main.expire(empty) == [] and empty == {}
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "expired: ['s2', 's3']\nactive: ['s1', 's4']\n", r.stdout
print("ok")
