import subprocess
import sys

import main

assert main.price({"order": "x", "amount": 8.0, "coupon": "Spring"}) == 7.2, main.price({"order": "x", "amount": 8.0, "coupon": "Spring"})
assert main.price({"order": "x", "amount": 8.0, "coupon": "SPRING"}) == 7.2
assert main.price({"order": "x", "amount": 2.0, "coupon": "vip"}) == 1.5
assert main.price({"order": "x", "amount": 3.0}) == 3.0
try:
    main.parse('{"order": "A4"}')
except ValueError:
    pass
else:
    raise AssertionError("a message with no amount must still be refused")
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "totals: [15.5, 7.2, 2.5]\n", r.stdout
assert r.stderr.count("skipping a bad message") == 2, r.stderr
assert r.stderr.count("Traceback") == 2, r.stderr
assert "INFO worker: cycle 3: total 2.50" in r.stderr, r.stderr
print("ok")
