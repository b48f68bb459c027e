#!/usr/bin/env python3
"""A fleet on one PostgreSQL: how fast 50 agents' errors fold, and how soon a healer claims.

Starts a throwaway PostgreSQL 15 with .ci/postgres.sh, makes a git repository with a bare
origin, and gives every host its own clone. Two phases, each with real `heal run` processes:

1. Fold. AGENTS agents (`fleet.role = "agent"`) each supervise a program that logs the same
   handled error OCCURRENCES times, as fast as it can, then exits. Every occurrence is recorded
   in the fleet's one incident. Reported: occurrences recorded per second (from the first
   agent's start to the last occurrence counted in the database), the store's write
   transactions per second (PostgreSQL's own xact_commit), and whether the count is exact.
2. Claim. HEALERS healers run (their own program just sleeps); then AGENTS agents each crash
   once on an error of their own (AGENTS incidents). The healers claim them through the
   fleet's queue (SELECT ... FOR UPDATE SKIP LOCKED). Reported: the claim latency, from the
   incident's opening to its first claim, both on the database's clock (p50, p90, max), with
   the healers' poll interval (fleet.poll_ms), which bounds it from below.

Usage: python3 bench/fleet/run.py --heal target/release/heal [--agents 50] [--occurrences 200]
       [--healers 2] [--poll-ms 100] [--out results.json]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

STORM = """import sys, traceback


def charge(account):
    return account["balance"]


for i in range({n}):
    try:
        charge({{}})
    except Exception:
        traceback.print_exc()
