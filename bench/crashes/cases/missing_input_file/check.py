import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

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
assert not pathlib.Path("data/orders.csv").exists(), "the input file must not be invented"
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode != 0, "with no input file the job must fail: " + r.stdout
assert "FileNotFoundError" in r.stderr, r.stderr
with tempfile.TemporaryDirectory() as tmp:
    copy = pathlib.Path(tmp, "case")
    shutil.copytree(".", copy, ignore=shutil.ignore_patterns(".git", "storage", "__pycache__"))
    (copy / "data").mkdir(exist_ok=True)
    (copy / "data" / "orders.csv").write_text("order,amount\nA1,10.50\nA2,4.25\n")
    r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60, cwd=copy)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "revenue: 14.75\n", r.stdout
print("ok")
