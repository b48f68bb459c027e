import os
import pathlib
import subprocess
import sys

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
env = {k: v for k, v in os.environ.items() if k != "ADS_API_TOKEN"}
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60, env=env)
assert r.returncode != 0, "without ADS_API_TOKEN the job must fail: " + r.stdout
assert "ADS_API_TOKEN" in r.stderr, r.stderr
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60,
                   env={**env, "ADS_API_TOKEN": "tok-9876"})
assert r.returncode == 0, r.stderr
assert r.stdout == "pushed 123.40 with token ...9876\n", r.stdout
print("ok")
