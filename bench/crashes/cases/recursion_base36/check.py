import subprocess
import sys

import main

for n, want in [(0, "0"), (7, "7"), (35, "Z"), (36, "10"), (123456, "2N9C"), (36**4, "10000")]:
    got = main.to_base36(n)
    assert got == want, (n, got, want)
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "7 7\n36 10\n123456 2N9C\n", r.stdout
print("ok")
