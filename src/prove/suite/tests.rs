use super::*;

use std::process::Command;

/// Generous: these runs take well under a second, but a loaded CI machine is slow.
const RUN: Duration = Duration::from_secs(60);

/// python3, checked once per test: these tests run real Python and must not pass without it.
fn python3() -> OsString {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(ok, "python3 must be on PATH for these tests");
    OsString::from("python3")
}

/// A temporary project holding `files` (path, text).
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Every path under `root`, relative, sorted.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

fn results(pairs: &[(&str, TestOutcome)]) -> BTreeMap<String, TestOutcome> {
    pairs.iter().map(|(id, o)| (id.to_string(), *o)).collect()
}

fn finished(pairs: &[(&str, TestOutcome)]) -> SuiteRun {
    SuiteRun {
        results: results(pairs),
        problem: None,
        exit: Some(0),
        output_tail: String::new(),
        duration: Duration::ZERO,
    }
}

const BUDGET: &str = "def even_share(total, people):\n    return total / people\n";
/// The fix a model once proposed for a ZeroDivisionError: it zeroed every budget.
const BUDGET_ZEROED: &str =
    "def even_share(total, people):\n    even_share = 0.0\n    return even_share\n";
const TEST_BUDGET: &str = "\
import unittest

from budget import even_share


class ShareTest(unittest.TestCase):
    def test_share(self):
        self.assertEqual(even_share(10, 2), 5)

    def test_whole(self):
        self.assertEqual(even_share(3, 1), 3)
";
const TEST_ALREADY_RED: &str = "\
import unittest


class RedTest(unittest.TestCase):
    def test_red(self):
        self.assertEqual(1, 2)
";

use TestOutcome::{Error, Failed, Passed, Skipped};

#[tokio::test]
async fn unittest_without_init_runs_in_the_tests_folder_and_imports_the_project() {
    let dir = project(&[("budget.py", BUDGET), ("tests/test_budget.py", TEST_BUDGET)]);
    let before = tree(dir.path());
    let suite = Suite::discover(dir.path(), &python3()).await.unwrap();
    assert_eq!(
        suite.runner,
        Runner::Unittest {
            start: "tests".to_string(),
            top_level: false
        }
    );
    assert_eq!(
        suite.command_line(),
        "python3 -m unittest discover -s tests"
    );
    let run = suite.run(dir.path(), None, RUN, &Jail::none()).await;
    assert_eq!(run.problem, None, "{}", run.output_tail);
    assert_eq!(
        run.results,
        results(&[
            ("test_budget.ShareTest.test_share", Passed),
            ("test_budget.ShareTest.test_whole", Passed),
        ])
    );
    assert_eq!(run.exit, Some(0));
    // No runner, result file or bytecode left in the project.
    assert_eq!(tree(dir.path()), before);
}

#[tokio::test]
async fn unittest_package_layout_runs_from_the_top_level() {
    let dir = project(&[
        ("budget.py", BUDGET),
        ("tests/__init__.py", ""),
        ("tests/test_budget.py", TEST_BUDGET),
    ]);
    let suite = Suite::discover(dir.path(), &python3()).await.unwrap();
    assert_eq!(
        suite.runner,
        Runner::Unittest {
            start: "tests".to_string(),
            top_level: true
        }
    );
    assert_eq!(
        suite.command_line(),
        "python3 -m unittest discover -s tests -t ."
    );
    let run = suite.run(dir.path(), None, RUN, &Jail::none()).await;
    assert_eq!(run.problem, None, "{}", run.output_tail);
    assert_eq!(
        run.results,
        results(&[
            ("tests.test_budget.ShareTest.test_share", Passed),
            ("tests.test_budget.ShareTest.test_whole", Passed),
        ])
    );
}

