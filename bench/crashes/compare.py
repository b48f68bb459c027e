#!/usr/bin/env python3
"""Puts the results of several run.py configurations side by side, as a markdown table.

Usage: python3 bench/crashes/compare.py results1.json results2.json ... [--cases]

One column per results file (headed by its label). Rows: right, wrong, refused, untouched (and
how many of the right ones a model or a rule fixed), the median wall time and the median model
time per model-fixed case, the median of heal's own time per model-fixed case, and the tokens.
--cases adds a second table: each case's class under each configuration.

Times are medians over the cases a model fixed rightly (class right, fix.source llm:...), so a
configuration that fixes more hard cases is not penalised for their length by the other
cases; "-" when no case was fixed by a model.
"""

import argparse
import json
import sys
from pathlib import Path


def secs(ms):
    return "-" if ms is None else f"{ms / 1000:.1f} s"


def num(n):
    return "-" if n is None else f"{n:,}"


ROWS = [
    ("cases", lambda t: num(t["cases"])),
    ("right", lambda t: f"{t['right']} / {t['bugs']}"),
    ("… fixed by a model", lambda t: num(t["right_by_model"])),
    ("… fixed by a rule", lambda t: num(t["right_by_rule"])),
    ("wrong", lambda t: num(t["wrong"])),
    ("refused", lambda t: num(t["refused"])),
    ("untouched", lambda t: f"{t['untouched']} / {t['not_a_bug']}"),
    ("median wall time per model-fixed case", lambda t: secs(t["model_fixed_wall_ms_median"])),
    ("median model time per model-fixed case", lambda t: secs(t["model_fixed_model_ms_median"])),
    ("median heal's own time per model-fixed case", lambda t: secs(t["model_fixed_heal_own_ms_median"])),
    ("model time, all cases", lambda t: secs(t["model_ms_sum"])),
    ("heal's own time, all cases", lambda t: secs(t["heal_own_ms_sum"])),
    ("tokens in", lambda t: num(t["input_tokens"])),
    ("tokens out", lambda t: num(t["output_tokens"])),
    ("model calls", lambda t: num(t["llm_calls"])),
    ("timed out", lambda t: num(t.get("timed_out", 0))),
]


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def report(runs, labels, with_cases=False):
    """The totals table of `runs` (results dicts of run.py), one column per label, and with
    `with_cases` a second table of each case's class under each."""
    out = table([""] + labels, [[name] + [f(run["totals"]) for run in runs] for name, f in ROWS])
    if not with_cases:
        return out
    names = []
    for run in runs:
        for case in run["cases"]:
            if case["name"] not in names:
                names.append(case["name"])
    by_run = [{c["name"]: c for c in run["cases"]} for run in runs]
    rows = []
    for name in sorted(names):
        kind = next(b[name]["kind"] for b in by_run if name in b)
        cells = []
        for b in by_run:
            c = b.get(name)
            if c is None:
                cells.append("")
                continue
            how = f" ({c['fixed_by']})" if c["class"] == "right" and c.get("fixed_by") else ""
            cells.append(c["class"] + how)
        rows.append([name, kind] + cells)
    return out + "\n\n" + table(["case", "kind"] + labels, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", help="results files written by run.py --out")
    parser.add_argument("--cases", action="store_true", help="also a table of each case's class")
    args = parser.parse_args()
    runs = [json.loads(Path(p).read_text()) for p in args.results]
    labels = []
    for path, run in zip(args.results, runs):
        label = run.get("label") or Path(path).stem
        labels.append(label if label not in labels else f"{label} ({Path(path).name})")
    print(report(runs, labels, args.cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
