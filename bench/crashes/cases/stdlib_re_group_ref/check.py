import subprocess
import sys

import main

assert main.mask("card=4111111111111111 x") == "card=************1111 x", main.mask("card=4111111111111111 x")
assert main.mask("no card here") == "no card here"
assert main.mask("a 1234567890123456 b 9999888877776666") == "a ************3456 b ************6666"
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "payment ok card=************1111 amount=12.50\nrefund card=************0004\n", r.stdout
print("ok")