sys.stderr.flush()
"""

SLEEP = "import time\ntime.sleep(3600)\n"


def sh(args, cwd=None, env=None):
    return subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def psql(url, sql):
    out = subprocess.run(["psql", url, "-At", "-c", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def git_env():
    env = dict(os.environ)
    env.update(GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@localhost",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@localhost",
               GIT_CONFIG_NOSYSTEM="1")
    return env


def repo(tmp, files):
    seed = os.path.join(tmp, "seed")
    origin = os.path.join(tmp, "origin.git")
    os.makedirs(seed)
    for name, text in files.items():
        with open(os.path.join(seed, name), "w") as f:
            f.write(text)
    env = git_env()
    sh(["git", "init", "-q", "--bare", "-b", "main", origin], env=env)
    sh(["git", "init", "-q", "-b", "main"], cwd=seed, env=env)
    sh(["git", "add", "."], cwd=seed, env=env)
    sh(["git", "commit", "-q", "-m", "initial"], cwd=seed, env=env)
    sh(["git", "remote", "add", "origin", origin], cwd=seed, env=env)
    sh(["git", "push", "-q", "-u", "origin", "main"], cwd=seed, env=env)
    return origin


def clone(origin, path):
    sh(["git", "clone", "-q", origin, path], env=git_env())


def heal_env(url, host, role, poll_ms):
    env = dict(os.environ)
    env.update(
        HEAL_DATABASE_URL=url, HEAL_FLEET_ROLE=role, HEAL_HOST=host, HEAL_PROJECT="bench",
        HEAL_FLEET_POLL_MS=str(poll_ms), HEAL_PROVIDER="none", HEAL_RESTART="never",
        HEAL_LOG="warn", HEAL_RUN_SENTRY="false", HEAL_GIT_MODE="off",
    )
    for key in ("SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN"):
        env.pop(key, None)
    return env


def pct(values, p):
    values = sorted(values)
    if not values:
        return None
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def fold(heal, url, tmp, agents, occurrences, poll_ms):
    origin = repo(os.path.join(tmp, "fold"), {"app.py": STORM.format(n=occurrences),
                                            ".gitignore": "storage/\n"})
    dirs = []
    for i in range(agents):
        d = os.path.join(tmp, "fold", f"agent-{i}")
        clone(origin, d)
        dirs.append(d)
    before = int(psql(url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))
    started = time.monotonic()
    procs = [subprocess.Popen([heal, "run", "--", "python3", "app.py"], cwd=d,
                              env=heal_env(url, f"agent-{i}", "agent", poll_ms),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for i, d in enumerate(dirs)]
    want = agents * occurrences
    counted = 0
    last_change = time.monotonic()
    while True:
        got = psql(url, "SELECT COALESCE(SUM(occurrences), 0) FROM incidents WHERE project = 'bench'")
        got = int(got or 0)
        if got != counted:
            counted, last_change = got, time.monotonic()
        if counted >= want or (all(p.poll() is not None for p in procs)
                               and time.monotonic() - last_change > 5):
            break
        time.sleep(0.05)
    took = last_change - started
    for p in procs:
        p.wait()
    after = int(psql(url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))
    incidents = int(psql(url, "SELECT COUNT(*) FROM incidents WHERE project = 'bench'"))
    hosts = int(psql(url, "SELECT COUNT(*) FROM occurrences_by_host"))
    return {
        "agents": agents,
        "occurrences_sent": want,
        "occurrences_counted": counted,
        "incidents": incidents,
        "hosts_counted": hosts,
        "seconds": round(took, 2),
        "occurrences_per_second": round(counted / took, 1) if took > 0 else None,
        "transactions_per_second": round((after - before) / took, 1) if took > 0 else None,
        "exact": counted == want and incidents == 1 and hosts == agents,
    }


def claims(heal, url, tmp, agents, healers, poll_ms):
    files = {"sleep.py": SLEEP, ".gitignore": "storage/\n"}
    for i in range(agents):
        files[f"bug_{i}.py"] = f"def broken_{i}():\n    raise ValueError('agent bug')\n\n\nbroken_{i}()\n"
    origin = repo(os.path.join(tmp, "claim"), files)
    healer_procs = []
    for h in range(healers):
        d = os.path.join(tmp, "claim", f"healer-{h}")
        clone(origin, d)
        env = heal_env(url, f"healer-{h}", "healer", poll_ms)
        env["HEAL_PROJECT"] = "claims"
        healer_procs.append(subprocess.Popen([heal, "run", "--", "python3", "sleep.py"], cwd=d, env=env,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(1)
    agent_procs = []
    for i in range(agents):
        d = os.path.join(tmp, "claim", f"agent-{i}")
        clone(origin, d)
        env = heal_env(url, f"agent-{i}", "agent", poll_ms)
        env["HEAL_PROJECT"] = "claims"
        agent_procs.append(subprocess.Popen([heal, "run", "--", "python3", f"bug_{i}.py"], cwd=d, env=env,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for p in agent_procs:
        p.wait()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        waiting = int(psql(url, "SELECT COUNT(*) FROM incidents WHERE project = 'claims' AND claimed_at IS NULL"))
        total = int(psql(url, "SELECT COUNT(*) FROM incidents WHERE project = 'claims'"))
        if total >= agents and waiting == 0:
            break
        time.sleep(0.1)
    for p in healer_procs:
        p.terminate()
    for p in healer_procs:
        p.wait()
    rows = psql(url, "SELECT EXTRACT(EPOCH FROM (claimed_at - opened_at)) * 1000 FROM incidents "
                     "WHERE project = 'claims' AND claimed_at IS NOT NULL")
    latencies = [float(x) for x in rows.split()] if rows else []
    by = psql(url, "SELECT string_agg(n::text, ',') FROM (SELECT COUNT(*) AS n FROM incidents "
                   "WHERE project = 'claims' GROUP BY split_part(doc->'result'->>'reason', ' ', 1)) t")
    return {
        "agents": agents,
        "healers": healers,
        "poll_ms": poll_ms,
        "incidents": int(psql(url, "SELECT COUNT(*) FROM incidents WHERE project = 'claims'")),
        "claimed": len(latencies),
        "claim_latency_ms": {
            "p50": round(pct(latencies, 50), 1) if latencies else None,
            "p90": round(pct(latencies, 90), 1) if latencies else None,
            "max": round(max(latencies), 1) if latencies else None,
        },
        "_groups": by,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--heal", required=True)
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--occurrences", type=int, default=200)
    ap.add_argument("--healers", type=int, default=2)
    ap.add_argument("--poll-ms", type=int, default=100)
    ap.add_argument("--port", type=int, default=55471)
    ap.add_argument("--out")
    args = ap.parse_args()
    heal = os.path.abspath(args.heal)
    tmp = tempfile.mkdtemp(prefix="heal-bench-fleet-")
    # Its own folder: as root, the server runs as the postgres user, who must reach it.
    pg = tempfile.mkdtemp(prefix="heal-bench-pg-")
    url = sh(["bash", os.path.join(ROOT, ".ci", "postgres.sh"), "start", pg, str(args.port)]).strip().splitlines()[-1]
    try:
        result = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{os.cpu_count()} cores, {sh(['uname', '-sr']).strip()}",
            "postgres": psql(url, "SHOW server_version"),
            "fold": fold(heal, url, tmp, args.agents, args.occurrences, args.poll_ms),
            "claim": claims(heal, url, tmp, args.agents, args.healers, args.poll_ms),
        }
    finally:
        subprocess.run(["bash", os.path.join(ROOT, ".ci", "postgres.sh"), "stop", pg], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(pg, ignore_errors=True)
    result["claim"].pop("_groups", None)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
