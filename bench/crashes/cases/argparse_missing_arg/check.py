import subprocess
import sys

r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 2, (r.returncode, r.stdout)
assert "the following arguments are required: --date" in r.stderr, r.stderr
r = subprocess.run([sys.executable, "main.py", "--date", "2024-05-17"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "re-computing 2024-05-17\n", r.stdout
print("ok")
