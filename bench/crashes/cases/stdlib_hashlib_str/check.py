import hashlib
import subprocess
import sys

import main

for name in ["user:42", "price:café", ""]:
    want = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    assert main.cache_key(name) == want, (name, main.cache_key(name))
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60,
                   env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"})
assert r.returncode == 0, r.stderr
assert r.stdout.splitlines()[0] == "user:42 " + hashlib.sha256(b"user:42").hexdigest()[:16], r.stdout
print("ok")
