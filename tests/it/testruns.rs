//! `heal run -- python -m pytest` and `python -m unittest`: one incident per failing test, the
//! code under test as its context, a fix proved by re-running that test, tests never edited.
//! Real pytest, from the venv `.ci/run` makes (`target/test-venv`). See: issue 11.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::Project;
use crate::support::git::git;

/// The python of the test venv, with pytest installed; a missing venv fails loudly.
fn venv_python() -> String {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python");
    let ok = std::process::Command::new(&python)
        .args(["-c", "import pytest"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} has no pytest: run `bash .ci/run` once, or `python3 -m venv target/test-venv && \
         target/test-venv/bin/pip install pytest==9.2.0`",
        python.display()
    );
    python.to_string_lossy().into_owned()
}

const STATS: &str = "\
def last(values):
    return values[len(values)]


def average(values):
    total = 0
    for v in values:
        total += v
    return totl / len(values)


def median(values):
    s = sorted(values)
    return s[len(s) // 2]
";

const TEST_STATS: &str = "\
from stats import last, average, median


def test_last():
    assert last([1, 2, 3]) == 3


def test_average():
    assert average([1, 2, 3]) == 2


def test_median():
    assert median([1, 2, 3, 4]) == 2.5


class TestMore:
    def test_last_one(self):
        assert last([5]) == 5
";

fn project(files: &[(&str, &str)]) -> Project {
    let mut p = Project::new();
    for (rel, text) in files {
        p.file(rel, text);
    }
    p.file(".gitignore", "storage/\n");
    p.env("HEAL_PROVIDER", "none");
    p.env("HEAL_GIT_MODE", "commit");
    git(p.path(), &["init", "-q", "-b", "main"]);
    git(p.path(), &["add", "."]);
    git(p.path(), &["commit", "-q", "-m", "initial"]);
    p
}

fn by_test<'a>(records: &'a [Value], id: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["context"]["test"]["id"] == id)
        .unwrap_or_else(|| panic!("no incident for {id}: {records:#?}"))
}

#[test]
fn r11_each_failing_test_is_an_incident_and_a_rule_fix_is_proved_by_its_test() {
    let p = project(&[("stats.py", STATS), ("tests/test_stats.py", TEST_STATS)]);
    let python = venv_python();
    let run = p.run(&["run", "--", &python, "-m", "pytest", "-q"]);
    // The run is run again once after the fix; IndexErrors remain (no model), so it fails.
    assert_eq!(run.code, Some(1), "{run:?}");
    let records = p.records();
    // One incident per failing test, even where two fail the same way.
    let last = by_test(&records, "tests/test_stats.py::test_last");
    let last_one = by_test(&records, "tests/test_stats.py::TestMore::test_last_one");
    assert_ne!(last["id"], last_one["id"]);
    for r in [last, last_one] {
        assert_eq!(r["error"]["type"], "IndexError");
        assert_eq!(r["error"]["stream"], "stdout");
        // The context is the code under test, not the test.
        assert_eq!(r["context"]["file"], "stats.py", "{r:#}");
        assert_eq!(r["context"]["function"], "last");
        assert_eq!(r["context"]["line"], 2);
    }

    // The misspelt name is fixed by a rule, proved by re-running its test (and its file's).
    let avg = by_test(&records, "tests/test_stats.py::test_average");
    assert_eq!(avg["status"], "committed", "{avg:#}");
    assert_eq!(avg["fix"]["source"], "rule:nearest-name");
    let test_step = avg["fix"]["validation"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "test")
        .unwrap();
    assert_eq!(test_step["passed"], true, "{test_step:#}");
    let command = test_step["command"].as_str().unwrap();
    assert!(
        command.contains("tests/test_stats.py::test_average"),
        "{command}"
    );
    assert!(
        test_step["detail"].as_str().unwrap().contains("passes now"),
        "{test_step:#}"
    );
    // The commit holds the code under test, not the test.
    let files = git(p.path(), &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files, "stats.py");
    assert_eq!(
        std::fs::read_to_string(p.path().join("tests/test_stats.py")).unwrap(),
        TEST_STATS
    );
    assert!(
        std::fs::read_to_string(p.path().join("stats.py"))
            .unwrap()
            .contains("return total / len(values)")
    );
    // The second run saw the average pass: the run was run again after the fix.
    assert!(run.stdout.matches("test_average").count() >= 1, "{run:?}");

    // A bare assert mismatch points at the function the test calls, and says so.
    let median = by_test(&records, "tests/test_stats.py::test_median");
    assert_eq!(median["error"]["type"], "AssertionError");
    assert_eq!(median["context"]["file"], "stats.py", "{median:#}");
    assert_eq!(median["context"]["function"], "median");
    assert!(
        median["context"]["test"]["located_by"]
            .as_str()
            .unwrap()
            .contains("assert median([1, 2, 3, 4]) == 2.5"),
        "{median:#}"
    );
}

#[test]
fn r11_a_collection_error_is_recorded_and_not_fixed() {
    let p = project(&[
        ("stats.py", "def last(values):\n    return values[-1]\n"),
        (
            "tests/test_stats.py",
            "import numpy_that_is_not_installed\nfrom stats import last\n\n\ndef test_last():\n    assert last([1]) == 1\n",
        ),
    ]);
    let python = venv_python();
    let run = p.run(&["run", "--", &python, "-m", "pytest", "-q"]);
    assert_ne!(run.code, Some(0), "{run:?}");
    let r = p.record();
    assert_eq!(r["context"]["test"]["phase"], "collect", "{r:#}");
    assert_eq!(r["status"], "skipped", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("not a code bug") && reason.contains("a module is missing"),
        "{reason}"
    );
    assert!(r["fix"].is_null());
    assert_eq!(git(p.path(), &["rev-list", "--count", "HEAD"]), "1");
}

#[test]
fn r11_a_unittest_run_gets_its_failure_fixed_by_its_test() {
    let code = "def ratio(a, b):\n    result = a / b\n    return reslt\n";
    let test = "import unittest\n\nfrom calc import ratio\n\n\nclass TestCalc(unittest.TestCase):\n    def test_ratio(self):\n        self.assertEqual(ratio(6, 3), 2)\n\n    def test_other(self):\n        self.assertEqual(1 + 1, 2)\n";
    let p = project(&[
        ("calc.py", code),
        ("tests/__init__.py", ""),
        ("tests/test_calc.py", test),
    ]);
    let run = p.run(&["run", "--", "python3", "-m", "unittest", "-v"]);
    // Fixed, then run again: every test passes, and heal exits with the run's status.
    assert_eq!(run.code, Some(0), "{run:?}");
    let r = p.record();
    assert_eq!(
        r["context"]["test"]["id"], "tests.test_calc.TestCalc.test_ratio",
        "{r:#}"
    );
    assert_eq!(r["context"]["file"], "calc.py");
    assert_eq!(r["status"], "committed", "{r:#}");
    let steps: Vec<&str> = r["fix"]["validation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["syntax", "test"]);
    assert_eq!(
        std::fs::read_to_string(p.path().join("tests/test_calc.py")).unwrap(),
        test
    );
}

#[test]
fn r11_tb_line_is_said_to_give_too_little_once() {
    let p = project(&[("stats.py", STATS), ("tests/test_stats.py", TEST_STATS)]);
    let python = venv_python();
    let run = p.run(&["run", "--", &python, "-m", "pytest", "-q", "--tb=line"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stderr.matches("--tb=short").count(), 1, "{run:?}");
    // Nothing was changed.
    assert_eq!(
        std::fs::read_to_string(p.path().join("stats.py")).unwrap(),
        STATS
    );
}
