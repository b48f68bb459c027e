import json
import subprocess
import sys
from datetime import datetime, timezone

import main

event = {"user": "x", "action": "a", "at": datetime(2024, 5, 17, 10, 0, tzinfo=timezone.utc)}
out = main.to_json(event)
assert json.loads(out) == {"user": "x", "action": "a", "at": "2024-05-17T10:00:00+00:00"}, out
assert event["at"] == datetime(2024, 5, 17, 10, 0, tzinfo=timezone.utc), "the event was modified"
r = subprocess.run([sys.executable, "main.py"], capture_output=True, text=True, timeout=60)
assert r.returncode == 0, r.stderr
assert r.stdout == (
    '{"action": "login", "at": "2024-05-17T10:00:00+00:00", "user": "ana"}\n'
    '{"action": "export", "at": "2024-05-17T10:05:30+00:00", "user": "ben"}\n'
), r.stdout
print("ok")
