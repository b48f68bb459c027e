"""heal's test runner: runs a project's tests with pytest or unittest and writes one JSON file.

    python runner.py --out RESULT.json [--ids IDS.json] pytest [ID ...]
    python runner.py --out RESULT.json [--ids IDS.json] unittest --start DIR [--top DIR] [ID ...]

RESULT.json is {"tests": {"<test id>": "passed" | "failed" | "error" | "skipped"}}, written
atomically once the run is over: a missing file means the run did not finish.

heal writes this file outside the project and runs it with the project folder as the current
directory. It must never change how the tests print (the runners keep their usual output), and
never write into the project (no cache, no result file there).

Test ids are the runners' own: pytest node ids ("tests/test_x.py::test_y") and unittest ids
("tests.test_x.T.test_y"). A test module that cannot be collected or imported is an "error"
entry named after it: "tests/test_x.py::<collect>" for pytest, "tests.test_x" for unittest.
Given ids (the arguments or the JSON list in --ids), only those tests run; for pytest, a test
file given as an id selects every test in it, and for unittest a module or class name does.
"""

import argparse
import json
import os
import sys

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
# When one test is reported more than once (a call that passed and a teardown that failed),
# the worst report wins.
RANK = {SKIPPED: 0, PASSED: 1, FAILED: 2, ERROR: 3}
COLLECT = "::<collect>"


class Results:
    def __init__(self):
        self.tests = {}

    def record(self, test_id, outcome):
        old = self.tests.get(test_id)
        if old is None or RANK[outcome] > RANK[old]:
            self.tests[test_id] = outcome

    def write(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"tests": self.tests}, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def importable_project():
    """Puts the project folder where `python -m` puts it: first on sys.path, in place of this
    script's folder, so the tests import the project's modules and not heal's files."""
    here = os.path.realpath(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") != here]
    if not getattr(sys.flags, "safe_path", False):
        sys.path.insert(0, os.getcwd())


# ---------------------------------------------------------------- pytest


class Collector:
    """A pytest plugin recording each test's outcome by node id."""

    def __init__(self, results, only):
        self.results = results
        self.only = only

    def pytest_collectreport(self, report):
        if report.failed:
            self.results.record((report.nodeid or ".") + COLLECT, ERROR)

    def pytest_collection_modifyitems(self, session, config, items):
        # Only the given tests run, but everything is collected as in a full run: the node ids
        # stay the same, and a collection error is seen again under its own name.
        if self.only is None:
            return
        keep = [item for item in items if self.selected(item.nodeid)]
        dropped = [item for item in items if not self.selected(item.nodeid)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep

    def selected(self, nodeid):
        # A test file given as an id selects every test in it.
        return nodeid in self.only or any(nodeid.startswith(o + "::") for o in self.only)

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            outcome = {"passed": PASSED, "failed": FAILED, "skipped": SKIPPED}[report.outcome]
        elif report.failed:
            outcome = ERROR
        elif report.skipped:
            outcome = SKIPPED
        else:
            return
        self.results.record(report.nodeid, outcome)


def run_pytest(results, only):
    import pytest

    args = [
        "-q",
        # No .pytest_cache in the project.
        "-p",
        "no:cacheprovider",
        # Node ids relative to the project folder, whatever folders above it hold.
        "--rootdir",
        os.getcwd(),
        # One test module that fails to import must not hide every other test's result.
        "--continue-on-collection-errors",
    ]
    code = pytest.main(args, plugins=[Collector(results, only)])
    return int(code)


# ---------------------------------------------------------------- unittest


def flatten(suite):
    import unittest

    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from flatten(test)
        else:
            yield test


def is_loader_stand_in(test):
    """unittest's stand-ins for a module it could not import (or skipped whole)."""
    return type(test).__module__ == "unittest.loader"


def test_id(test):
    # A stand-in's id is "unittest.loader._FailedTest.<module>": the module is the name.
    return test._testMethodName if is_loader_stand_in(test) else test.id()


def recording_result(results):
    import unittest

    class Recording(unittest.TextTestResult):
        def addSuccess(self, test):
            super().addSuccess(test)
            results.record(test_id(test), PASSED)

        def addFailure(self, test, err):
            super().addFailure(test, err)
            results.record(test_id(test), FAILED)

        def addError(self, test, err):
            super().addError(test, err)
            # setUpClass/setUpModule failures come as an _ErrorHolder whose id() says where.
            results.record(test_id(test), ERROR)

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            results.record(test_id(test), SKIPPED)

        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err)
            results.record(test_id(test), SKIPPED)

        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test)
            results.record(test_id(test), FAILED)

        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is not None:
                failed = issubclass(err[0], test.failureException)
                results.record(test_id(test), FAILED if failed else ERROR)

    return Recording


def run_unittest(results, only, start, top):
    import unittest

    loader = unittest.TestLoader()
    load_failed = False
    if only is None:
        suite = loader.discover(start, top_level_dir=top)
    else:
        # discover() would put the top-level folder on sys.path; loading by name needs it too.
        base = os.path.abspath(top if top is not None else start)
        if base not in sys.path:
            sys.path.insert(0, base)
        suite = unittest.TestSuite()
        for name in sorted(only):
            loaded = loader.loadTestsFromName(name)
            if any(type(t).__name__ == "_FailedTest" for t in flatten(loaded)):
                # The stand-in is named after the part that failed to load; the caller asked
                # for this name, so this name is the one that did not pass.
                results.record(name, ERROR)
                load_failed = True
                for message in loader.errors:
                    sys.stderr.write(message)
                loader.errors = []
                continue
            suite.addTests(loaded)
    runner = unittest.TextTestRunner(resultclass=recording_result(results))
    result = runner.run(suite)
    return 0 if result.wasSuccessful() and not load_failed else 1


# ---------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="runner.py")
    parser.add_argument("--out", required=True)
    parser.add_argument("--ids", help="a JSON list of test ids to run, instead of all")
    kinds = parser.add_subparsers(dest="kind", required=True)
    p = kinds.add_parser("pytest")
    p.add_argument("only", nargs="*")
    u = kinds.add_parser("unittest")
    u.add_argument("--start", required=True)
    u.add_argument("--top")
    u.add_argument("only", nargs="*")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    out = os.path.abspath(args.out)
    only = None
    if args.ids is not None or args.only:
        only = set(args.only)
        if args.ids is not None:
            with open(args.ids, encoding="utf-8") as f:
                only.update(json.load(f))
    importable_project()
    results = Results()
    if args.kind == "pytest":
        code = run_pytest(results, only)
    else:
        code = run_unittest(results, only, args.start, args.top)
    results.write(out)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
