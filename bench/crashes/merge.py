#!/usr/bin/env python3
"""Merges results files of one configuration run in parts (for example half the cases on each
of two model servers at once) into one, with the totals computed over all its cases.

Usage:
  python3 bench/crashes/merge.py PART.json PART.json [...] --label LABEL --out MERGED.json

Refuses parts that ran different heal binaries or environments (the server's URL aside), or
that share a case.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402


class MergeError(ValueError):
    """Parts that cannot be one run."""


def merged(parts, label):
    """One results dict from `parts` (results dicts of run.py), totals over all their cases."""

    def same(part):
        env = {k: v for k, v in part["env"].items() if k != "OPENAI_BASE_URL"}
        return part["heal"], env, part["timeout_s"]

    if any(same(p) != same(parts[0]) for p in parts[1:]):
        raise MergeError("the parts ran different binaries, environments or time limits")
    cases = [c for p in parts for c in p["cases"]]
    names = [c["name"] for c in cases]
    if len(set(names)) != len(names):
        raise MergeError("a case is in more than one part")
    cases.sort(key=lambda c: c["name"])
    return {
        "label": label,
        "heal": parts[0]["heal"],
        "started_at": min(p["started_at"] for p in parts),
        # A part stopped half-way has no finish time: then neither has the whole.
        "finished_at": None
        if any(p.get("finished_at") is None for p in parts)
        else max(p["finished_at"] for p in parts),
        "cases_planned": sum(p.get("cases_planned", len(p["cases"])) for p in parts),
        "env": parts[0]["env"],
        "parts": len(parts),
        "timeout_s": parts[0]["timeout_s"],
        "totals": run.totals(cases),
        "cases": cases,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="+", help="results files written by run.py --out")
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    parts = [json.loads(Path(p).read_text(encoding="utf-8")) for p in args.parts]
    try:
        result = merged(parts, args.label)
    except MergeError as e:
        sys.exit(f"merge.py: {e}")
    write(result, args.out)


def write(result, out):
    """Writes a merged result where run.py's readers expect it, and prints its totals."""
    Path(out).write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    run.print_totals(result["totals"], result["label"])


if __name__ == "__main__":
    main()
