import subprocess
import sys

import main

resp = {"data": {"orders": [{"id": "x", "customer": {"name": "Zoé", "address": {"street": "1 Main St", "postal_code": "12345", "city": "Springfield"}}}]}}
assert main.labels(resp) == ["Zoé, 1 Main St, 12345 Springfield"], main.labels(resp)
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "Ana, 3 rue Neuve, 69001 Lyon\nBen, 9 Rua Nova, 4000-001 Porto\n", r.stdout
print("ok")
