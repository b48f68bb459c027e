#!/usr/bin/env python3
"""How fast heal serve's dashboard answers on a large store.

Fills a project's store with N incidents and M occurrences (spread over 60 days, 50 error
types, 200 files, every status), written straight into heal's SQLite schema (heal serve is
started once first, so the schema is heal's own, migrations included), then starts heal serve
on it and times each page and API route: R requests each, one at a time, over loopback.
Prints p50 and p99 in milliseconds and writes them as JSON.

Usage: python3 bench/dashboard/run.py --heal target/release/heal [--incidents 100000]
       [--occurrences 1000000] [--requests 200] [--out results.json]
"""

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone

STATUSES = [
    ("skipped", 30), ("rejected", 15), ("failed", 10), ("detected", 5), ("applied", 15),
    ("committed", 10), ("pushed", 10), ("regressed", 2), ("reverted", 2), ("interrupted", 1),
]
ROUTES = [
    ("overview", "/"),
    ("list", "/incidents"),
    ("list, open", "/incidents?status=open"),
    ("list, one type", "/incidents?type=KeyError"),
    ("list, one file", "/incidents?file=app/module_7.py"),
    ("list, search", "/incidents?q=budget"),
    ("list, page 50", "/incidents?page=50"),
    ("api stats", "/api/stats"),
    ("api incidents", "/api/incidents"),
    ("metrics", "/metrics"),
]


def start(heal, project):
    proc = subprocess.Popen(
        [heal, "serve", "--listen", "127.0.0.1:0"], cwd=project,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=dict(os.environ, ENABLE_AUTO_HEALING="false", HEAL_LOG="warn"),
    )
    dsn = proc.stdout.readline().decode().strip()
    if not dsn:
        sys.exit("heal serve printed no DSN")
    return proc, dsn.rsplit("@", 1)[1].rsplit("/", 1)[0]


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def fill(db, incidents, occurrences, template):
    rng = random.Random(17)
    now = datetime.now(timezone.utc)
    types = ["KeyError", "ZeroDivisionError", "TypeError", "ValueError", "AttributeError"] + [
        "app.errors.Error%d" % i for i in range(45)]
    statuses = [s for s, w in STATUSES for _ in range(w)]
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    per = max(1, occurrences // incidents)
    inc_rows, daily_rows = [], []
    for n in range(incidents):
        created = now - timedelta(seconds=rng.randrange(60 * 86400))
        seen = min(now, created + timedelta(seconds=rng.randrange(5 * 86400)))
        status = rng.choice(statuses)
        exc_type = types[min(int(rng.paretovariate(1.2)) - 1, len(types) - 1)]
        file = "app/module_%d.py" % rng.randrange(200)
        line = rng.randrange(1, 400)
        message = "%s near %s: client %d budget %d" % (exc_type, file, rng.randrange(5000), n)
        iid = "err_%s_%d" % (created.strftime("%Y%m%d_%H%M%S"), n)
        fixed_at = rfc3339(created + timedelta(seconds=rng.randrange(30, 3600))) if status in (
            "applied", "committed", "pushed") else None
        source = "" if status in ("detected", "skipped") else rng.choice(["rule", "model", "model"])
        doc = template.replace("__ID__", iid)
        inc_rows.append((iid, "fp%d" % n, status, rfc3339(created), rfc3339(seen), per, doc,
                         exc_type, file, line, message, source, fixed_at))
        days = (seen.date() - created.date()).days + 1
        left = per
        for d in range(days):
            count = left if d == days - 1 else rng.randrange(0, left + 1)
            left -= count
            if count:
                daily_rows.append((iid, (created.date() + timedelta(days=d)).isoformat(), exc_type, status, count))
        if len(inc_rows) >= 10000:
            flush(conn, inc_rows, daily_rows)
    flush(conn, inc_rows, daily_rows)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def flush(conn, inc_rows, daily_rows):
    conn.executemany(
        "INSERT INTO incidents (id, fingerprint, status, created_at, last_seen_at, occurrences, doc,"
        " exc_type, file, line, message, source, fixed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        inc_rows)
    conn.executemany(
        "INSERT OR REPLACE INTO occurrences_daily (incident, day, exc_type, status, count) VALUES (?,?,?,?,?)",
        daily_rows)
    conn.commit()
    inc_rows.clear()
    daily_rows.clear()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heal", required=True)
    ap.add_argument("--incidents", type=int, default=100_000)
    ap.add_argument("--occurrences", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--out")
    args = ap.parse_args()
    heal = os.path.abspath(args.heal)
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.join(here, "..", "..")
    fixture = open(os.path.join(root, "tests/fixtures/records/rule-proved-by-its-test.json")).read()
    template = json.dumps(dict(json.loads(fixture), id="__ID__"))
    with tempfile.TemporaryDirectory(prefix="heal-bench-dashboard-") as project:
        proc, _ = start(heal, project)
        stop(proc)
        t0 = time.monotonic()
        fill(os.path.join(project, "storage", "heal.db"), args.incidents, args.occurrences, template)
        print("store filled: %d incidents, %d occurrences in %.1f s" % (
            args.incidents, args.occurrences, time.monotonic() - t0), file=sys.stderr)
        proc, addr = start(heal, project)
        results = {}
        try:
            for name, path in ROUTES:
                times = []
                for _ in range(args.requests):
                    t = time.perf_counter()
                    with urllib.request.urlopen("http://%s%s" % (addr, path), timeout=60) as r:
                        r.read()
                        assert r.status == 200, (path, r.status)
                    times.append((time.perf_counter() - t) * 1000)
                results[name] = {"path": path, "p50_ms": round(percentile(times, 50), 1),
                                 "p99_ms": round(percentile(times, 99), 1)}
                print("%-16s %-36s p50 %7.1f ms   p99 %7.1f ms" % (
                    name, path, results[name]["p50_ms"], results[name]["p99_ms"]))
        finally:
            stop(proc)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"incidents": args.incidents, "occurrences": args.occurrences,
                       "requests": args.requests, "routes": results,
                       "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}, f, indent=1)


if __name__ == "__main__":
    main()
