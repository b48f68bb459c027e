import pathlib
import shutil
import subprocess
import sys
import tempfile

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
