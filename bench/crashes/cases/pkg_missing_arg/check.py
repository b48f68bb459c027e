import subprocess
import sys

from notify.messages import shipped_message

assert shipped_message({"name": "Ana"}, "A-1042") == "Hi Ana, your order A-1042 has shipped.", shipped_message({"name": "Ana"}, "A-1042")
assert shipped_message({"name": "Zoé"}, "Z-1") == "Hi Zoé, your order Z-1 has shipped."
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == "Hi Ana, your order A-1042 has shipped.\nHi Ben, your order B-7 has shipped.\n", r.stdout
print("ok")
