import json
import pathlib
import subprocess
import sys
import tempfile
from datetime import date

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
