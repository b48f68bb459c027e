use super::*;
use crate::detect::python;

const ROOT: &str = "/srv/app";

fn tb(text: &str, origin: &str) -> Traceback {
    // A pytest block starts at its section title, as the scanner hands it out.
    let text = if text.starts_with("Traceback") {
        text.to_string()
    } else {
        format!("________ {origin} ________\n{text}")
    };
    let mut tb = python::parse(&text).traceback.unwrap();
    tb.origin = Some(origin.to_string());
    tb
}

const PYTEST_LONG: &str = "\
    def test_last():
>       assert last([1, 2, 3]) == 3
               ^^^^^^^^^^^^^^^

tests/test_stats.py:5: 
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ 

values = [1, 2, 3]

    def last(values):
>       return values[len(values)]
               ^^^^^^^^^^^^^^^^^^^
E       IndexError: list index out of range

stats.py:2: IndexError
";

fn words(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn commands_that_run_tests_are_known() {
    let root = Path::new("/nowhere");
    let run = TestRun::of(&words(&["python3", "-m", "pytest", "-x", "-q"]), root).unwrap();
    assert_eq!(
        (run.runner, run.python.clone()),
        (Runner::Pytest, "python3".into())
    );
    assert_eq!(run.too_little, None);
    let run = TestRun::of(&words(&[".venv/bin/python", "-m", "unittest"]), root).unwrap();
    assert_eq!(run.runner, Runner::Unittest);
    assert_eq!(run.python, OsString::from("/nowhere/.venv/bin/python"));
    assert!(TestRun::of(&words(&["python3", "main.py"]), root).is_none());
    assert!(TestRun::of(&words(&["python3", "-m", "http.server"]), root).is_none());
    let run = TestRun::of(&words(&["python3", "-m", "pytest", "--tb=line"]), root).unwrap();
    assert!(run.too_little.unwrap().contains("--tb=short"));
    let run = TestRun::of(&words(&["python3", "-m", "pytest", "--tb", "no"]), root).unwrap();
    assert!(run.too_little.is_some());
}

#[test]
fn a_configured_tb_style_is_read_from_addopts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pytest.ini"),
        "[pytest]\naddopts = -q --tb=line\n",
    )
    .unwrap();
    let run = TestRun::of(&words(&["python3", "-m", "pytest"]), dir.path()).unwrap();
    assert!(run.too_little.is_some());
}

#[test]
fn test_files_are_told_apart_from_code() {
    for rel in [
        "tests/test_x.py",
        "test_x.py",
        "pkg/x_test.py",
        "conftest.py",
        "tests/helpers.py",
        "pkg/test/util.py",
    ] {
        assert!(is_test_file(rel), "{rel}");
    }
    for rel in ["stats.py", "pkg/testing_tools.py", "src/latest.py"] {
        assert!(!is_test_file(rel), "{rel}");
    }
}

#[test]
fn pytest_titles_give_node_ids_and_phases() {
    let t = tb(PYTEST_LONG, "test_last");
    let f = failure(&t, Runner::Pytest, &[ROOT]).unwrap();
    assert_eq!(f.id, "tests/test_stats.py::test_last");
    assert_eq!(f.phase, Phase::Call);
    assert_eq!(f.file.as_deref(), Some("tests/test_stats.py"));

    let in_class = PYTEST_LONG.replace("def test_last():", "def test_last_one(self):");
    let t = tb(&in_class, "TestMore.test_last_one[1.5-x]");
    let f = failure(&t, Runner::Pytest, &[ROOT]).unwrap();
    assert_eq!(f.id, "tests/test_stats.py::TestMore::test_last_one[1.5-x]");

    let t = tb(PYTEST_LONG, "ERROR at setup of test_last");
    let f = failure(&t, Runner::Pytest, &[ROOT]).unwrap();
    assert_eq!(
        (f.id.as_str(), f.phase),
        ("tests/test_stats.py::test_last", Phase::Setup)
    );

    let t = tb(PYTEST_LONG, "ERROR collecting tests/test_stats.py");
    let f = failure(&t, Runner::Pytest, &[ROOT]).unwrap();
    assert_eq!(
        (f.id.as_str(), f.phase),
        ("tests/test_stats.py", Phase::Collect)
    );
}

