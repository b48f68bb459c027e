import subprocess
import sys

import main

items = list(range(10))
assert main.page(items, "page=2&size=3") == [3, 4, 5], main.page(items, "page=2&size=3")
assert main.page(items, "page=1&size=4") == [0, 1, 2, 3]
assert main.page(items, "page=4&size=3") == [9]
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "['sku-4', 'sku-5', 'sku-6']\n['sku-10']\n", r.stdout
print("ok")
