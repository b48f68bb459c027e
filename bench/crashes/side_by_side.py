#!/usr/bin/env python3
"""Runs two heal binaries on the same cases at the same time, against the same model servers:
the fair comparison of two versions ("both run on the same machine in one run").

    python3 bench/crashes/side_by_side.py --old HEAL --new HEAL --servers URL[,URL...] --out DIR
        [--cases NAME,...] [--done RESULTS.json ...] [--timeout SECONDS]

Each case is two jobs, the old binary's and the new one's, queued one after the other; each
server (an OpenAI-compatible base URL, `.../v1`) takes the next job when it is free: a llama.cpp
server answers one request at a time, so one job per server. The two binaries stay in step:
stopped at any moment, they have run the same cases but for the jobs in flight, and the
comparison covers the cases both finished. The machine's load, which moves the model's speed,
falls on both alike.

Every job is one `run.py --keep` over one case, its results in DIR/parts/, its output in
DIR/jobs.log. A job whose part is already there (finished), or whose case a --done results file
of run.py holds for that binary, is not run again: a stopped comparison goes on where it
stopped, and a run made before can count.

At the end, or on SIGINT/SIGTERM (the jobs in flight are stopped, their heal with them), each
binary's results over the cases both finished are merged into DIR/old.json and DIR/new.json,
and compare.py's table of the two is printed (and written to DIR/compare.md).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import caselib  # noqa: E402
import compare  # noqa: E402
import merge  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", required=True, help="the heal binary compared against")
    p.add_argument("--new", required=True, help="the heal binary measured")
    p.add_argument("--servers", required=True, help="comma-separated OpenAI-compatible base URLs")
    p.add_argument("--out", required=True, help="the folder for parts, logs and the merged results")
    p.add_argument("--cases", help="comma-separated case names, in the order to run (default: all)")
    p.add_argument("--done", nargs="*", default=[], help="run.py results files already made")
    p.add_argument("--timeout", type=int, default=900, help="seconds per case (run.py --timeout)")
    return p.parse_args(argv)


def resolved(heal):
    path = Path(heal).resolve()
    if not path.is_file() or not os.access(path, os.X_OK):
        sys.exit(f"side_by_side.py: no heal binary at {heal!r}")
    return str(path)


def load(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        sys.exit(f"side_by_side.py: cannot read results {path}: {e}")


class Comparison:
    """The job queue, the jobs in flight and what is done, shared by one worker per server."""

    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        (self.out / "parts").mkdir(parents=True, exist_ok=True)
        self.heals = {"old": resolved(args.old), "new": resolved(args.new)}
        if self.heals["old"] == self.heals["new"]:
            sys.exit("side_by_side.py: --old and --new are the same binary")
        names = args.cases.split(",") if args.cases else None
        self.cases = [c["name"] for c in caselib.list_cases(names)]
        # (side, case) -> the results file holding that case's result for that binary.
        self.done = {}
        for path in [*args.done, *sorted((self.out / "parts").glob("*.json"))]:
            self.count(path)
        self.queue = [
            (side, case)
            for case in self.cases
            for side in ("old", "new")
            if (side, case) not in self.done
        ]
        self.lock = threading.Lock()
        self.running = {}
        self.stopping = False
        self.log = open(self.out / "jobs.log", "a", encoding="utf-8")

    def count(self, path):
        results = load(path)
        side = next((s for s, h in self.heals.items() if h == results.get("heal")), None)
        if side is None:
            return
        for case in results.get("cases") or []:
            self.done.setdefault((side, case["name"]), str(path))

    def next_job(self):
        with self.lock:
            if self.stopping or not self.queue:
                return None
            return self.queue.pop(0)

    def work(self, server):
        env = dict(os.environ, HEAL_PROVIDER="openai", OPENAI_BASE_URL=server)
        while (job := self.next_job()) is not None:
            side, case = job
            part = self.out / "parts" / f"{side}-{case}.json"
            cmd = [
                sys.executable, "-u", str(HERE / "run.py"), "--heal", self.heals[side],
                "--cases", case, "--label", side, "--out", str(part),
                "--timeout", str(self.args.timeout), "--keep",
            ]
            proc = subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, text=True, errors="replace",
            )
            with self.lock:
                self.running[job] = proc
            output, _ = proc.communicate()
            with self.lock:
                del self.running[job]
                self.log.write(f"== {side} {case} on {server}: exit {proc.returncode}\n{output}")
                self.log.flush()
                if proc.returncode == 0 and part.exists():
                    self.count(part)
            row = next((line for line in output.splitlines() if line.startswith(case)), None)
            print(f"{side:<4} {row or case + ': exit %s' % proc.returncode}", flush=True)

    def stop(self, *_):
        with self.lock:
            self.stopping = True
            for proc in self.running.values():
                try:
                    proc.terminate()
                except ProcessLookupError:
                    pass

    def merge(self):
        """Each binary's results over the cases both finished, and the table of the two."""
        both = [c for c in self.cases if ("old", c) in self.done and ("new", c) in self.done]
        if not both:
            print("side_by_side.py: no case was finished by both binaries")
            return 1
        results = {}
        for side in ("old", "new"):
            files = {}
            for case in both:
                files.setdefault(self.done[(side, case)], []).append(case)
            parts = []
            for path, cases in files.items():
                part = load(path)
                part["cases"] = [c for c in part["cases"] if c["name"] in cases]
                part["cases_planned"] = len(part["cases"])
                parts.append(part)
            label = f"{side} {Path(self.heals[side]).name}"
            try:
                results[side] = merge.merged(parts, label)
            except merge.MergeError as e:
                sys.exit(f"side_by_side.py: {side}: {e}")
            merge.write(results[side], self.out / f"{side}.json")
        runs = [results["old"], results["new"]]
        table = compare.report(runs, [r["label"] for r in runs], with_cases=True)
        summary = f"{len(both)} of {len(self.cases)} cases finished by both binaries"
        (self.out / "compare.md").write_text(f"{summary}\n\n{table}\n", encoding="utf-8")
        print(f"{summary}\n{table}")
        return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if not servers:
        sys.exit("side_by_side.py: --servers names no server")
    comparison = Comparison(args)
    print(f"{len(comparison.queue)} jobs to run on {len(servers)} server(s), "
          f"{len(comparison.done)} done before", flush=True)
    signal.signal(signal.SIGTERM, comparison.stop)
    signal.signal(signal.SIGINT, comparison.stop)
    workers = [threading.Thread(target=comparison.work, args=(s,)) for s in servers]
    for w in workers:
        w.start()
    # Joined with a timeout, so the main thread stays free to take a signal.
    while any(w.is_alive() for w in workers):
        for w in workers:
            w.join(timeout=1)
    return comparison.merge()


if __name__ == "__main__":
    sys.exit(main())