#[test]
fn unittest_headers_give_dotted_ids() {
    let text = "Traceback (most recent call last):\n  File \"/srv/app/tests/test_x.py\", line 5, in test_eq\n    self.assertEqual(f(), 1)\nAssertionError: 2 != 1\n";
    for (origin, id, phase) in [
        (
            "FAIL: test_eq (tests.test_x.T.test_eq)",
            "tests.test_x.T.test_eq",
            Phase::Call,
        ),
        (
            "ERROR: test_eq (tests.test_x.T)",
            "tests.test_x.T.test_eq",
            Phase::Call,
        ),
        (
            "ERROR: setUpClass (tests.test_x.T)",
            "tests.test_x.T",
            Phase::Setup,
        ),
        (
            "ERROR: test_x (unittest.loader._FailedTest.test_x)",
            "test_x",
            Phase::Collect,
        ),
    ] {
        let f = failure(&tb(text, origin), Runner::Unittest, &[ROOT]).unwrap();
        assert_eq!((f.id.as_str(), f.phase), (id, phase), "{origin}");
    }
    // A block without a test header is no test's failure.
    let mut plain = tb(text, "");
    plain.origin = None;
    assert!(failure(&plain, Runner::Unittest, &[ROOT]).is_none());
}

#[test]
fn the_code_under_test_is_the_innermost_frame_outside_the_tests() {
    let t = tb(PYTEST_LONG, "test_last");
    let loc = code_under_test(&t, &[ROOT]).unwrap();
    assert_eq!(
        (loc.file.as_str(), loc.function.as_str(), loc.line),
        ("stats.py", "last", 2)
    );
    let only_test = "Traceback (most recent call last):\n  File \"/srv/app/tests/test_x.py\", line 5, in test_eq\n    assert f() == 1\nAssertionError\n";
    assert!(code_under_test(&tb(only_test, "test_eq"), &[ROOT]).is_none());
}

#[test]
fn collection_errors_and_fixtures_without_their_service_are_not_code_bugs() {
    let missing = "Traceback (most recent call last):\n  File \"/srv/app/tests/test_x.py\", line 1, in <module>\n    import requests\nModuleNotFoundError: No module named 'requests'\n";
    let t = tb(missing, "ERROR collecting tests/test_x.py");
    let f = failure(&t, Runner::Pytest, &[ROOT]).unwrap();
    let why = not_a_code_bug(&t, &f).unwrap();
    assert!(why.contains("a module is missing"), "{why}");

    let refused = "Traceback (most recent call last):\n  File \"/srv/app/tests/conftest.py\", line 9, in db\n    return connect()\nConnectionRefusedError: [Errno 111] Connection refused\n";
    let t = tb(refused, "ERROR at setup of test_query");
    let f = failure(&t, Runner::Pytest, &[ROOT]).unwrap();
    assert!(not_a_code_bug(&t, &f).unwrap().contains("needs something"));

    let t = tb(PYTEST_LONG, "test_last");
    let f = failure(&t, Runner::Pytest, &[ROOT]).unwrap();
    assert_eq!(not_a_code_bug(&t, &f), None);
}

#[test]
fn a_bare_assert_points_at_the_function_the_test_calls() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("stats.py"),
        "import math\n\n\ndef median(values):\n    s = sorted(values)\n    return s[len(s) // 2]\n\n\nclass Budget:\n    def __init__(self, total):\n        self.total = total\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tests/test_stats.py"),
        "import pytest\nfrom stats import (\n    median,\n    Budget as B,\n)\nimport stats\n",
    )
    .unwrap();
    let at = |code: &str| call(dir.path(), "tests/test_stats.py", code);
    let loc = at("assert median([1, 2, 3, 4]) == 2.5").unwrap();
    assert_eq!(
        (loc.file.as_str(), loc.function.as_str(), loc.line),
        ("stats.py", "median", 4)
    );
    assert_eq!(loc.module, "stats");
    assert_eq!(
        at("assert B(3).total == 4").unwrap().function,
        "Budget.__init__"
    );
    assert_eq!(
        at("assert stats.median([1]) == 1").unwrap().function,
        "median"
    );
    assert_eq!(at("assert len(x) == 2"), None);
    assert_eq!(at("self.assertEqual(unknown(1), 2)"), None);
}

#[test]
fn the_selection_holds_the_test_its_file_and_the_tests_of_touched_modules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("tests/test_stats.py"),
        "from stats import last\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("tests/test_report.py"), "import stats\n").unwrap();
    std::fs::write(dir.path().join("tests/test_other.py"), "import json\n").unwrap();
    let f = Failure {
        id: "tests/test_stats.py::test_last".into(),
        phase: Phase::Call,
        file: Some("tests/test_stats.py".into()),
    };
    let got = selection(dir.path(), Runner::Pytest, &f, &["stats.py".to_string()]);
    assert_eq!(
        got,
        [
            "tests/test_stats.py::test_last",
            "tests/test_stats.py",
            "tests/test_report.py"
        ]
    );
    let f = Failure {
        id: "tests.test_stats.T.test_last".into(),
        phase: Phase::Call,
        file: None,
    };
    let got = selection(dir.path(), Runner::Unittest, &f, &["stats.py".to_string()]);
    assert_eq!(
        got,
        [
            "tests.test_stats.T.test_last",
            "tests.test_stats",
            "tests.test_report"
        ]
    );
}
