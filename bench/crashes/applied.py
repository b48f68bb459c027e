#!/usr/bin/env python3
"""Puts the fixes a benchmark run applied where the policy's reference test reads them.

    python3 bench/crashes/applied.py RESULT.json [RESULT.json ...] --out DIR
    HEAL_BENCH_CASES=DIR cargo test --release --lib bench_references

For each case a run changed (right or wrong), DIR/<case> (DIR/<case>@<result> for several
results) is a copy of the case with the run's
diff applied in its `.reference` folder: the unit test `every_reference_fix_of_the_bench_passes_
the_policy` then holds those fixes to today's policy, with each case's own incident. A rule
added after the run that would refuse one of its right fixes shows there, with no model call.
"""

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

CASES = pathlib.Path(__file__).resolve().parent / "cases"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", type=pathlib.Path)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--class", dest="classes", default="right,wrong",
                    help="which classes to take (default: right,wrong)")
    args = ap.parse_args()
    classes = set(args.classes.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    for result in args.results:
        for case in json.loads(result.read_text())["cases"]:
            if case.get("class") not in classes or not case.get("diff"):
                continue
            name = case["name"]
            # Several runs' fixes of one case each get their own copy.
            dest = args.out / (name if len(args.results) == 1 else f"{name}@{result.stem}")
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(CASES / name, dest, ignore=shutil.ignore_patterns(".reference", "__pycache__"))
            with tempfile.TemporaryDirectory() as work:
                shutil.copytree(CASES / name, work, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns(".reference", "__pycache__"))
                patched = subprocess.run(["patch", "-p1", "-s", "-d", work],
                                         input=case["diff"], text=True, capture_output=True)
                if patched.returncode != 0:
                    print(f"{name}: the diff does not apply: {patched.stdout}{patched.stderr}",
                          file=sys.stderr)
                    shutil.rmtree(dest)
                    continue
                changed = case.get("changed", {})
                for rel in changed.get("modified", []) + changed.get("added", []):
                    if rel.endswith(".py"):
                        target = dest / ".reference" / rel
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(pathlib.Path(work) / rel, target)
            print(f"{name}: {case['class']}")
            written += 1
    print(f"{written} applied fixes in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
