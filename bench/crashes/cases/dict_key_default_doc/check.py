import subprocess
import sys

import main

assert main.retry_policy({"backoff_s": 0.5}) == {"retries": 3, "backoff_s": 0.5}, main.retry_policy({"backoff_s": 0.5})
assert main.retry_policy({}) == {"retries": 3, "backoff_s": 1.5}
assert main.retry_policy({"retries": 5}) == {"retries": 5, "backoff_s": 1.5}
assert main.retry_policy({"retries": 0}) == {"retries": 0, "backoff_s": 1.5}
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == (
    "sync: 5 retries, 2.0 s apart\nreport: 3 retries, 0.5 s apart\ncleanup: 3 retries, 1.5 s apart\n"
), r.stdout
print("ok")
