import os
import socket
import subprocess
import sys
import tempfile
import threading

r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode != 0, "payouts must stop without the audit daemon: " + r.stdout
assert "paid:" not in r.stdout, r.stdout
assert "FileNotFoundError" in r.stderr or "ConnectionRefusedError" in r.stderr, r.stderr

import main  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "audit.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    received = []

    def accept():
        conn, _ = server.accept()
        with conn:
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
            received.append(data)

    t = threading.Thread(target=accept)
    t.start()
    assert main.record("x 1", path=path) == 4
    t.join(10)
    server.close()
    assert received == [b"x 1\n"], received
print("ok")
