#!/usr/bin/env python3
"""Runs heal on every crash case of bench/crashes/cases/ and says how each ended.

Usage:
  python3 bench/crashes/run.py --heal PATH_TO_HEAL [--cases NAME,NAME] [--label LABEL]
                               [--out results.json] [--timeout SECONDS] [--keep]
                               [-- KEY=VALUE ...]

For each case: the program (main.py and its modules; never check.py, case.toml, .reference/ or
.silenced/) is copied to a fresh temporary folder, made a git repository with one commit, and
kept as a pristine copy beside it; then `heal run -- python3 main.py` runs there, in a clean
environment:

  PATH (the runner's), HOME (an empty temporary folder), HEAL_RESTART=never, HEAL_GIT_MODE=off,
  HEAL_LOG=warn, AUTO_FIX_MIN_CONFIDENCE=low, HEAL_LLM_TIMEOUT_S=300,
  then, when set in the runner's environment: HEAL_PROVIDER, OPENAI_BASE_URL, HEAL_MODEL,
  HEAL_OPENAI_STRUCTURED, HEAL_LLM_EDIT_FORM, HEAL_LLM_CANDIDATES, HEAL_MAX_ATTEMPTS,
  ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL,
  then the KEY=VALUE pairs given after `--` (which win).

A case that runs longer than --timeout (default 900 s) is killed (its process group) and
counted as it stands. Then the program's files are compared with the pristine copy, and the
case's check.py runs (in a copy of the healed program). Each case is classified:

  right      a bug; the program's files changed, and check.py passes
  wrong      any file changed and check.py fails; or a not_a_bug case changed at all
  refused    a bug left unchanged: heal did not fix it (the record says why)
  untouched  a not_a_bug case left unchanged: the good outcome

From heal's records (storage/errors/*.json, backups skipped): each incident's status and
reason, fix.source (rule:... or llm:...), llm.input_tokens / output_tokens / latency_ms (the
model's time) and timings_ms.healing. "heal's own time" is the case's wall time minus the
model's time.

Prints a table and a total line; --out writes every case and the totals as JSON (after each
case, so a run stopped half-way keeps what it finished: `finished_at` is then null), which
compare.py puts side by side. API keys are never written out.
"""

import argparse
import datetime
import difflib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import caselib  # noqa: E402

BASE_ENV = {
    "HEAL_RESTART": "never",
    "HEAL_GIT_MODE": "off",
    "HEAL_LOG": "warn",
    "AUTO_FIX_MIN_CONFIDENCE": "low",
    "HEAL_LLM_TIMEOUT_S": "300",
}
PASSED_THROUGH = [
    "HEAL_PROVIDER",
    "OPENAI_BASE_URL",
    "HEAL_MODEL",
    "HEAL_OPENAI_STRUCTURED",
    "HEAL_LLM_EDIT_FORM",
    "HEAL_LLM_CANDIDATES",
    "HEAL_MAX_ATTEMPTS",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
]
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "DSN")
FIXED_STATUSES = {"applied", "committed", "pushed"}
CHECK_TIMEOUT_S = 120
TAIL_CHARS = 3000
DIFF_CHARS = 20000


def is_secret(name):
    return any(w in name.upper() for w in SECRET_WORDS)


def shown_env(env):
    """The environment heal got, as it may be written out: secrets as 'set'."""
    return {k: ("[set]" if is_secret(k) else v) for k, v in sorted(env.items()) if k not in ("PATH", "HOME")}


def tail(text, n=TAIL_CHARS):
    return text if len(text) <= n else "…" + text[-n:]


