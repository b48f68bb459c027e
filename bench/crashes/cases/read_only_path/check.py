import pathlib
import subprocess
import sys
import tempfile

r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode != 0, "writing to a read-only path must fail: " + r.stdout
assert "PermissionError" in r.stderr or "Read-only file system" in r.stderr, r.stderr

import main  # noqa: E402

assert main.EXPORT_PATH == "/sys/daily_export.csv", main.EXPORT_PATH
with tempfile.TemporaryDirectory() as tmp:
    out = pathlib.Path(tmp, "export.csv")
    assert main.write_export([("a", 1.5)], path=out) == 1
    assert out.read_text() == "a,1.50\n"
print("ok")
