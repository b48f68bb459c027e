import subprocess
import sys

import main

assert main.greeting(main.CUSTOMERS, "Ana@Example.com") == "Hello Ana"
assert main.greeting(main.CUSTOMERS, "BEN@EXAMPLE.ORG") == "Hello Ben"
assert main.find_customer(main.CUSTOMERS, "ana@example.com").name == "Ana"
assert main.find_customer(main.CUSTOMERS, "nobody@example.com") is None
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "Hello Ana\nHello Ben\n", r.stdout
print("ok")