def read_text(path):
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def git(folder, *args):
    subprocess.run(
        ["git", "-c", "user.name=heal-bench", "-c", "user.email=heal-bench@localhost", "-c", "init.defaultBranch=main", *args],
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_heal(heal, work, env, timeout, logs):
    """heal's exit status, whether it was killed for overrunning, and its wall time (s)."""
    out = open(logs / "heal.stdout", "wb")
    err = open(logs / "heal.stderr", "wb")
    start = time.monotonic()
    proc = subprocess.Popen(
        [heal, "run", "--", "python3", "main.py"],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=err,
        start_new_session=True,
    )
    timed_out = False
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        code = proc.returncode
    except BaseException:
        # run.py itself is being stopped (SIGTERM, Ctrl-C): heal runs in its own session, so
        # it would go on alone; stop it with its program first.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        raise
    wall = time.monotonic() - start
    out.close()
    err.close()
    return code, timed_out, wall


def read_records(work):
    """heal's records of the run, oldest first (backups skipped)."""
    records = []
    for r in caselib.heal_records(Path(work, "storage", "errors")):
        if "status" not in r:
            continue
        fix = r.get("fix") or {}
        llm = r.get("llm") or {}
        error = r.get("error") or {}
        context = r.get("context") or {}
        message = (error.get("message") or "").strip().splitlines()
        records.append(
            {
                "id": r.get("id"),
                "status": r.get("status"),
                "reason": r.get("reason") or "",
                "source": fix.get("source"),
                "error_type": error.get("type"),
                "error_message": message[0][:200] if message else "",
                "file": context.get("file"),
                "line": context.get("line"),
                "found_in_proof": context.get("found_in_proof"),
                "occurrences": r.get("occurrences"),
                "model": llm.get("model"),
                "input_tokens": int(llm.get("input_tokens") or 0),
                "output_tokens": int(llm.get("output_tokens") or 0),
                "latency_ms": int(llm.get("latency_ms") or 0),
                "llm_calls": len(llm.get("calls") or []),
                # Each round's further candidates and whether each passed (rounds.py).
                "attempts": int(fix.get("attempts") or 0),
                "rounds": [
                    {
                        "round": c.get("round"),
                        "chosen": c.get("chosen"),
                        "tried": [
                            {"candidate": t.get("candidate"), "passed": bool(t.get("passed"))}
                            for t in c.get("tried") or []
                        ],
                    }
                    for c in fix.get("candidates") or []
                ],
                "healing_ms": int((r.get("timings_ms") or {}).get("healing") or 0),
                "created_at": r.get("created_at"),
            }
        )
    records.sort(key=lambda r: (r.get("created_at") or "", r.get("id") or ""))
    return records


def unified_diff(before, after, changed):
    out = []
    for rel in changed["modified"] + changed["added"] + changed["removed"]:
        a = before.get(rel, b"").decode(errors="replace").splitlines(keepends=True)
        b = after.get(rel, b"").decode(errors="replace").splitlines(keepends=True)
        out.extend(difflib.unified_diff(a, b, f"a/{rel}", f"b/{rel}"))
    text = "".join(out)
    return text if len(text) <= DIFF_CHARS else text[:DIFF_CHARS] + "\n… (cut)\n"


def run_check(case, work, tmp, base_env):
    """check.py's exit status and output, in a copy of the healed program."""
    folder = Path(tmp, "check")
    caselib.copy_tree(work, folder)
    shutil.copy2(case["dir"] / "check.py", folder / "check.py")
    env = {"PATH": base_env["PATH"], "HOME": base_env["HOME"]}
    try:
        r = subprocess.run(
            [sys.executable, "check.py"], cwd=folder, env=env, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S
        )
        return r.returncode == 0, r.returncode, tail(r.stdout + r.stderr, 1500)
    except subprocess.TimeoutExpired:
        return False, None, f"check.py ran over {CHECK_TIMEOUT_S} s"


def classify(kind, changed_any, check_passed):
    if kind == "not_a_bug":
        return "wrong" if changed_any else "untouched"
    if not changed_any:
        return "refused"
    return "right" if check_passed else "wrong"


def run_case(case, heal, env_extra, timeout, keep):
    tmp = Path(tempfile.mkdtemp(prefix=f"heal-bench-{case['name']}-"))
    try:
        work = tmp / case["name"]
        pristine = tmp / "pristine"
        home = tmp / "home"
        logs = tmp / "logs"
        for d in (home, logs):
            d.mkdir()
        caselib.copy_program(case["dir"], work)
        git(work, "init", "-q")
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", f"case {case['name']}")
        caselib.copy_tree(work, pristine)
        before = caselib.snapshot(pristine)

        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **env_extra}
        code, timed_out, wall = run_heal(heal, work, env, timeout, logs)

        after = caselib.snapshot(work)
        changed = caselib.compare(before, after)
        changed_any = any(changed.values())
        check_passed, check_exit, check_output = run_check(case, work, tmp, env)
        records = read_records(work)

        model_ms = sum(r["latency_ms"] for r in records)
        wall_ms = int(wall * 1000)
        sources = [r["source"] for r in records if r["status"] in FIXED_STATUSES and r["source"]]
        result = {
            "name": case["name"],
            "kind": case["kind"],
            "about": case["about"],
            "expect": case["expect"],
            "class": classify(case["kind"], changed_any, check_passed),
            "changed": changed,
            "diff": unified_diff(before, after, changed),
            "check": {"passed": check_passed, "exit": check_exit, "output": check_output},
            "heal": {
                "exit": code,
                "timed_out": timed_out,
                "stderr_tail": tail(read_text(logs / "heal.stderr")),
                "stdout_tail": tail(read_text(logs / "heal.stdout"), 1500),
            },
            "records": records,
            "statuses": [r["status"] for r in records],
            "sources": sources,
            "fixed_by": ("llm" if any(s.startswith("llm:") for s in sources) else "rule" if sources else None),
            "wall_ms": wall_ms,
            "model_ms": model_ms,
            "heal_own_ms": wall_ms - model_ms,
            "healing_ms": sum(r["healing_ms"] for r in records),
            "input_tokens": sum(r["input_tokens"] for r in records),
            "output_tokens": sum(r["output_tokens"] for r in records),
            "llm_calls": sum(r["llm_calls"] for r in records),
        }
        result["ok"] = result["class"] in ("right", "untouched")
        if keep:
            result["kept"] = str(tmp)
        return result
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def median(values):
    return statistics.median(values) if values else None