#[tokio::test]
async fn a_test_folder_is_found_when_there_is_no_tests_folder() {
    let dir = project(&[("budget.py", BUDGET), ("test/test_budget.py", TEST_BUDGET)]);
    let suite = Suite::discover(dir.path(), &python3()).await.unwrap();
    assert_eq!(
        suite.runner,
        Runner::Unittest {
            start: "test".to_string(),
            top_level: false
        }
    );
    let run = suite.run(dir.path(), None, RUN, &Jail::none()).await;
    assert_eq!(run.results.len(), 2, "{}", run.output_tail);
}

#[tokio::test]
async fn no_tests_is_none() {
    let python = python3();
    let dir = project(&[("main.py", "print('hi')\n")]);
    assert_eq!(Suite::discover(dir.path(), &python).await, None);
    // pytest-style files, but neither pytest nor a tests folder: nothing runs them.
    let dir = project(&[
        ("main.py", "print('hi')\n"),
        ("pytest.py", "raise ImportError('no pytest here')\n"),
        ("pkg/test_main.py", "def test_a():\n    pass\n"),
    ]);
    assert_eq!(Suite::discover(dir.path(), &python).await, None);
}

// See: the model that turned a ZeroDivisionError into `even_share = 0.0`. The re-run was
// clean; the unit tests were not.
#[tokio::test]
async fn r_even_share_zeroed_a_broken_test_is_named_in_the_verdict() {
    let python = python3();
    let baseline = project(&[
        ("budget.py", BUDGET),
        ("tests/test_budget.py", TEST_BUDGET),
        ("tests/test_red.py", TEST_ALREADY_RED),
    ]);
    let fixed = project(&[
        ("budget.py", BUDGET_ZEROED),
        ("tests/test_budget.py", TEST_BUDGET),
        ("tests/test_red.py", TEST_ALREADY_RED),
    ]);
    let suite = Suite::discover(baseline.path(), &python).await.unwrap();
    let before = suite.run(baseline.path(), None, RUN, &Jail::none()).await;
    let after = suite.run(fixed.path(), None, RUN, &Jail::none()).await;
    assert_eq!(before.problem, None, "{}", before.output_tail);
    assert_eq!(after.problem, None, "{}", after.output_tail);
    assert_eq!(after.exit, Some(1));
    let verdict = compare(&before, &after);
    assert!(!verdict.passed());
    assert_eq!(
        verdict.broken,
        vec![
            Broken {
                id: "test_budget.ShareTest.test_share".to_string(),
                after: Some(Failed)
            },
            Broken {
                id: "test_budget.ShareTest.test_whole".to_string(),
                after: Some(Failed)
            },
        ]
    );
    assert_eq!(verdict.tolerated, vec!["test_red.RedTest.test_red"]);
    assert_eq!(
        verdict.describe(),
        "the fix breaks 2 tests that passed before: test_budget.ShareTest.test_share \
             (failed), test_budget.ShareTest.test_whole (failed); tolerated, already failing \
             before the fix: test_red.RedTest.test_red"
    );

    // The caller re-runs the broken tests once, by id, to rule out a flaky test.
    let again = suite
        .run(
            fixed.path(),
            Some(&verdict.broken_ids()),
            RUN,
            &Jail::none(),
        )
        .await;
    assert_eq!(again.problem, None, "{}", again.output_tail);
    assert_eq!(
        again.results,
        results(&[
            ("test_budget.ShareTest.test_share", Failed),
            ("test_budget.ShareTest.test_whole", Failed),
        ])
    );
}

#[tokio::test]
async fn a_test_already_failing_in_the_baseline_is_tolerated() {
    let files = [
        ("budget.py", BUDGET),
        ("tests/__init__.py", ""),
        ("tests/test_budget.py", TEST_BUDGET),
        ("tests/test_red.py", TEST_ALREADY_RED),
    ];
    let baseline = project(&files);
    let fixed = project(&files);
    let suite = Suite::discover(baseline.path(), &python3()).await.unwrap();
    let before = suite.run(baseline.path(), None, RUN, &Jail::none()).await;
    let after = suite.run(fixed.path(), None, RUN, &Jail::none()).await;
    let verdict = compare(&before, &after);
    assert!(verdict.passed(), "{}", verdict.describe());
    assert_eq!(verdict.tolerated, vec!["tests.test_red.RedTest.test_red"]);
    assert_eq!(
        verdict.describe(),
        "2 tests that passed before still pass; tolerated, already failing before the \
             fix: tests.test_red.RedTest.test_red"
    );
}

