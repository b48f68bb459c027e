#!/usr/bin/env python3
"""Whether a retry with the proof's feedback beats a fresh candidate, from runs already made.

    python3 bench/crashes/rounds.py RESULT.json [RESULT.json ...]

With `llm.candidates` above 1, every round of a healing asks for its first candidate in the
incident's conversation and, when that one fails, for more in fresh conversations (at a higher
temperature, with no feedback). From the second round on, the conversation's candidate carries
the proof's words about the round before: each later round is a head-to-head on the same
incident, at the same moment, between a candidate with feedback and candidates without it.

This reads the records each case left in its kept folder (`run.py --keep`), or, when that is
gone, the rounds the result file holds (recorded since 2026-12-01 15:20), and counts, per
round, how often each kind of candidate passed its proof, and what the fixes that were applied
were judged (right or wrong, by the case's acceptance check).

The fresh candidates of a round are only asked when its first one failed, so they are counted
on the harder rounds; the figures say how often each passed, not which would have passed alone.
"""

import argparse
import collections
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import caselib  # noqa: E402

FIXED = {"applied", "committed", "pushed"}


def records(kept: pathlib.Path):
    """The model's healings among the incident records under a case's kept folder."""
    for folder in sorted(kept.glob("**/storage/errors")):
        for r in caselib.heal_records(folder):
            if str((r.get("fix") or {}).get("source")).startswith("llm:"):
                yield r


def summaries(case):
    """The same, from the result file itself (runs since `rounds` was recorded there)."""
    for r in case.get("records") or []:
        if str(r.get("source")).startswith("llm:"):
            yield {
                "status": r.get("status"),
                "fix": {"attempts": r.get("attempts"), "candidates": r.get("rounds")},
            }


def tally(r, counts):
    """Adds one healing's candidates to `counts[(round kind, candidate kind)] = [tried, passed]`
    and returns which kind of candidate its applied fix was, if one was."""
    fix = r.get("fix") or {}
    rounds = int(fix.get("attempts") or 0)
    extra = {c.get("round"): c for c in fix.get("candidates") or []}
    fixed = r.get("status") in FIXED
    applied = None
    for k in range(1, rounds + 1):
        when = "round 1" if k == 1 else "rounds 2+"
        first = "first, fresh" if k == 1 else "first, with feedback"
        note = extra.get(k)
        # The round's first candidate passed when the healing ended in this round with a fix
        # that none of the further candidates gave.
        first_passed = k == rounds and fixed and not (note and note.get("chosen"))
        counts[(when, first)][0] += 1
        if first_passed:
            counts[(when, first)][1] += 1
            applied = first
        for t in (note or {}).get("tried") or []:
            counts[(when, "further, fresh")][0] += 1
            if t.get("passed"):
                counts[(when, "further, fresh")][1] += 1
        if note and note.get("chosen") and k == rounds and fixed:
            applied = "further, fresh"
    return applied


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", type=pathlib.Path)
    args = ap.parse_args()
    counts = collections.defaultdict(lambda: [0, 0])
    classes = collections.defaultdict(collections.Counter)
    healings = missing = 0
    for result in args.results:
        for case in json.loads(result.read_text())["cases"]:
            kept = pathlib.Path(case.get("kept") or "/nonexistent")
            if kept.is_dir():
                found = list(records(kept))
            elif all("rounds" in r for r in case.get("records") or []):
                found = list(summaries(case))
            else:
                missing += 1
                continue
            for r in found:
                healings += 1
                applied = tally(r, counts)
                if applied:
                    classes[applied][case.get("class")] += 1
    if missing:
        print(f"{missing} cases have neither their kept folder nor rounds in the result file; "
              "they are not counted", file=sys.stderr)
    print(f"{healings} healings that asked a model\n")
    print(f"{'round':<10} {'candidate':<22} {'tried':>6} {'passed':>7} {'rate':>6}")
    for when in ("round 1", "rounds 2+"):
        for kind in ("first, fresh", "first, with feedback", "further, fresh"):
            tried, passed = counts.get((when, kind), (0, 0))
            if tried:
                print(f"{when:<10} {kind:<22} {tried:>6} {passed:>7} {passed / tried:>6.0%}")
    print("\napplied fixes by the candidate that gave them, and the case's verdict")
    for kind, c in sorted(classes.items()):
        print(f"  {kind:<22} " + ", ".join(f"{k} {n}" for k, n in sorted(c.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