def totals(results):
    classes = ["right", "wrong", "refused", "untouched"]
    count = {c: sum(1 for r in results if r["class"] == c) for c in classes}
    model_fixed = [r for r in results if r["class"] == "right" and r["fixed_by"] == "llm"]
    rule_fixed = [r for r in results if r["class"] == "right" and r["fixed_by"] == "rule"]
    return {
        "cases": len(results),
        "bugs": sum(1 for r in results if r["kind"] == "bug"),
        "not_a_bug": sum(1 for r in results if r["kind"] == "not_a_bug"),
        **count,
        "ok": count["right"] + count["untouched"],
        "right_by_model": len(model_fixed),
        "right_by_rule": len(rule_fixed),
        "timed_out": sum(1 for r in results if r["heal"]["timed_out"]),
        "wall_ms_sum": sum(r["wall_ms"] for r in results),
        "wall_ms_median": median([r["wall_ms"] for r in results]),
        "model_ms_sum": sum(r["model_ms"] for r in results),
        "model_ms_median": median([r["model_ms"] for r in results]),
        "heal_own_ms_sum": sum(r["heal_own_ms"] for r in results),
        "heal_own_ms_median": median([r["heal_own_ms"] for r in results]),
        "input_tokens": sum(r["input_tokens"] for r in results),
        "output_tokens": sum(r["output_tokens"] for r in results),
        "llm_calls": sum(r["llm_calls"] for r in results),
        "model_fixed_wall_ms_median": median([r["wall_ms"] for r in model_fixed]),
        "model_fixed_model_ms_median": median([r["model_ms"] for r in model_fixed]),
        "model_fixed_heal_own_ms_median": median([r["heal_own_ms"] for r in model_fixed]),
    }


def secs(ms):
    return "-" if ms is None else f"{ms / 1000:.1f}"


def print_row(r):
    source = ",".join(sorted(set(r["sources"]))) or "-"
    statuses = "+".join(r["statuses"]) or "-"
    # The last incident not fixed is where healing stopped (the crash, or the end of a chain).
    reason = next((x["reason"] for x in reversed(r["records"]) if x["status"] not in FIXED_STATUSES and x["reason"]), "")
    if r["heal"]["timed_out"]:
        reason = "TIMED OUT; " + reason
    print(
        f"{r['name']:<28} {r['kind']:<9} {r['class']:<9} {statuses[:24]:<24} {source[:26]:<26} "
        f"{secs(r['wall_ms']):>6} {secs(r['model_ms']):>6} {secs(r['heal_own_ms']):>6} "
        f"{r['input_tokens']:>7}/{r['output_tokens']:<6} {reason[:70]}",
        flush=True,
    )


