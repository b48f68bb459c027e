//! The project's own tests as part of the proof: finds them ([`Suite::discover`]), runs them in
//! a copy of the project through one small runner script for pytest and unittest alike
//! ([`Suite::run`]), and compares the run in the baseline copy (the program as it was) with the
//! run in the fixed copy ([`compare`]).
//!
//! A test that passed in the baseline and does not pass after the fix (failed, error, skipped,
//! or missing) breaks the fix, by name. A test that already failed in the baseline is
//! tolerated and listed: a fix for one crash need not mend an unrelated red test.
//!
//! It must never write into the copy beyond what the tests themselves write (the runner and
//! its result file live in a temporary folder outside the copy; no bytecode, no pytest cache),
//! never leave a process behind (each run goes through [`super::run::run`], which kills the
//! whole process group), and never report a result it did not read: a run that did not finish
//! says why in [`SuiteRun::problem`].
//!
//! Decisions:
//! - **One runner, one format.** `runner.py` (embedded) drives either runner in-process and
//!   writes `{"tests": {"<id>": "passed" | "failed" | "error" | "skipped"}}` atomically at the
//!   end, so heal parses one JSON file instead of two text reports. Test ids are the runners'
//!   own (pytest node ids, unittest `test.id()`), stable between copies and usable to re-run
//!   one test; a module that cannot be collected or imported is an `error` entry named after
//!   it (`tests/test_x.py::<collect>`, `tests.test_x`).
//! - **pytest keeps going past a collection error** (`--continue-on-collection-errors`): one
//!   test module that no longer imports must not hide every other test's result. Its node ids
//!   are pinned to the copy (`--rootdir`), so the baseline's and the fix's ids match.
//! - **`only` selects, it does not narrow collection.** pytest collects as in a full run and
//!   deselects the rest, so ids and collection errors read the same as in the full run; a test
//!   id that no longer exists is simply missing (not passing).
//! - **Skipped after passing is broken.** A fix that turns a feature flag off and skips the
//!   tests that covered it has removed what it should have kept.
//! - **The project folder comes first on `sys.path`**, as with `python -m pytest` and
//!   `python -m unittest`, so the tests import the project's modules.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::jail::Jail;
use super::run;

/// The runner script, written to a temporary folder outside the copy for each run.
const RUNNER_PY: &str = include_str!("runner.py");
/// How long `python -c "import pytest"` may take before pytest counts as missing.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Folder entries looked at when searching for test files; a tree bigger than this is not
/// searched to the end (breadth first, so `tests/` near the root is seen early).
const MAX_WALK_ENTRIES: usize = 20_000;
/// Bytes read from a configuration file when looking for a pytest section.
const MAX_CONFIG_BYTES: u64 = 1_000_000;
/// Folders never searched for test files: tools, environments, caches and heal's storage.
const WALK_SKIPPED: &[&str] = &[
    ".git",
    "__pycache__",
    "node_modules",
    ".venv",
    "venv",
    "storage",
    "site-packages",
];
/// Test names listed in a description before "and N more".
const LISTED: usize = 10;
/// Output lines quoted when the runner ended without results.
const QUOTED_LINES: usize = 5;

/// Which runner runs the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    /// `python -m pytest`, with the project's own configuration.
    Pytest,
    /// `python -m unittest discover -s <start>`, plus `-t .` when `top_level` (the start folder
    /// is a package, so its modules import as `<start>.test_x`).
    Unittest { start: String, top_level: bool },
}

/// A project's tests and how to run them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suite {
    /// The interpreter: a name looked up on `PATH` or an absolute path. A relative path is
    /// ambiguous once the command runs in the copy: the caller makes it absolute.
    pub python: OsString,
    pub runner: Runner,
}

/// What became of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestOutcome {
    Passed,
    /// An assertion failed (or, for unittest, an expected failure passed).
    Failed,
    /// Anything else went wrong: an exception, a failing setup or teardown, a module that
    /// cannot be imported.
    Error,
    /// Skipped, or an expected failure that failed.
    Skipped,
}

impl TestOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            TestOutcome::Passed => "passed",
            TestOutcome::Failed => "failed",
            TestOutcome::Error => "error",
            TestOutcome::Skipped => "skipped",
        }
    }

    fn parse(text: &str) -> Option<TestOutcome> {
        match text {
            "passed" => Some(TestOutcome::Passed),
            "failed" => Some(TestOutcome::Failed),
            "error" => Some(TestOutcome::Error),
            "skipped" => Some(TestOutcome::Skipped),
            _ => None,
        }
    }
}

