import json
import os
import pathlib
import subprocess
import sys
import tempfile
from datetime import date

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
assert json.loads(pathlib.Path("input.json").read_text())["date"] == "2024-13-45", "the input must not be changed"
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode != 0, "an invalid date must be refused: " + r.stdout
assert "invalid input" in r.stderr, r.stderr

import main  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    good = pathlib.Path(tmp, "good.json")
    good.write_text('{"client": "x", "date": "2024-05-17"}')
    assert main.load_request(good) == {"client": "x", "date": date(2024, 5, 17)}
    bad = pathlib.Path(tmp, "bad.json")
    bad.write_text('{"client": "x", "date": "2024-02-30"}')
    try:
        main.load_request(bad)
    except SystemExit as e:
        assert "invalid input" in str(e.code), e.code
    else:
        raise AssertionError("an impossible date must be refused")
print("ok")
