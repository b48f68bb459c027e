import socket
import subprocess
import sys
import threading

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
