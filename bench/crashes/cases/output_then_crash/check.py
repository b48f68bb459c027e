import subprocess
import sys

import main

assert main.top_regions({"a": 1.0, "b": 3.0}) == [("b", 3.0), ("a", 1.0)], main.top_regions({"a": 1.0, "b": 3.0})
assert main.top_regions({"a": 1.0, "b": 3.0, "c": 2.0, "d": 0.5}) == [("b", 3.0), ("c", 2.0), ("a", 1.0)]
assert main.top_regions({"a": 1.0, "b": 3.0}, n=1) == [("b", 3.0)]
assert main.top_regions({}) == []
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == (
    "SALES BY REGION\n"
    "  north       150.00\n"
    "  south       175.00\n"
    "  total       325.00\n"
    "TOP REGIONS\n"
    "  1. south\n"
    "  2. north\n"
), r.stdout
print("ok")
