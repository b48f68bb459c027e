import subprocess
import sys

import main

assert main.breadcrumb("trail") == "root > shoes > running > trail", main.breadcrumb("trail")
assert main.breadcrumb("root") == "root"
assert main.breadcrumb("bags") == "root > bags"
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "root > shoes > running > trail\nroot > bags\n", r.stdout
print("ok")