impl std::fmt::Display for TestOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a run has no complete results.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuiteProblem {
    #[error("the test runner could not be prepared: {0}")]
    Setup(String),
    #[error("cannot start {python}: {reason}")]
    Start { python: String, reason: String },
    #[error("the tests did not finish within {} s and were stopped", .timeout.as_secs_f32())]
    TimedOut { timeout: Duration },
    #[error("the test runner {how} without writing its results; last output:\n{last_lines}")]
    NoResults { how: String, last_lines: String },
    #[error("the test runner's results are unreadable: {0}")]
    BadResults(String),
    #[error("pytest stopped before the end: {0}")]
    Stopped(String),
}

/// One run of the suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteRun {
    /// Each test's outcome by id. With `only`, it may also hold other modules' collection
    /// errors (pytest collects everything).
    pub results: BTreeMap<String, TestOutcome>,
    /// `None` when the runner finished and wrote its results; else why not, and then
    /// `results` is partial or empty.
    pub problem: Option<SuiteProblem>,
    /// The runner's exit code (the test runner's: 0 when every test passed); `None` when it
    /// did not exit by itself.
    pub exit: Option<i32>,
    /// The last lines of the runner's output. Paths in it name the copy: a caller showing it
    /// to people maps them to the live tree.
    pub output_tail: String,
    pub duration: Duration,
}

/// A test that passed in the baseline and does not pass after the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub id: String,
    /// Its outcome after the fix; `None` when it did not run at all.
    pub after: Option<TestOutcome>,
}

/// The baseline's results against the fixed copy's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuiteVerdict {
    /// Passed in the baseline, not passed after (failed, error, skipped or missing): these
    /// fail the fix.
    pub broken: Vec<Broken>,
    /// Failed or errored in the baseline and still not passing: tolerated.
    pub tolerated: Vec<String>,
    /// Failed or errored in the baseline, passing after.
    pub newly_passing: Vec<String>,
    /// Not in the baseline, failing or errored after: usually why some `broken` tests are
    /// missing (a test module that no longer imports). Listed, not judged.
    pub new_failures: Vec<String>,
    /// Passed in both.
    pub still_passing: usize,
}

/// The interpreter the tests run with: the supervised command's own when it is a python
/// (`.venv/bin/python main.py`, made absolute against `root`), else `python3`.
pub fn python_of(command: &[String], root: &Path) -> OsString {
    let Some(first) = command.first() else {
        return OsString::from("python3");
    };
    let name = Path::new(first)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.starts_with("python") {
        return OsString::from("python3");
    }
    if first.contains('/') && !Path::new(first).is_absolute() {
        return root.join(first).into_os_string();
    }
    OsString::from(first)
}

impl Suite {
    /// Finds the project's tests under `root`, to be run with `python` (the interpreter the
    /// supervised command uses when it is a python, else `python3`):
    ///
    /// - pytest, when `python` can import it (asked with a short timeout, from `root`) and the
    ///   project has `test_*.py` / `*_test.py` files or pytest configuration;
    /// - else `python -m unittest discover`, when there is a `tests` (or `test`) folder;
    /// - else `None`.
    pub async fn discover(root: &Path, python: &OsStr) -> Option<Suite> {
        let owned = root.to_path_buf();
        // The walk reads folders: off the async threads.
        let signs = tokio::task::spawn_blocking(move || Signs::look(&owned))
            .await
            .ok()?;
        if signs.pytest && pytest_importable(root, python).await {
            return Some(Suite {
                python: python.to_os_string(),
                runner: Runner::Pytest,
            });
        }
        let (start, top_level) = signs.tests_folder?;
        Some(Suite {
            python: python.to_os_string(),
            runner: Runner::Unittest { start, top_level },
        })
    }

    /// The suite as a person would type it, for `heal doctor` and the record:
    /// `python3 -m pytest`, `python3 -m unittest discover -s tests -t .`.
    pub fn command_line(&self) -> String {
        let mut words = vec![self.python.to_string_lossy().into_owned(), "-m".to_string()];
        match &self.runner {
            Runner::Pytest => words.push("pytest".to_string()),
            Runner::Unittest { start, top_level } => {
                words.extend(["unittest", "discover", "-s"].map(String::from));
                words.push(start.clone());
                if *top_level {
                    words.extend(["-t", "."].map(String::from));
                }
            }
        }
        super::shell_words(&words)
    }

