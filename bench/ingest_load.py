#!/usr/bin/env python3
"""Measures `heal serve` under load: how many Sentry events a second it records, and its memory.

Usage:
  python3 bench/ingest_load.py --heal PATH_TO_HEAL [--events 20000] [--fingerprints 1,50]
                               [--concurrency 8] [--processes N] [--dir FOLDER]
                               [--out r.json] [--keep]

For each fingerprint count F: a fresh temporary project folder (`git init`, nothing else) under
--dir (default: the system's temporary folder; the store's writes are synced, so the file system
matters and is reported), and `heal --root FOLDER serve --listen 127.0.0.1:0` started there in a
clean environment:

  PATH (the runner's), HOME (an empty temporary folder), LANG=C.UTF-8, HEAL_LOG=info,
  HEAL_PROVIDER=none (no model), no SLACK_WEBHOOK_URL (no alerts),
  HEAL_SERVE_EVENTS_PER_HOUR and HEAL_SERVE_EVENTS_PER_FINGERPRINT_HOUR far above --events,
  so no event is answered 429.

The DSN heal prints on stdout gives the port and the key. Before the clock starts, --events
envelopes are built and gzip-compressed (`Content-Encoding: gzip`, as sentry-python sends them):
each is tests/fixtures/sentry/crash.event.json with its own event_id, its frames moved under the
project folder (so heal locates them, as it would a real program's), and, for the i-th event,
the exception type `LoadError{i % F}` and the innermost function `handler_{i % F}`: the type and
the function are both in heal's fingerprint (src/detect/fingerprint.rs), so there are exactly F
distinct fingerprints. They are then sent over --concurrency keep-alive HTTP/1.1 connections
(`http.client`, one thread each), spread over --processes worker processes.

Measured: events accepted per second (answers 200 over the wall time from the first request to
the last answer), answers that were not 200 by status (or by exception, for a broken
connection), each request's latency, heal's peak RSS (`VmHWM` of /proc/PID/status, read after
the last answer and before heal is stopped) and its CPU time during the load, and the client's
CPU time. Then heal is stopped with SIGTERM and must exit 0, and its store
(storage/heal.db) must hold F incidents whose occurrences add up to the events accepted.

The client is Python: a worker process cannot use more than about one core (the GIL). When a
worker used 85% of a core or more, the client may have been the limit, not heal: the output says
so; run again with more --processes (each runs --concurrency / --processes connections). On a
machine with few cores the client and heal share them: heal's CPU figure says how much it had.

Prints a table; --out writes the date, the machine (cores, CPU model, kernel, load average, file
system), heal's version and the checkout's commit, the settings and every result as JSON.
Stdlib only, Linux only (/proc).
"""

import argparse
import datetime
import gzip
import http.client
import json
import multiprocessing
import os
import platform
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIXTURE = REPO / "tests" / "fixtures" / "sentry" / "crash.event.json"
KEY_FOR_ENV = "HEAL_SERVE_EVENTS_PER_HOUR"
KEY_FOR_ENV_FP = "HEAL_SERVE_EVENTS_PER_FINGERPRINT_HOUR"
TARGET_EVENTS_PER_S = 2000
TARGET_RSS_MIB = 50
CLIENT_BOUND = 0.85
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 60


# ---------------------------------------------------------------------------------------------
# The machine and heal


def read(path):
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def cpu_model():
    for line in read("/proc/cpuinfo").splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def fs_type(folder):
    """The file system type of `folder` (the longest mount point above it in /proc/mounts)."""
    folder = os.path.realpath(folder)
    best, kind = "", "unknown"
    for line in read("/proc/mounts").splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if (folder == point or folder.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
            best, kind = point, parts[2]
    return kind


def machine(folder):
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "project_fs": fs_type(folder),
    }


