import subprocess
import sys

import main

assert main.top(main.SCORES) == [("dan", 61), ("ben", 57), ("eve", 50)], main.top(main.SCORES)
assert main.top({"a": 1}, 3) == [("a", 1)]
assert main.top({"a": 1, "b": 2}, 1) == [("b", 2)]
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "1. dan 61\n2. ben 57\n3. eve 50\n", r.stdout
print("ok")
