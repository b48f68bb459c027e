"""What the bench scripts share: finding the cases, copying a case's program, comparing trees,
reading heal's records.

A case is a folder of cases/ holding main.py (and any other modules), check.py (the acceptance
check), case.toml (kind, about, expect) and, kept out of every copy heal sees, .reference/ (the
files of a right fix) and .silenced/ (the files of a fix that only hides the error).
"""

import json
import shutil
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"

# Never copied into the folder heal runs in: the check, the case's description and the fixes.
NOT_PROGRAM = {"check.py", "case.toml", "case.json", ".reference", ".silenced"}
# Never compared: git's folder, heal's records, Python's caches.
NOT_COMPARED = {".git", "storage", "__pycache__"}

KINDS = {"bug": "fixed", "not_a_bug": "untouched"}


class CaseError(Exception):
    pass


def load_case(folder):
    """The case's description: name, kind, about, expect, dir."""
    folder = Path(folder)
    if (folder / "case.toml").exists():
        meta = tomllib.loads((folder / "case.toml").read_text())
    elif (folder / "case.json").exists():
        meta = json.loads((folder / "case.json").read_text())
    else:
        raise CaseError(f"{folder.name}: no case.toml or case.json")
    kind = meta.get("kind")
    if kind not in KINDS:
        raise CaseError(f"{folder.name}: kind must be one of {sorted(KINDS)}, not {kind!r}")
    if meta.get("expect") != KINDS[kind]:
        raise CaseError(f"{folder.name}: a {kind} case expects {KINDS[kind]!r}, not {meta.get('expect')!r}")
    if not meta.get("about"):
        raise CaseError(f"{folder.name}: no 'about'")
    for needed in ("main.py", "check.py"):
        if not (folder / needed).exists():
            raise CaseError(f"{folder.name}: no {needed}")
    return {"name": folder.name, "kind": kind, "about": meta["about"], "expect": meta["expect"], "dir": folder}


def list_cases(names=None):
    """Every case (sorted by name), or the named ones in the order given."""
    if names:
        out = []
        for name in names:
            folder = CASES_DIR / name
            if not folder.is_dir():
                raise CaseError(f"no case named {name!r} in {CASES_DIR}")
            out.append(load_case(folder))
        return out
    return [load_case(f) for f in sorted(CASES_DIR.iterdir()) if f.is_dir() and not f.name.startswith(".")]


def _ignore_program(root):
    root = Path(root)

    def ignore(folder, names):
        top = Path(folder) == root
        return {n for n in names if n in NOT_COMPARED or (top and n in NOT_PROGRAM)}

    return ignore


def copy_program(case_dir, dest):
    """The case's program (without its check, description or fixes) into dest, a new folder."""
    shutil.copytree(case_dir, dest, ignore=_ignore_program(case_dir))


def copy_tree(src, dest):
    """A program folder (git's folder, heal's records and caches left out) into dest."""
    shutil.copytree(src, dest, ignore=lambda folder, names: {n for n in names if n in NOT_COMPARED})


def overlay(overlay_dir, dest):
    """The files of overlay_dir written over dest (a fix's files)."""
    shutil.copytree(overlay_dir, dest, dirs_exist_ok=True, ignore=lambda f, names: {n for n in names if n == "__pycache__"})


def snapshot(root):
    """{relative path: bytes} of a program folder, git's folder, heal's records and caches left out."""
    root = Path(root)
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if NOT_COMPARED.intersection(rel.parts):
            continue
        if path.is_file() or path.is_symlink():
            try:
                out[rel.as_posix()] = path.read_bytes()
            except OSError:
                out[rel.as_posix()] = b"<unreadable>"
    return out


def compare(before, after):
    """{'added': [...], 'removed': [...], 'modified': [...]} between two snapshots."""
    return {
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "modified": sorted(k for k in before.keys() & after.keys() if before[k] != after[k]),
    }


def heal_records(folder):
    """heal's incident records in a `storage/errors` folder, by file name (backups, files that
    are not JSON objects and files that cannot be read are skipped)."""
    folder = Path(folder)
    for path in sorted(folder.glob("err_*.json")) if folder.is_dir() else []:
        if "_backup_" in path.name:
            continue
        try:
            r = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(r, dict):
            yield r
