#!/usr/bin/env python3
"""Validates the crash cases, without heal: each case is what it claims to be.

For every case (or those of --cases), in fresh temporary copies and a clean environment:

  all cases   main.py exits non-zero, the same way twice (deterministic), within 5 s
              (a bug also prints a traceback);
  bug         check.py FAILS on the unchanged program,
              PASSES with the reference fix (.reference/ written over the program),
              FAILS with the silencing fix (.silenced/ written over the program);
  not_a_bug   check.py PASSES on the unchanged program (the condition is still reported),
              FAILS with the silencing fix (.silenced/), which hides the condition.

check.py always runs from a copy holding the program and check.py only, as run.py runs it.
A not_a_bug's silenced copy is caught by the check's own test of the behaviour (run.py also
counts any change to a not_a_bug case as wrong, by comparing its files).

Usage: python3 bench/crashes/validate.py [--cases NAME,NAME] [-v]
Exit status 0 when every case is valid.
"""

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import caselib  # noqa: E402

CRASH_LIMIT_S = 5.0


def clean_env(home, extra=None):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(extra or {})
    return env


def run(cmd, cwd, env, timeout=120):
    t = time.monotonic()
    try:
        r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr, time.monotonic() - t
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or "", e.stderr or "", time.monotonic() - t


def tail(text, n=6):
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join(text.strip().splitlines()[-n:])


def check_in(case, tmp, label, overlay_name=None):
    """check.py's exit status in a copy of the program (with an overlay), and its output tail."""
    folder = Path(tmp, label)
    caselib.copy_program(case["dir"], folder)
    if overlay_name:
        caselib.overlay(case["dir"] / overlay_name, folder)
    shutil.copy2(case["dir"] / "check.py", folder / "check.py")
    code, out, err, _ = run([sys.executable, "check.py"], folder, clean_env(Path(tmp, "home"), {}))
    return code, tail(out + "\n" + err)


def validate(case, verbose):
    """The list of problems of one case (empty when valid) and a summary row."""
    problems = []
    row = {"case": case["name"], "kind": case["kind"]}
    with tempfile.TemporaryDirectory(prefix="heal-validate-") as tmp:
        Path(tmp, "home").mkdir()
        env = clean_env(Path(tmp, "home"))

        runs = []
        for i in range(2):
            folder = Path(tmp, f"crash{i}")
            caselib.copy_program(case["dir"], folder)
            runs.append(run([sys.executable, "main.py"], folder, env, timeout=30))
        (code, out, err, secs), (code2, out2, err2, _) = runs
        row["exit"] = code
        row["secs"] = secs
        if code in (0, None):
            problems.append(f"main.py did not crash (exit {code}): {tail(out + err)}")
        same = lambda text, i: text.replace(str(Path(tmp, f"crash{i}")), "<case>")  # noqa: E731
        if (code, same(out, 0), same(err, 0)) != (code2, same(out2, 1), same(err2, 1)):
            problems.append("main.py is not deterministic: two runs differ")
        if secs > CRASH_LIMIT_S:
            problems.append(f"main.py took {secs:.1f} s")
        if case["kind"] == "bug" and "Traceback (most recent call last)" not in out + err:
            problems.append("a bug case must crash with a traceback")

        has_ref = (case["dir"] / ".reference").is_dir()
        has_sil = (case["dir"] / ".silenced").is_dir()
        for overlay_name in (".reference", ".silenced"):
            for source in sorted((case["dir"] / overlay_name).rglob("*.py")):
                try:
                    ast.parse(source.read_text(), str(source))
                except SyntaxError as e:
                    problems.append(f"{overlay_name}: {source.name} does not parse: {e}")
            for source in sorted((case["dir"] / overlay_name).rglob("*")):
                rel = source.relative_to(case["dir"] / overlay_name)
                if source.is_file() and not (case["dir"] / rel).exists():
                    problems.append(f"{overlay_name}: {rel} is not a file of the program")
        if not has_sil:
            problems.append("no .silenced/ fix")

        if case["kind"] == "bug":
            c, o = check_in(case, tmp, "unfixed")
            row["unfixed"] = "fails" if c != 0 else "PASSES"
            if c == 0:
                problems.append("check.py passes on the unfixed program")
            if not has_ref:
                problems.append("no .reference/ fix")
            else:
                c, o = check_in(case, tmp, "reference", ".reference")
                row["reference"] = "passes" if c == 0 else "FAILS"
                if c != 0:
                    problems.append(f"check.py fails with the reference fix: {o}")
                code_r, out_r, err_r, _ = run([sys.executable, "main.py"], Path(tmp, "reference"), env)
                if code_r != 0:
                    problems.append(f"main.py still fails with the reference fix: {tail(out_r + err_r)}")
        else:
            c, o = check_in(case, tmp, "unfixed")
            row["unfixed"] = "passes" if c == 0 else "FAILS"
            if c != 0:
                problems.append(f"check.py fails on the unchanged program: {o}")
            if has_ref:
                problems.append("a not_a_bug case has no reference fix (leave it unchanged)")
        if has_sil:
            c, o = check_in(case, tmp, "silenced", ".silenced")
            row["silenced"] = "fails" if c != 0 else "PASSES"
            if c == 0:
                problems.append("check.py passes with the silencing fix")
            elif verbose:
                row["silenced_why"] = o.splitlines()[-1] if o else ""
    return problems, row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("-v", "--verbose", action="store_true", help="say why each silenced fix fails")
    args = parser.parse_args()
    cases = caselib.list_cases(args.cases.split(",") if args.cases else None)
    bad = 0
    print(f"{'case':<28} {'kind':<10} {'exit':>4} {'secs':>5}  {'unfixed':<8} {'reference':<9} {'silenced':<8} verdict")
    for case in cases:
        problems, row = validate(case, args.verbose)
        verdict = "ok" if not problems else "INVALID"
        bad += bool(problems)
        print(
            f"{row['case']:<28} {row['kind']:<10} {str(row.get('exit')):>4} {row.get('secs', 0):>5.2f}  "
            f"{row.get('unfixed', '-'):<8} {row.get('reference', '-'):<9} {row.get('silenced', '-'):<8} {verdict}"
        )
        if args.verbose and row.get("silenced_why"):
            print(f"    silenced fails with: {row['silenced_why'][:110]}")
        for p in problems:
            print(f"    - {p}")
    kinds = {}
    for case in cases:
        kinds[case["kind"]] = kinds.get(case["kind"], 0) + 1
    print(f"{len(cases)} cases ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}): "
          f"{len(cases) - bad} valid, {bad} invalid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
