import subprocess
import sys

r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode != 0, "differing totals must stop the job: " + r.stdout
assert "ask finance to review" in r.stderr, r.stderr

import main  # noqa: E402

assert main.reconcile([("a", 1.0)], [("a", 1.0)]) == 1.0
try:
    main.reconcile([("a", 1.0)], [("a", 2.0)])
except AssertionError as e:
    assert "ask finance to review" in str(e), e
else:
    raise AssertionError("differing totals must be refused")
assert main.total(main.LEDGER) == 242.75 and main.total(main.BANK) == 224.75, "the data must not be changed"
print("ok")
