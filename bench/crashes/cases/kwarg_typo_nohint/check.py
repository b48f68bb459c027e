import subprocess
import sys

import main

assert main.disk_alert("db-1", 95) == {"channel": "#ops", "text": "[WARNING] db-1: disk 95% used"}, main.disk_alert("db-1", 95)
assert main.disk_alert("x", 10) == {"channel": "#ops", "text": "[INFO] x: disk 10% used"}
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "[WARNING] db-1: disk 95% used\n[INFO] web-2: disk 40% used\n", r.stdout
print("ok")
