import os
import subprocess
import sys

env = {k: v for k, v in os.environ.items() if k != "ADS_API_TOKEN"}
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60, env=env)
assert r.returncode != 0, "without ADS_API_TOKEN the job must fail: " + r.stdout
assert "ADS_API_TOKEN" in r.stderr, r.stderr
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60,
                   env={**env, "ADS_API_TOKEN": "tok-9876"})
assert r.returncode == 0, r.stderr
assert r.stdout == "pushed 123.40 with token ...9876\n", r.stdout
print("ok")