    /// Runs the suite (or only the tests `only` names) in `copy`, bounded by `timeout`. Never
    /// fails: what went wrong is in [`SuiteRun::problem`].
    pub async fn run(
        &self,
        copy: &Path,
        only: Option<&[String]>,
        timeout: Duration,
        jail: &Jail,
    ) -> SuiteRun {
        let started = Instant::now();
        let failed = |problem| SuiteRun {
            results: BTreeMap::new(),
            problem: Some(problem),
            exit: None,
            output_tail: String::new(),
            duration: started.elapsed(),
        };
        let files = match RunnerFiles::write(only) {
            Ok(files) => files,
            Err(e) => return failed(SuiteProblem::Setup(e.to_string())),
        };
        let args = self.runner_args(&files);
        let env = [("PYTHONDONTWRITEBYTECODE".to_string(), OsString::from("1"))];
        let ran = run::execute(&run::Spec {
            program: &self.python,
            args: &args,
            cwd: copy,
            env: &env,
            timeout,
            jail,
            writable: &[copy, files._dir.path()],
        })
        .await;
        let outcome = match ran {
            Ok(outcome) => outcome,
            Err(e) => {
                return failed(SuiteProblem::Start {
                    python: self.python.to_string_lossy().into_owned(),
                    reason: e.to_string(),
                });
            }
        };
        let written = read_bounded(&files.out);
        let (results, problem) = self.judge(&outcome, written, timeout);
        SuiteRun {
            results,
            problem,
            exit: outcome.exit,
            output_tail: outcome.output_tail,
            duration: outcome.duration,
        }
    }

    fn runner_args(&self, files: &RunnerFiles) -> Vec<OsString> {
        let mut args = vec![
            files.runner.clone().into_os_string(),
            OsString::from("--out"),
            files.out.clone().into_os_string(),
        ];
        if let Some(ids) = &files.ids {
            args.push(OsString::from("--ids"));
            args.push(ids.clone().into_os_string());
        }
        match &self.runner {
            Runner::Pytest => args.push(OsString::from("pytest")),
            Runner::Unittest { start, top_level } => {
                args.extend(["unittest", "--start"].map(OsString::from));
                args.push(OsString::from(start));
                if *top_level {
                    args.extend(["--top", "."].map(OsString::from));
                }
            }
        }
        args
    }

    /// What the run left: its results, and why they cannot be trusted whole, if so.
    fn judge(
        &self,
        outcome: &run::Outcome,
        written: Option<String>,
        timeout: Duration,
    ) -> (BTreeMap<String, TestOutcome>, Option<SuiteProblem>) {
        if outcome.timed_out {
            return (BTreeMap::new(), Some(SuiteProblem::TimedOut { timeout }));
        }
        let Some(text) = written else {
            let how = match (outcome.exit, outcome.signal) {
                (Some(code), _) => format!("exited with code {code}"),
                (None, Some(signal)) => format!("was killed by signal {signal}"),
                (None, None) => "ended".to_string(),
            };
            let problem = SuiteProblem::NoResults {
                how,
                last_lines: last_lines(&outcome.output_tail, QUOTED_LINES),
            };
            return (BTreeMap::new(), Some(problem));
        };
        let results = match parse_results(&text) {
            Ok(results) => results,
            Err(problem) => return (BTreeMap::new(), Some(problem)),
        };
        let stopped = match self.runner {
            Runner::Pytest => pytest_stopped(outcome.exit),
            Runner::Unittest { .. } => None,
        };
        (results, stopped.map(SuiteProblem::Stopped))
    }
}

/// Compares the baseline run with the fixed run, test by test. Pure.
///
/// Only results are compared: a run with a [`SuiteRun::problem`] has partial or no results.
/// Check both first: a baseline that did not finish proves nothing either way, and a fixed run
/// that did not finish (while the baseline did) should fail the fix with its problem as the
/// reason.
pub fn compare(baseline: &SuiteRun, fixed: &SuiteRun) -> SuiteVerdict {
    let mut verdict = SuiteVerdict::default();
    for (id, before) in &baseline.results {
        let after = fixed.results.get(id).copied();
        match before {
            TestOutcome::Passed if after == Some(TestOutcome::Passed) => {
                verdict.still_passing += 1;
            }
            TestOutcome::Passed => verdict.broken.push(Broken {
                id: id.clone(),
                after,
            }),
            TestOutcome::Failed | TestOutcome::Error if after == Some(TestOutcome::Passed) => {
                verdict.newly_passing.push(id.clone());
            }
            TestOutcome::Failed | TestOutcome::Error => verdict.tolerated.push(id.clone()),
            TestOutcome::Skipped => {}
        }
    }
    for (id, after) in &fixed.results {
        if matches!(after, TestOutcome::Failed | TestOutcome::Error)
            && !baseline.results.contains_key(id)
        {
            verdict.new_failures.push(id.clone());
        }
    }
    verdict
}

