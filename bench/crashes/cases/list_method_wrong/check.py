import subprocess
import sys

import main

assert main.retry_queue(main.FAILED) == ["hook-2", "hook-3"], main.retry_queue(main.FAILED)
assert main.retry_queue([("a", 0), ("b", 1)], max_attempts=1) == ["a"]
assert main.retry_queue([]) == []
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "retrying: ['hook-2', 'hook-3']\n", r.stdout
print("ok")
