import os
import pathlib
import socket
import subprocess
import sys
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
assert r.returncode != 0, "with no collector the program must fail: " + r.stdout
assert "ConnectionRefusedError" in r.stderr, r.stderr

import main  # noqa: E402

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(1)
received = []


def accept():
    conn, _ = server.accept()
    with conn:
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
        received.append(data.decode())


t = threading.Thread(target=accept)
t.start()
assert main.send(["a 1", "b 2"], address=server.getsockname()) == 2
t.join(10)
server.close()
assert received == ["a 1\nb 2\n"], received
print("ok")