impl SuiteVerdict {
    /// No test that passed in the baseline fails after the fix.
    pub fn passed(&self) -> bool {
        self.broken.is_empty()
    }

    /// The ids of the broken tests, to re-run them once (`only`) and rule out a flaky test.
    pub fn broken_ids(&self) -> Vec<String> {
        self.broken.iter().map(|b| b.id.clone()).collect()
    }

    /// The verdict in one paragraph, for the record and the model, e.g. "the fix breaks 1 test
    /// that passed before: tests/test_budget.py::test_share (failed)".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.broken.is_empty() {
            parts.push(format!(
                "{} that passed before still pass{}",
                tests(self.still_passing),
                if self.still_passing == 1 { "es" } else { "" }
            ));
        } else {
            let names: Vec<String> = self
                .broken
                .iter()
                .map(|b| {
                    let after = b.after.map_or("did not run", TestOutcome::as_str);
                    format!("{} ({after})", b.id)
                })
                .collect();
            parts.push(format!(
                "the fix breaks {} that passed before: {}",
                tests(self.broken.len()),
                listing(&names)
            ));
        }
        if !self.new_failures.is_empty() {
            parts.push(format!("new errors: {}", listing(&self.new_failures)));
        }
        if !self.tolerated.is_empty() {
            parts.push(format!(
                "tolerated, already failing before the fix: {}",
                listing(&self.tolerated)
            ));
        }
        if !self.newly_passing.is_empty() {
            parts.push(format!("now passing: {}", listing(&self.newly_passing)));
        }
        parts.join("; ")
    }
}

fn tests(n: usize) -> String {
    format!("{n} test{}", if n == 1 { "" } else { "s" })
}

/// Names joined with commas, the first [`LISTED`] of them.
fn listing(names: &[String]) -> String {
    let mut text = names
        .iter()
        .take(LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LISTED {
        text.push_str(&format!(" and {} more", names.len() - LISTED));
    }
    text
}

/// What the project's files say about its tests.
#[derive(Debug, Default)]
struct Signs {
    /// Test files named the pytest way, or pytest configuration.
    pytest: bool,
    /// `tests` (or else `test`) and whether it holds `__init__.py`.
    tests_folder: Option<(String, bool)>,
}

impl Signs {
    fn look(root: &Path) -> Signs {
        let tests_folder = ["tests", "test"].iter().find_map(|name| {
            let dir = root.join(name);
            dir.is_dir()
                .then(|| (name.to_string(), dir.join("__init__.py").is_file()))
        });
        let configured = root.join("conftest.py").is_file()
            || PYTEST_CONFIG_FILES.iter().any(|name| {
                read_config(&root.join(name)).is_some_and(|text| declares_pytest(name, &text))
            });
        Signs {
            pytest: configured || has_test_files(root),
            tests_folder,
        }
    }
}

/// Files that may hold pytest configuration, at the project root.
const PYTEST_CONFIG_FILES: &[&str] = &[
    "pytest.ini",
    "pytest.toml",
    ".pytest.toml",
    "pyproject.toml",
    "setup.cfg",
    "tox.ini",
];

/// Whether the configuration file `name` holding `text` configures pytest. Pure.
fn declares_pytest(name: &str, text: &str) -> bool {
    // pytest reads these whatever they hold, even when empty.
    if matches!(name, "pytest.ini" | "pytest.toml" | ".pytest.toml") {
        return true;
    }
    let wanted: &[&str] = match name {
        // `[tool.pytest]` is pytest 9's native TOML table.
        "pyproject.toml" => &["[tool.pytest.ini_options]", "[tool.pytest]"],
        "setup.cfg" => &["[tool:pytest]"],
        "tox.ini" => &["[pytest]"],
        _ => return false,
    };
    text.lines().any(|line| {
        let header: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        wanted.contains(&header.as_str())
    })
}

/// Whether pytest would collect a file of this name by default. Pure.
fn is_test_file(name: &str) -> bool {
    name.strip_suffix(".py")
        .is_some_and(|stem| stem.starts_with("test_") || stem.ends_with("_test"))
}

/// Folders never searched for test files.
fn skip_folder(name: &str) -> bool {
    name.starts_with('.') || WALK_SKIPPED.contains(&name)
}

/// Whether `root` holds a test file, searched breadth first over at most
/// [`MAX_WALK_ENTRIES`] entries, without following links.
fn has_test_files(root: &Path) -> bool {
    let mut queue = VecDeque::from([root.to_path_buf()]);
    let mut seen = 0usize;
    while let Some(dir) = queue.pop_front() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_WALK_ENTRIES {
                return false;
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !skip_folder(&name) {
                    queue.push_back(entry.path());
                }
            } else if is_test_file(&name) {
                return true;
            }
        }
    }
    false
}