def heal_version(heal):
    try:
        out = subprocess.run([heal, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or out.stderr.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unknown ({e})"


def checkout_commit():
    """The commit of the checkout this script is in (heal's binary may come from another)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return head + ("+dirty" if dirty and head else "") or None
    except (OSError, subprocess.SubprocessError):
        return None


def proc_status(pid):
    """VmHWM and VmRSS of `pid`, in KiB."""
    out = {}
    for line in read(f"/proc/{pid}/status").splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            out[name] = int(value.split()[0])
    return out


def proc_cpu_s(pid):
    """User plus system CPU seconds of `pid` so far (its threads included)."""
    text = read(f"/proc/{pid}/stat")
    # The command name is in brackets and may hold spaces: count fields after it.
    fields = text[text.rfind(")") + 2 :].split()
    if len(fields) < 13:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# The envelopes


def build_bodies(n, fingerprints, root):
    """`n` gzip-compressed envelopes: distinct event ids, `fingerprints` distinct errors."""
    template = json.loads(FIXTURE.read_text())
    path = os.path.join(root, "report.py")
    for frame in template["exception"]["values"][0]["stacktrace"]["frames"]:
        frame["abs_path"] = path
    bodies = []
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for i in range(n):
        f = i % fingerprints
        event_id = uuid.uuid4().hex
        event = template
        event["event_id"] = event_id
        event["timestamp"] = now
        exc = event["exception"]["values"][0]
        exc["type"] = f"LoadError{f}"
        exc["stacktrace"]["frames"][-1]["function"] = f"handler_{f}"
        payload = json.dumps(event, separators=(",", ":")).encode()
        head = json.dumps({"event_id": event_id, "sent_at": now}).encode()
        item = json.dumps({"type": "event", "content_type": "application/json", "length": len(payload)}).encode()
        raw = head + b"\n" + item + b"\n" + payload + b"\n"
        bodies.append(gzip.compress(raw, compresslevel=6))
    return bodies


# ---------------------------------------------------------------------------------------------
# The client


def connection_loop(host, port, headers, bodies, shared, out, lock):
    """Sends bodies taken from the shared iterator over one keep-alive connection."""
    statuses = {}
    latencies = []
    conn = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_S)
    while True:
        try:
            i = next(shared)
        except StopIteration:
            break
        body = bodies[i]
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/api/1/envelope/", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = str(resp.status)
            if resp.will_close:
                conn.close()
        except (OSError, http.client.HTTPException) as e:
            status = type(e).__name__
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_S)
        latencies.append(time.perf_counter() - t0)
        statuses[status] = statuses.get(status, 0) + 1
    conn.close()
    with lock:
        for k, v in statuses.items():
            out["statuses"][k] = out["statuses"].get(k, 0) + v
        out["latencies"].extend(latencies)


def worker(host, port, key, bodies, indices, threads, go, results):
    """One client process: `threads` connections sending the bodies at `indices`."""
    headers = {
        "Content-Type": "application/x-sentry-envelope",
        "Content-Encoding": "gzip",
        "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=heal-bench/1",
        "User-Agent": "heal-bench/1",
    }
    shared = iter(indices)
    out = {"statuses": {}, "latencies": []}
    lock = threading.Lock()
    pool = [
        threading.Thread(target=connection_loop, args=(host, port, headers, bodies, shared, out, lock))
        for _ in range(threads)
    ]
    go.wait()
    cpu0 = time.process_time()
    start = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    end = time.monotonic()
    out["start"] = start
    out["end"] = end
    out["cpu_s"] = time.process_time() - cpu0
    results.put(out)


def send_all(host, port, key, bodies, concurrency, processes):
    """Sends every body; returns the statuses, latencies, wall time and each worker's CPU use."""
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    results = ctx.Queue()
    n = len(bodies)
    procs = []
    for p in range(processes):
        threads = concurrency // processes + (1 if p < concurrency % processes else 0)
        indices = range(p * n // processes, (p + 1) * n // processes)
        proc = ctx.Process(target=worker, args=(host, port, key, bodies, indices, threads, go, results))
        proc.start()
        procs.append(proc)
    go.set()
    outs = [results.get() for _ in procs]
    for proc in procs:
        proc.join()
    statuses = {}
    latencies = []
    for o in outs:
        for k, v in o["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
        latencies.extend(o["latencies"])
    wall = max(o["end"] for o in outs) - min(o["start"] for o in outs)
    client_cpu = [o["cpu_s"] / max(o["end"] - o["start"], 1e-9) for o in outs]
    return statuses, latencies, wall, client_cpu


# ---------------------------------------------------------------------------------------------
# heal serve


def git_init(folder):
    subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "init", "-q", str(folder)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_heal(heal, project, home, events, log):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "HEAL_LOG": "info",
        "HEAL_PROVIDER": "none",
        KEY_FOR_ENV: str(events * 10 + 1000),
        KEY_FOR_ENV_FP: str(events * 10 + 1000),
    }
    proc = subprocess.Popen(
        [heal, "--root", str(project), "serve", "--listen", "127.0.0.1:0"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"heal serve printed no DSN within {START_TIMEOUT_S} s (exit {proc.returncode}); its log: {log.name}")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 1)
            if not chunk:
                continue
            line += chunk
    dsn = line.decode().strip()
    # http://KEY@HOST:PORT/1
    rest = dsn.split("://", 1)[1]
    key, hostport = rest.split("@", 1)
    hostport = hostport.rsplit("/", 1)[0]
    host, port = hostport.rsplit(":", 1)
    return proc, dsn, key, host, int(port)


def stop_heal(proc):
    proc.send_signal(signal.SIGTERM)
    start = time.monotonic()
    try:
        code = proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = "killed (no exit within %d s of SIGTERM)" % STOP_TIMEOUT_S
    return code, time.monotonic() - start


def store_counts(project):
    """Incidents and their occurrences in the store, read after heal stopped."""
    db = Path(project) / "storage" / "heal.db"
    if not db.exists():
        return None, None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        incidents, occurrences = conn.execute("SELECT COUNT(*), COALESCE(SUM(occurrences), 0) FROM incidents").fetchone()
    finally:
        conn.close()
    return incidents, occurrences


# ---------------------------------------------------------------------------------------------


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def one_run(args, fingerprints, base):
    project = Path(tempfile.mkdtemp(prefix=f"heal-ingest-f{fingerprints}-", dir=base))
    home = Path(tempfile.mkdtemp(prefix="heal-ingest-home-", dir=base))
    git_init(project)
    t0 = time.monotonic()
    bodies = build_bodies(args.events, fingerprints, str(project))
    build_s = time.monotonic() - t0
    sizes = sorted(len(b) for b in bodies)
    log_path = project.parent / (project.name + ".heal.log")
    with open(log_path, "wb") as log:
        proc, dsn, key, host, port = start_heal(args.heal, project, home, args.events, log)
        try:
            cpu_before = proc_cpu_s(proc.pid)
            statuses, latencies, wall, client_cpu = send_all(host, port, key, bodies, args.concurrency, args.processes)
            cpu_after = proc_cpu_s(proc.pid)
            mem = proc_status(proc.pid)
        finally:
            code, stop_s = stop_heal(proc)
    incidents, occurrences = store_counts(project)
    log_text = read(log_path)
    warnings = [l for l in log_text.splitlines() if l.startswith(("heal: warning:", "heal: error:"))]
    accepted = statuses.get("200", 0)
    latencies.sort()
    heal_cpu = (cpu_after - cpu_before) if cpu_before is not None and cpu_after is not None else None
    result = {
        "fingerprints": fingerprints,
        "events": args.events,
        "gzip_body_bytes": {"min": sizes[0], "median": sizes[len(sizes) // 2], "max": sizes[-1]},
        "build_s": round(build_s, 3),
        "accepted": accepted,
        "not_200": {k: v for k, v in sorted(statuses.items()) if k != "200"},
        "wall_s": round(wall, 3),
        "events_per_s": round(accepted / wall, 1) if wall > 0 else None,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50) * 1000, 2),
            "p90": round(percentile(latencies, 0.90) * 1000, 2),
            "p99": round(percentile(latencies, 0.99) * 1000, 2),
            "max": round(latencies[-1] * 1000, 2),
        }
        if latencies
        else None,
        "heal_peak_rss_kib": mem.get("VmHWM"),
        "heal_rss_at_end_kib": mem.get("VmRSS"),
        "heal_cpu_s": round(heal_cpu, 2) if heal_cpu is not None else None,
        "heal_cpu_cores": round(heal_cpu / wall, 2) if heal_cpu is not None and wall > 0 else None,
        "client_cpu_cores_per_process": [round(c, 2) for c in client_cpu],
        "client_bound": any(c >= CLIENT_BOUND for c in client_cpu),
        "exit_code": code,
        "stop_s": round(stop_s, 2),
        "store_incidents": incidents,
        "store_occurrences": occurrences,
        "store_ok": incidents == fingerprints and occurrences == accepted,
        "heal_log_warnings": warnings[:20],
        "heal_log": str(log_path) if args.keep else None,
        "project": str(project) if args.keep else None,
        "dsn": dsn.replace(key, "KEY"),
    }
    if not args.keep:
        shutil.rmtree(project, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
        try:
            log_path.unlink()
        except OSError:
            pass
    return result


def mib(kib):
    return f"{kib / 1024:.1f}" if kib is not None else "?"


def table(results):
    head = ["F", "events", "200", "not 200", "wall s", "events/s", "p50 ms", "p99 ms", "peak RSS MiB", "heal CPU", "client CPU", "exit", "store"]
    rows = []
    for r in results:
        rows.append(
            [
                str(r["fingerprints"]),
                str(r["events"]),
                str(r["accepted"]),
                ", ".join(f"{k}: {v}" for k, v in r["not_200"].items()) or "0",
                f"{r['wall_s']:.2f}",
                f"{r['events_per_s']:.0f}" if r["events_per_s"] is not None else "?",
                f"{r['latency_ms']['p50']:.1f}" if r["latency_ms"] else "?",
                f"{r['latency_ms']['p99']:.1f}" if r["latency_ms"] else "?",
                mib(r["heal_peak_rss_kib"]),
                f"{r['heal_cpu_cores']:.2f}" if r["heal_cpu_cores"] is not None else "?",
                "/".join(f"{c:.2f}" for c in r["client_cpu_cores_per_process"]),
                str(r["exit_code"]),
                "ok" if r["store_ok"] else f"{r['store_incidents']} inc / {r['store_occurrences']} occ",
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    out = [line(head), line(["-" * w for w in widths])]
    out += [line(row) for row in rows]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heal", required=True, help="the heal binary (a release build: target/release/heal)")
    ap.add_argument("--events", type=int, default=20000, help="events sent per run (default 20000)")
    ap.add_argument("--fingerprints", default="1,50", help="comma-separated distinct-error counts, one run each (default 1,50)")
    ap.add_argument("--concurrency", type=int, default=8, help="keep-alive connections, one thread each (default 8)")
    ap.add_argument("--processes", type=int, default=2, help="client processes the connections are spread over (default 2)")
    ap.add_argument("--dir", default=None, help="where the temporary project folders go (default: the system's temporary folder)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--keep", action="store_true", help="keep the project folders and heal's logs")
    args = ap.parse_args()

    heal = shutil.which(args.heal) or args.heal
    if not os.access(heal, os.X_OK):
        sys.exit(f"ingest_load: {args.heal} is not an executable heal")
    args.heal = os.path.abspath(heal)
    fps = [int(x) for x in args.fingerprints.split(",") if x.strip()]
    if args.events < 1 or args.concurrency < 1 or args.processes < 1 or not fps or min(fps) < 1:
        sys.exit("ingest_load: --events, --concurrency, --processes and every fingerprint count must be at least 1")
    if any(f > args.events for f in fps):
        sys.exit("ingest_load: a fingerprint count above --events cannot be reached")
    args.processes = min(args.processes, args.concurrency)
    if not FIXTURE.exists():
        sys.exit(f"ingest_load: {FIXTURE} is missing: run from a checkout of heal")
    base = args.dir or tempfile.gettempdir()
    os.makedirs(base, exist_ok=True)

    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(base),
        "heal": {"binary": args.heal, "version": heal_version(args.heal), "checkout_commit": checkout_commit()},
        "settings": {
            "events": args.events,
            "fingerprints": fps,
            "concurrency": args.concurrency,
            "processes": args.processes,
            "content_encoding": "gzip",
        },
        "targets": {"events_per_s": TARGET_EVENTS_PER_S, "peak_rss_mib": TARGET_RSS_MIB},
        "results": [],
    }
    m = report["machine"]
    print(
        f"{report['heal']['version']} ({report['heal']['checkout_commit'] or 'commit unknown'}); "
        f"{m['nproc']} cores, {m['cpu_model']}, Linux {m['kernel']}, load {m['loadavg_at_start'][0]:.2f}, "
        f"projects on {m['project_fs']}",
        flush=True,
    )
    print(
        f"{args.events} gzip envelopes per run over {args.concurrency} keep-alive connections in "
        f"{args.processes} client process(es)",
        flush=True,
    )
    for f in fps:
        print(f"F={f}: building the envelopes, starting heal serve, sending...", flush=True)
        report["results"].append(one_run(args, f, base))
    report["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]

    print()
    print(table(report["results"]))
    print()
    print("heal CPU: cores heal used during the load (CPU seconds / wall); client CPU: the same per client process.")
    notes = []
    for r in report["results"]:
        tag = f"F={r['fingerprints']}"
        rate, rss = r["events_per_s"] or 0, (r["heal_peak_rss_kib"] or 0) / 1024
        notes.append(
            f"{tag}: {rate:.0f} events/s ({'meets' if rate >= TARGET_EVENTS_PER_S else 'below'} the target of "
            f"{TARGET_EVENTS_PER_S}), peak RSS {rss:.1f} MiB ({'meets' if rss <= TARGET_RSS_MIB else 'above'} the "
            f"target of {TARGET_RSS_MIB} MiB)"
        )
        if r["client_bound"]:
            notes.append(
                f"{tag}: a client process used {max(r['client_cpu_cores_per_process']):.2f} of a core: the Python "
                f"client may have been the limit, not heal; run again with more --processes "
                f"(now {args.processes}; at most --concurrency, on a machine with cores to spare)"
            )
        if r["exit_code"] != 0:
            notes.append(f"{tag}: heal serve exited {r['exit_code']} after SIGTERM, not 0")
        if not r["store_ok"]:
            notes.append(
                f"{tag}: the store holds {r['store_incidents']} incidents and {r['store_occurrences']} occurrences; "
                f"expected {r['fingerprints']} and {r['accepted']}"
            )
        if r["not_200"]:
            notes.append(f"{tag}: answers other than 200: {r['not_200']}")
        for w in r["heal_log_warnings"][:3]:
            notes.append(f"{tag}: heal's log: {w}")
    for n in notes:
        print(n)
    if m["project_fs"] in ("tmpfs", "ramfs"):
        print(f"note: the projects were on {m['project_fs']}, where a sync costs nothing: use --dir on a disk for real figures")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")
    bad = any(r["exit_code"] != 0 or not r["store_ok"] for r in report["results"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
