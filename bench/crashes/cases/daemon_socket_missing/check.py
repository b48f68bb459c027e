import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading

def assert_unchanged():
    """When the runner gives the pristine copy (BENCH_PRISTINE), every program file is as it was."""
    pristine = os.environ.get("BENCH_PRISTINE")
    if not pristine:
        return
    skip = {".git", "storage", "__pycache__"}

    def files(root):
        root = pathlib.Path(root)
        out = {}
        for p in root.rglob("*"):
            rel = p.relative_to(root)
            if p.is_file() and not skip.intersection(rel.parts) and rel.as_posix() not in ("check.py", "case.toml"):
                out[rel.as_posix()] = p.read_bytes()
        return out

    before, after = files(pristine), files(".")
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"changed: {changed}"


assert_unchanged()
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