/// The start of a configuration file, or `None` when it cannot be read.
fn read_config(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Whether `python`, started in `root`, can import pytest within [`PROBE_TIMEOUT`].
async fn pytest_importable(root: &Path, python: &OsStr) -> bool {
    let args = [OsString::from("-c"), OsString::from("import pytest")];
    let env = [("PYTHONDONTWRITEBYTECODE".to_string(), OsString::from("1"))];
    // It runs no project code: `import pytest` from the project folder, as the proof will.
    let jail = Jail::none();
    let probe = run::execute(&run::Spec {
        program: python,
        args: &args,
        cwd: root,
        env: &env,
        timeout: PROBE_TIMEOUT,
        jail: &jail,
        writable: &[],
    })
    .await;
    matches!(probe, Ok(outcome) if outcome.exit == Some(0))
}

/// The runner script and the files it reads and writes, in a temporary folder outside the
/// copy (removed when dropped).
struct RunnerFiles {
    _dir: tempfile::TempDir,
    runner: PathBuf,
    out: PathBuf,
    ids: Option<PathBuf>,
}

impl RunnerFiles {
    fn write(only: Option<&[String]>) -> std::io::Result<RunnerFiles> {
        let dir = tempfile::Builder::new().prefix("heal-suite-").tempdir()?;
        let runner = dir.path().join("runner.py");
        std::fs::write(&runner, RUNNER_PY)?;
        // Ids go in a file: a long list would not fit on a command line.
        let ids = match only {
            Some(ids) => {
                let path = dir.path().join("ids.json");
                std::fs::write(
                    &path,
                    serde_json::to_vec(ids).map_err(std::io::Error::other)?,
                )?;
                Some(path)
            }
            None => None,
        };
        Ok(RunnerFiles {
            out: dir.path().join("result.json"),
            runner,
            ids,
            _dir: dir,
        })
    }
}

/// The result file, if the runner wrote one (bounded: a huge suite still fits).
fn read_bounded(path: &Path) -> Option<String> {
    const MAX_RESULT_BYTES: u64 = 64 * 1_000_000;
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_RESULT_BYTES).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The runner's result file, as written by `runner.py`.
#[derive(serde::Deserialize)]
struct WireResults {
    tests: BTreeMap<String, String>,
}

/// Reads the runner's result file. Pure. An outcome it does not know counts as an error
/// (never as a pass); only a file that is not the runner's JSON at all is a problem.
fn parse_results(text: &str) -> Result<BTreeMap<String, TestOutcome>, SuiteProblem> {
    let wire: WireResults =
        serde_json::from_str(text).map_err(|e| SuiteProblem::BadResults(e.to_string()))?;
    Ok(wire
        .tests
        .into_iter()
        .map(|(id, outcome)| {
            let outcome = TestOutcome::parse(&outcome).unwrap_or(TestOutcome::Error);
            (id, outcome)
        })
        .collect())
}

/// pytest's exit codes that mean it did not run the suite through (0, 1 and 5 — no tests
/// collected — are ends of a whole run). Pure.
fn pytest_stopped(exit: Option<i32>) -> Option<String> {
    match exit {
        Some(2) => Some("interrupted (exit code 2)".to_string()),
        Some(3) => Some("internal error (exit code 3)".to_string()),
        Some(4) => Some("usage error (exit code 4)".to_string()),
        _ => None,
    }
}

/// The last `n` non-blank lines of `text`. Pure.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests;