#[tokio::test]
async fn only_reruns_the_tests_it_names_in_both_layouts() {
    let python = python3();
    for (init, id) in [
        (false, "test_budget.ShareTest.test_whole"),
        (true, "tests.test_budget.ShareTest.test_whole"),
    ] {
        let mut files = vec![
            ("budget.py", BUDGET),
            ("tests/test_budget.py", TEST_BUDGET),
            ("tests/test_red.py", TEST_ALREADY_RED),
        ];
        if init {
            files.push(("tests/__init__.py", ""));
        }
        let dir = project(&files);
        let suite = Suite::discover(dir.path(), &python).await.unwrap();
        let gone = id.replace("test_whole", "test_gone");
        let run = suite
            .run(
                dir.path(),
                Some(&[id.to_string(), gone.clone()]),
                RUN,
                &Jail::none(),
            )
            .await;
        assert_eq!(run.problem, None, "{}", run.output_tail);
        // A test that no longer exists is not a pass.
        assert_eq!(
            run.results,
            results(&[(id, Passed), (&gone, Error)]),
            "{}",
            run.output_tail
        );
    }
}

#[tokio::test]
async fn a_hanging_test_is_stopped_at_the_timeout() {
    let dir = project(&[(
        "tests/test_hang.py",
        "import time\nimport unittest\n\nclass T(unittest.TestCase):\n    def test_hang(self):\n        time.sleep(600)\n",
    )]);
    let suite = Suite::discover(dir.path(), &python3()).await.unwrap();
    let run = suite
        .run(dir.path(), None, Duration::from_secs(2), &Jail::none())
        .await;
    assert_eq!(
        run.problem,
        Some(SuiteProblem::TimedOut {
            timeout: Duration::from_secs(2)
        })
    );
    assert_eq!(
        run.problem.unwrap().to_string(),
        "the tests did not finish within 2 s and were stopped"
    );
    assert!(run.results.is_empty());
    assert_eq!(run.exit, None);
    assert!(run.duration < Duration::from_secs(30), "{:?}", run.duration);
}

#[tokio::test]
async fn a_test_module_that_cannot_be_imported_is_an_error_entry() {
    let dir = project(&[
        ("budget.py", BUDGET),
        ("tests/test_budget.py", TEST_BUDGET),
        ("tests/test_broken.py", "import no_such_module\n"),
    ]);
    let suite = Suite::discover(dir.path(), &python3()).await.unwrap();
    let run = suite.run(dir.path(), None, RUN, &Jail::none()).await;
    assert_eq!(run.problem, None, "{}", run.output_tail);
    assert_eq!(
        run.results,
        results(&[
            ("test_broken", Error),
            ("test_budget.ShareTest.test_share", Passed),
            ("test_budget.ShareTest.test_whole", Passed),
        ])
    );
    // unittest's own report is kept: the reason shows in the output.
    assert!(
        run.output_tail.contains("No module named 'no_such_module'"),
        "{}",
        run.output_tail
    );
}