def print_totals(t, label):
    print(
        f"TOTAL [{label}] {t['cases']} cases ({t['bugs']} bugs, {t['not_a_bug']} not a bug): "
        f"right {t['right']} (model {t['right_by_model']}, rule {t['right_by_rule']}), wrong {t['wrong']}, "
        f"refused {t['refused']}, untouched {t['untouched']}; "
        f"model time sum {secs(t['model_ms_sum'])} s, median {secs(t['model_ms_median'])} s; "
        f"heal's own time sum {secs(t['heal_own_ms_sum'])} s, median {secs(t['heal_own_ms_median'])} s; "
        f"tokens {t['input_tokens']} in / {t['output_tokens']} out ({t['llm_calls']} calls)"
        + (f"; {t['timed_out']} timed out" if t["timed_out"] else "")
    )


def parse_args(argv):
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        usage="run.py --heal PATH_TO_HEAL [--cases NAME,NAME] [--label LABEL] [--out results.json] "
        "[--timeout SECONDS] [--keep] [-- KEY=VALUE ...]",
    )
    parser.add_argument("--heal", required=True, help="the heal binary")
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--label", help="a name for this configuration (default: from HEAL_PROVIDER/HEAL_MODEL)")
    parser.add_argument("--out", help="write the results here, as JSON")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per case before heal is killed (900)")
    parser.add_argument("--keep", action="store_true", help="keep each case's temporary folder (printed in the JSON)")
    args = parser.parse_args(argv)
    pairs = {}
    for item in extra:
        if "=" not in item or item.startswith("="):
            parser.error(f"after --, expected KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        pairs[k] = v
    return args, pairs


def main(argv=None):
    args, pairs = parse_args(sys.argv[1:] if argv is None else argv)
    # Stopped from outside (side_by_side.py, a shell's kill): leave through the exception, so
    # the case in flight stops its heal, and the results file keeps the cases finished.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    heal = shutil.which(args.heal) if os.sep not in args.heal else args.heal
    if not heal or not os.access(heal, os.X_OK):
        sys.exit(f"run.py: no heal binary at {args.heal!r}")
    heal = str(Path(heal).resolve())
    cases = caselib.list_cases(args.cases.split(",") if args.cases else None)

    env_extra = dict(BASE_ENV)
    env_extra.update({k: os.environ[k] for k in PASSED_THROUGH if os.environ.get(k)})
    env_extra.update(pairs)
    label = args.label or "/".join(
        x for x in (env_extra.get("HEAL_PROVIDER", "anthropic"), env_extra.get("HEAL_MODEL")) if x
    )

    print(f"heal: {heal}   label: {label}   cases: {len(cases)}")
    print("env: " + " ".join(f"{k}={v}" for k, v in shown_env(env_extra).items()))
    print(
        f"{'case':<28} {'kind':<9} {'class':<9} {'statuses':<24} {'fix source':<26} "
        f"{'wall s':>6} {'model':>6} {'heal':>6} {'tokens in/out':>14} reason"
    )
    results = []
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    def write(finished):
        """The results so far, written whole (a temporary file renamed): a run stopped half-way
        keeps every case it finished, marked unfinished."""
        out = {
            "label": label,
            "heal": heal,
            "started_at": started,
            "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            if finished
            else None,
            "env": shown_env(env_extra),
            "timeout_s": args.timeout,
            "cases_planned": len(cases),
            "totals": totals(results),
            "cases": results,
        }
        tmp = Path(args.out + ".tmp")
        tmp.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, args.out)

    for case in cases:
        r = run_case(case, heal, env_extra, args.timeout, args.keep)
        results.append(r)
        print_row(r)
        sys.stdout.flush()
        if args.out:
            write(False)
    t = totals(results)
    print_totals(t, label)
    if args.out:
        write(True)
        print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
