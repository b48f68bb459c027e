import subprocess
import sys

import main

assert main.page_count(list(range(23)), 10) == 3
assert main.page_count(list(range(20)), 10) == 2
assert main.page_count([], 10) == 0
assert main.page_count(["a"], 10) == 1
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "23 products, 3 pages\n", r.stdout
print("ok")