#[tokio::test]
async fn outcomes_of_setup_teardown_subtests_skips_and_expected_failures() {
    let dir = project(&[(
        "tests/test_kinds.py",
        "\
import unittest


class Kinds(unittest.TestCase):
    def test_subtest(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertLess(i, 2)

    @unittest.skip('not today')
    def test_skipped(self):
        pass

    @unittest.expectedFailure
    def test_expected_failure(self):
        self.fail()

    @unittest.expectedFailure
    def test_unexpected_success(self):
        pass

    def test_raises(self):
        raise RuntimeError('boom')


class Teardown(unittest.TestCase):
    def tearDown(self):
        raise RuntimeError('teardown')

    def test_fine(self):
        pass


class SetUpClass(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise RuntimeError('setUpClass')

    def test_never(self):
        pass
",
    )]);
    let suite = Suite::discover(dir.path(), &python3()).await.unwrap();
    let run = suite.run(dir.path(), None, RUN, &Jail::none()).await;
    assert_eq!(run.problem, None, "{}", run.output_tail);
    assert_eq!(
        run.results,
        results(&[
            ("setUpClass (test_kinds.SetUpClass)", Error),
            ("test_kinds.Kinds.test_expected_failure", Skipped),
            ("test_kinds.Kinds.test_raises", Error),
            ("test_kinds.Kinds.test_skipped", Skipped),
            ("test_kinds.Kinds.test_subtest", Failed),
            ("test_kinds.Kinds.test_unexpected_success", Failed),
            ("test_kinds.Teardown.test_fine", Error),
        ])
    );
}

#[tokio::test]
async fn a_runner_that_ends_without_results_says_why() {
    let dir = project(&[("budget.py", BUDGET)]);
    let suite = Suite {
        python: python3(),
        runner: Runner::Unittest {
            start: "no_such_folder".to_string(),
            top_level: false,
        },
    };
    let run = suite.run(dir.path(), None, RUN, &Jail::none()).await;
    let Some(SuiteProblem::NoResults { how, last_lines }) = &run.problem else {
        panic!("{:?}", run.problem);
    };
    assert_eq!(how, "exited with code 1");
    assert!(last_lines.contains("ImportError"), "{last_lines}");
    assert!(run.results.is_empty());
}

#[tokio::test]
async fn a_python_that_cannot_start_is_a_problem() {
    let dir = project(&[("tests/test_a.py", "")]);
    let suite = Suite {
        python: OsString::from("/no/such/python"),
        runner: Runner::Pytest,
    };
    let run = suite.run(dir.path(), None, RUN, &Jail::none()).await;
    assert!(
        matches!(&run.problem, Some(SuiteProblem::Start { python, .. }) if python == "/no/such/python"),
        "{:?}",
        run.problem
    );
}

/// A stand-in for pytest, importable from the project root, that drives the runner's
/// plugin the way pytest 9 does (real pytest is checked by hand: it is not installed here).
const FAKE_PYTEST: &str = "\
import os


class Report:
    def __init__(self, nodeid, when, outcome):
        self.nodeid, self.when, self.outcome = nodeid, when, outcome
        self.passed = outcome == 'passed'
        self.failed = outcome == 'failed'
        self.skipped = outcome == 'skipped'


class Item:
    def __init__(self, nodeid):
        self.nodeid = nodeid


class Hook:
    def pytest_deselected(self, items):
        pass


class Config:
    hook = Hook()


RUNS = {
    'tests/test_a.py::test_ok': [('setup', 'passed'), ('call', 'passed'), ('teardown', 'passed')],
    'tests/test_a.py::test_red': [('setup', 'passed'), ('call', 'failed'), ('teardown', 'passed')],
    'tests/test_a.py::test_setup': [('setup', 'failed'), ('teardown', 'passed')],
    'tests/test_a.py::test_teardown': [('setup', 'passed'), ('call', 'passed'), ('teardown', 'failed')],
    'tests/test_a.py::test_skip': [('setup', 'skipped'), ('teardown', 'passed')],
    'tests/test_a.py::test_p[1-2]': [('setup', 'passed'), ('call', 'passed'), ('teardown', 'passed')],
}


def main(args, plugins):
    assert args[:3] == ['-q', '-p', 'no:cacheprovider'], args
    assert args[args.index('--rootdir') + 1] == os.getcwd(), args
    assert '--continue-on-collection-errors' in args, args
    (plugin,) = plugins
    plugin.pytest_collectreport(Report('tests', 'collect', 'passed'))
    plugin.pytest_collectreport(Report('tests/test_b.py', 'collect', 'failed'))
    items = [Item(nodeid) for nodeid in RUNS]
    plugin.pytest_collection_modifyitems(None, Config(), items)
    for item in items:
        for when, outcome in RUNS[item.nodeid]:
            plugin.pytest_runtest_logreport(Report(item.nodeid, when, outcome))
    return 1
";

#[tokio::test]
async fn pytest_is_chosen_when_importable_and_its_reports_are_recorded() {
    let dir = project(&[
        ("pytest.py", FAKE_PYTEST),
        ("tests/test_a.py", "def test_ok():\n    pass\n"),
    ]);
    let suite = Suite::discover(dir.path(), &python3()).await.unwrap();
    assert_eq!(suite.runner, Runner::Pytest);
    assert_eq!(suite.command_line(), "python3 -m pytest");
    let run = suite.run(dir.path(), None, RUN, &Jail::none()).await;
    assert_eq!(run.problem, None, "{}", run.output_tail);
    assert_eq!(run.exit, Some(1));
    assert_eq!(
        run.results,
        results(&[
            ("tests/test_a.py::test_ok", Passed),
            ("tests/test_a.py::test_p[1-2]", Passed),
            ("tests/test_a.py::test_red", Failed),
            ("tests/test_a.py::test_setup", Error),
            ("tests/test_a.py::test_skip", Skipped),
            ("tests/test_a.py::test_teardown", Error),
            ("tests/test_b.py::<collect>", Error),
        ])
    );

    let only = ["tests/test_a.py::test_p[1-2]".to_string()];
    let run = suite.run(dir.path(), Some(&only), RUN, &Jail::none()).await;
    assert_eq!(
        run.results,
        results(&[
            ("tests/test_a.py::test_p[1-2]", Passed),
            ("tests/test_b.py::<collect>", Error),
        ])
    );
}

#[tokio::test]
async fn pytest_that_cannot_be_imported_falls_back_to_unittest() {
    let dir = project(&[
        ("pytest.py", "raise ImportError('no pytest here')\n"),
        ("conftest.py", ""),
        ("tests/test_budget.py", TEST_BUDGET),
    ]);
    let suite = Suite::discover(dir.path(), &python3()).await.unwrap();
    assert!(matches!(suite.runner, Runner::Unittest { .. }));
}

#[tokio::test]
async fn pytest_stopping_early_is_a_problem() {
    let dir = project(&[
        ("pytest.py", "def main(args, plugins):\n    return 4\n"),
        ("tests/test_a.py", ""),
    ]);
    let suite = Suite::discover(dir.path(), &python3()).await.unwrap();
    let run = suite.run(dir.path(), None, RUN, &Jail::none()).await;
    assert_eq!(
        run.problem.map(|p| p.to_string()).as_deref(),
        Some("pytest stopped before the end: usage error (exit code 4)")
    );
}

#[test]
fn pytest_configuration_is_recognised() {
    let check = |name: &str, text: &str, expected: bool| {
        assert_eq!(declares_pytest(name, text), expected, "{name}: {text:?}");
    };
    check("pytest.ini", "", true);
    check("pytest.toml", "", true);
    check(
        "pyproject.toml",
        "[tool.pytest.ini_options]\naddopts = \"-q\"\n",
        true,
    );
    check(
        "pyproject.toml",
        "[project]\n  [ tool.pytest.ini_options ]\n",
        true,
    );
    check("pyproject.toml", "[tool.pytest]\n", true);
    check("pyproject.toml", "[tool.black]\n", false);
    check(
        "pyproject.toml",
        "# [tool.pytest.ini_options] is not here\n",
        false,
    );
    check("setup.cfg", "[metadata]\n[tool:pytest]\n", true);
    check("setup.cfg", "[pytest]\n", false);
    check("tox.ini", "[tox]\n[pytest]\n", true);
    check("tox.ini", "[testenv]\ncommands = pytest\n", false);
    check("README.md", "[pytest]\n", false);
}

#[test]
fn test_files_are_named_the_pytest_way() {
    for (name, expected) in [
        ("test_budget.py", true),
        ("budget_test.py", true),
        ("test_.py", true),
        ("testing.py", false),
        ("test_budget.pyc", false),
        ("budget.py", false),
        ("conftest.py", false),
    ] {
        assert_eq!(is_test_file(name), expected, "{name}");
    }
}

#[test]
fn the_walk_skips_environments_hidden_folders_and_storage() {
    for skipped in [
        ".venv/lib/test_x.py",
        "venv/test_x.py",
        "node_modules/a/test_x.py",
        ".tox/test_x.py",
        "storage/test_x.py",
        "lib/site-packages/pkg/test_x.py",
        "__pycache__/test_x.py",
    ] {
        let dir = project(&[(skipped, "")]);
        assert!(!has_test_files(dir.path()), "{skipped}");
    }
    let dir = project(&[("src/pkg/deep/budget_test.py", "")]);
    assert!(has_test_files(dir.path()));
}

#[test]
fn results_are_read_and_unknown_outcomes_are_errors() {
    let text = r#"{"tests": {"a": "passed", "b": "failed", "c": "error", "d": "skipped", "e": "xpassed"}}"#;
    assert_eq!(
        parse_results(text).unwrap(),
        results(&[
            ("a", Passed),
            ("b", Failed),
            ("c", Error),
            ("d", Skipped),
            ("e", Error),
        ])
    );
    assert!(matches!(
        parse_results("{\"tests\": 3}"),
        Err(SuiteProblem::BadResults(_))
    ));
    assert!(matches!(
        parse_results(""),
        Err(SuiteProblem::BadResults(_))
    ));
}

#[test]
fn compare_sorts_each_test() {
    let baseline = finished(&[
        ("kept", Passed),
        ("broke", Passed),
        ("errored", Passed),
        ("vanished", Passed),
        ("now_skipped", Passed),
        ("red", Failed),
        ("red_error", Error),
        ("mended", Failed),
        ("skipped", Skipped),
    ]);
    let fixed = finished(&[
        ("kept", Passed),
        ("broke", Failed),
        ("errored", Error),
        ("now_skipped", Skipped),
        ("red", Failed),
        ("red_error", Passed),
        ("mended", Passed),
        ("skipped", Failed),
        ("tests/test_x.py::<collect>", Error),
        ("new_and_fine", Passed),
    ]);
    let verdict = compare(&baseline, &fixed);
    let broken = |id: &str, after| Broken {
        id: id.to_string(),
        after,
    };
    assert_eq!(
        verdict,
        SuiteVerdict {
            broken: vec![
                broken("broke", Some(Failed)),
                broken("errored", Some(Error)),
                broken("now_skipped", Some(Skipped)),
                broken("vanished", None),
            ],
            tolerated: vec!["red".to_string()],
            newly_passing: vec!["mended".to_string(), "red_error".to_string()],
            new_failures: vec!["tests/test_x.py::<collect>".to_string()],
            still_passing: 1,
        }
    );
    assert_eq!(
        verdict.describe(),
        "the fix breaks 4 tests that passed before: broke (failed), errored (error), \
             now_skipped (skipped), vanished (did not run); new errors: \
             tests/test_x.py::<collect>; tolerated, already failing before the fix: red; now \
             passing: mended, red_error"
    );
}

#[test]
fn compare_of_identical_runs_passes() {
    let run = finished(&[("a", Passed)]);
    let verdict = compare(&run, &run);
    assert!(verdict.passed());
    assert_eq!(verdict.describe(), "1 test that passed before still passes");
    let empty = finished(&[]);
    assert_eq!(
        compare(&empty, &empty).describe(),
        "0 tests that passed before still pass"
    );
}

#[test]
fn long_lists_are_cut() {
    let names: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
    assert_eq!(
        listing(&names),
        "t0, t1, t2, t3, t4, t5, t6, t7, t8, t9 and 2 more"
    );
}

#[test]
fn last_lines_skips_blank_lines() {
    assert_eq!(last_lines("a\n\nb\n  \nc\n", 2), "b\nc");
    assert_eq!(last_lines("", 2), "");
}
