# heal's docstring-examples runner: runs the examples a project's docstrings give (doctest
# `>>>` lines and `ARG -> RESULT` pairs) against the fixed module and against the module as it
# was, in the proof's copy, under the proof's jail. Written by heal into a scratch folder
# beside the copy; never into the project.
#
# Usage: python3 examples.py SPEC.json RESULTS.jsonl
#
# SPEC: {"root": the copy, "paths": [extra sys.path entries],
#        "modules": [{"name": "pkg.mod", "path": "<copy>/pkg/mod.py",
#                     "before": "<scratch>/before_0.py", "package": "pkg",
#                     "examples": [{"id": 0, "function": "f", "kind": "doctest"|"pair",
#                                   "source": ">>> text or the argument", "want": "..."}]}]}
# RESULTS: one JSON object per line, written as each example ends (so a run killed at its time
# limit still reports what finished): {"id": 0, "side": "before"|"after", "outcome":
# "ok"|"differs"|"raised"|"unloaded"|"missing"|"timeout"|"unusable", "got": "...", "error": "..."}.
# A module that cannot be imported reports "unloaded" for each of its examples.

import ast
import contextlib
import importlib
import importlib.util
import io
import json
import re
import signal
import sys

PER_EXAMPLE_S = 5
MAX_TEXT = 300


class Timeout(BaseException):
    """Raised by the alarm: an example ran longer than PER_EXAMPLE_S."""


def _alarm(signum, frame):
    raise Timeout()


def short(text):
    text = str(text)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def load_after(module):
    return importlib.import_module(module["name"])


def load_before(module, index):
    name = "_heal_before_%d" % index
    spec = importlib.util.spec_from_file_location(name, module["before"])
    mod = importlib.util.module_from_spec(spec)
    # Relative imports and paths built from __file__ resolve as in the original module.
    mod.__package__ = module.get("package") or ""
    mod.__file__ = module["path"]
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def run_pair(mod, example):
    fn = getattr(mod, example["function"], None)
    if fn is None or not callable(fn):
        return {"outcome": "missing"}
    try:
        argument = ast.literal_eval(example["source"])
        want = ast.literal_eval(example["want"])
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        # Prose that only looked like a pair: not an example.
        return {"outcome": "unusable"}
    got = fn(argument)
    same = type(got) is type(want) and got == want
    return {"outcome": "ok" if same else "differs", "got": short(repr(got))}


def run_doctest(mod, example, namespace):
    if example["function"] and getattr(mod, example["function"], None) is None:
        return {"outcome": "missing"}
    source = example["source"]
    printed = io.StringIO()
    want = example["want"]
    try:
        with contextlib.redirect_stdout(printed):
            try:
                code = compile(source, "<docstring example>", "eval")
                value = eval(code, namespace)
                if value is not None:
                    print(repr(value))
            except SyntaxError:
                exec(compile(source, "<docstring example>", "exec"), namespace)
    except Timeout:
        raise
    except BaseException as e:  # noqa: BLE001 - an example may raise anything, SystemExit too
        if want.startswith("Traceback (most recent call last)"):
            last = want.strip().splitlines()[-1]
            expected_type = last.split(":", 1)[0].strip().rsplit(".", 1)[-1]
            ok = type(e).__name__ == expected_type
            return {"outcome": "ok" if ok else "differs", "got": short("%s: %s" % (type(e).__name__, e))}
        raise
    got = "\n".join(line.rstrip() for line in printed.getvalue().strip().splitlines())
    expected = "\n".join(line.rstrip() for line in want.strip().splitlines())
    if got == expected:
        return {"outcome": "ok", "got": short(got)}
    # doctest's ELLIPSIS: `<Budget object at ...>` matches whatever stands for the dots.
    if "..." in expected:
        pattern = ".*".join(re.escape(part) for part in expected.split("..."))
        if re.fullmatch(pattern, got, re.DOTALL):
            return {"outcome": "ok", "got": short(got)}
    # `0.1 + 0.2` shown as 0.30000000000000004 against a documented 0.3 still differs; but
    # `{'a': 1}` against `{"a": 1}` is the same value.
    try:
        if ast.literal_eval(got) == ast.literal_eval(expected):
            return {"outcome": "ok", "got": short(got)}
    except Exception:  # noqa: BLE001 - not literals: the text decides
        pass
    return {"outcome": "differs", "got": short(got)}


def main():
    spec_path, out_path = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    for p in reversed(spec.get("paths", [])):
        if p not in sys.path:
            sys.path.insert(0, p)
    signal.signal(signal.SIGALRM, _alarm)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    out = open(out_path, "a", encoding="utf-8")

    def report(example, side, result):
        result = dict(result, id=example["id"], side=side)
        out.write(json.dumps(result) + "\n")
        out.flush()

    for index, module in enumerate(spec["modules"]):
        for side in ("before", "after"):
            sink = io.StringIO()
            try:
                with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                    signal.alarm(PER_EXAMPLE_S * 2)
                    try:
                        mod = load_before(module, index) if side == "before" else load_after(module)
                    finally:
                        signal.alarm(0)
            except (Exception, SystemExit, Timeout) as e:  # noqa: BLE001
                for example in module["examples"]:
                    report(example, side, {"outcome": "unloaded", "error": short("%s: %s" % (type(e).__name__, e))})
                continue
            namespaces = {}
            for example in module["examples"]:
                try:
                    with contextlib.redirect_stderr(sink):
                        signal.alarm(PER_EXAMPLE_S)
                        try:
                            if example["kind"] == "pair":
                                result = run_pair(mod, example)
                            else:
                                # One docstring's examples share a namespace, as in doctest.
                                ns = namespaces.setdefault(example["function"], dict(vars(mod)))
                                result = run_doctest(mod, example, ns)
                        finally:
                            signal.alarm(0)
                except Timeout:
                    result = {"outcome": "timeout"}
                except (Exception, SystemExit) as e:  # noqa: BLE001
                    result = {"outcome": "raised", "error": short("%s: %s" % (type(e).__name__, e))}
                report(example, side, result)
    out.close()


if __name__ == "__main__":
    main()
