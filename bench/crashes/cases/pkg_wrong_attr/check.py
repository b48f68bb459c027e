import subprocess
import sys

from store.products import Products

p = Products()
assert [p.name(s) for s in ["A1", "B2", "A1"]] == ["espresso", "latte", "espresso"]
assert p.loads == 2, p.loads
assert p.cache.hits == 1, p.cache.hits
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "espresso, latte, espresso, espresso, mocha\nloads: 3, cache hits: 2\n", r.stdout
print("ok")
