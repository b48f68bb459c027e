//! Test runs: when the supervised command is a test runner (`pytest`, `python -m pytest`,
//! `python -m unittest`), heal treats the run as what it is.
//!
//! - Each failing test is its own incident: [`failure`] reads the test a report block is about
//!   (pytest's long, short or native form, or unittest's `ERROR:`/`FAIL:` header), and the
//!   fingerprint includes its id.
//! - The context is the code under test, not the test: the innermost project frame outside the
//!   test files ([`code_under_test`]); for a failure raised in the test itself (a bare `assert`
//!   mismatch), the function the test calls on its failing line ([`call`]).
//! - Failures that are not code bugs ([`not_a_code_bug`]) are recorded and reported, not fixed.
//! - The proof re-runs the failing test with the other tests of its file and of the modules the
//!   fix touched ([`selection`]), never the whole suite; the "restart" of a test run is running
//!   the command again, and only after a fix.
//!
//! What it must never do: edit tests (the policy protects them for test runs), or guess a test
//! id it cannot read (then the failure is an ordinary incident).

mod call;
mod select;

use std::ffi::OsString;
use std::path::Path;

use crate::detect::locate::{self, Location};
use crate::detect::{Frame, Traceback};

pub use call::call;
pub use select::{selection, tests_calling};

/// Which runner runs the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    Pytest,
    Unittest,
}

/// A test run, as read from the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRun {
    pub runner: Runner,
    /// The interpreter the tests run with (to re-run one test in a proof copy).
    pub python: OsString,
    /// Set when the run's reports give too little to fix (`--tb=line`, `--tb=no`): what to do
    /// instead, said once.
    pub too_little: Option<String>,
}

/// Which part of a test failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The test itself.
    Call,
    /// A fixture, `setUp` or `setUpClass`, before the test ran.
    Setup,
    Teardown,
    /// The test module could not be collected (imported).
    Collect,
}

impl Phase {
    pub fn parse(text: &str) -> Option<Phase> {
        Some(match text {
            "call" => Phase::Call,
            "setup" => Phase::Setup,
            "teardown" => Phase::Teardown,
            "collect" => Phase::Collect,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Call => "call",
            Phase::Setup => "setup",
            Phase::Teardown => "teardown",
            Phase::Collect => "collect",
        }
    }
}

/// The test a failure block is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// pytest's node id (`tests/test_x.py::TestA::test_b[1]`), or unittest's dotted id
    /// (`tests.test_x.TestA.test_b`); for a collection error, the test module.
    pub id: String,
    pub phase: Phase,
    /// The test file, relative to the project root, when it is known.
    pub file: Option<String>,
}

impl TestRun {
    /// The test run `command` starts, if it starts one. Reads the project's pytest
    /// configuration (for `--tb` in `addopts`) and, for a bare `pytest`, the script's first
    /// line (for its interpreter).
    pub fn of(command: &[String], root: &Path) -> Option<TestRun> {
        let (first, rest) = command.split_first()?;
        let name = Path::new(first)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (runner, python, args) = if name == "pytest" || name == "py.test" {
            (Runner::Pytest, script_python(first, root), rest)
        } else if name.starts_with("python") {
            let at = rest.iter().position(|a| a == "-m")?;
            let module = rest.get(at + 1)?;
            let runner = match module.as_str() {
                "pytest" | "py.test" => Runner::Pytest,
                "unittest" => Runner::Unittest,
                _ => return None,
            };
            (runner, python_path(first, root), &rest[at + 2..])
        } else {
            return None;
        };
        let too_little = (runner == Runner::Pytest)
            .then(|| tb_style(args).or_else(|| configured_tb_style(root)))
            .flatten()
            .filter(|style| style == "line" || style == "no")
            .map(|style| {
                format!(
                    "pytest runs with --tb={style}, which reports too little to fix a failure: heal \
                     records each failure, and fixes none; run pytest with --tb=short (or the \
                     default, long) for heal to fix what it can"
                )
            });
        Some(TestRun {
            runner,
            python,
            too_little,
        })
    }
}

/// A python given by path relative to the root is made absolute: the proof runs elsewhere.
fn python_path(first: &str, root: &Path) -> OsString {
    if first.contains('/') && !Path::new(first).is_absolute() {
        root.join(first).into_os_string()
    } else {
        OsString::from(first)
    }
}

/// The interpreter of a `pytest` script: its `#!` line, else `python3`.
fn script_python(first: &str, root: &Path) -> OsString {
    let path = if first.contains('/') {
        root.join(first)
    } else {
        let Some(found) = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(first))
                .find(|p| p.is_file())
        }) else {
            return OsString::from("python3");
        };
        found
    };
    let head = std::fs::read(&path)
        .ok()
        .and_then(|b| b.split(|&c| c == b'\n').next().map(<[u8]>::to_vec))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    match head.strip_prefix("#!") {
        Some(interp) => {
            let words: Vec<&str> = interp.split_whitespace().collect();
            match words.as_slice() {
                // `#!/usr/bin/env python3`
                [env, python, ..] if env.ends_with("/env") => OsString::from(python),
                [python, ..] => OsString::from(python),
                [] => OsString::from("python3"),
            }
        }
        None => OsString::from("python3"),
    }
}

/// The `--tb` style given on the command line, if any.
fn tb_style(args: &[String]) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(style) = a.strip_prefix("--tb=") {
            return Some(style.to_string());
        }
        if a == "--tb" {
            return it.next().cloned();
        }
    }
    None
}

/// The `--tb` style in the project's pytest configuration (`addopts`), if any.
fn configured_tb_style(root: &Path) -> Option<String> {
    for name in ["pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini"] {
        let Ok(text) = std::fs::read_to_string(root.join(name)) else {
            continue;
        };
        for line in text.lines().filter(|l| l.contains("addopts")) {
            let words: Vec<String> = line
                .split(|c: char| {
                    c.is_whitespace() || c == '"' || c == '\'' || c == ',' || c == '[' || c == ']'
                })
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect();
            if let Some(style) = tb_style(&words) {
                return Some(style);
            }
        }
    }
    None
}

/// Whether `rel` (relative to the root) is a test file, a conftest or a test folder's file.
pub fn is_test_file(rel: &str) -> bool {
    let rel = rel.replace('\\', "/");
    let mut parts: Vec<&str> = rel.split('/').collect();
    let name = parts.pop().unwrap_or("");
    let stem = name.strip_suffix(".py").unwrap_or(name);
    name == "conftest.py"
        || stem.starts_with("test_")
        || stem.ends_with("_test")
        || parts.iter().any(|d| *d == "tests" || *d == "test")
}

/// The test a failure block is about, read from its header and frames. `roots`: the project
/// root's spellings, for the test file's relative path. Pure.
pub fn failure(tb: &Traceback, runner: Runner, roots: &[&str]) -> Option<Failure> {
    let origin = tb.origin.as_deref()?.trim().trim_end_matches(':').trim();
    match runner {
        Runner::Unittest => unittest_failure(origin),
        Runner::Pytest => unittest_failure(origin).or_else(|| pytest_failure(tb, origin, roots)),
    }
}

/// `ERROR: test_x (mod.Class.test_x)`, `FAIL: test_x (mod.Class)`,
/// `ERROR: setUpClass (mod.Class)`, `ERROR: mod (unittest.loader._FailedTest.mod)`.
fn unittest_failure(origin: &str) -> Option<Failure> {
    let (kind, rest) = origin.split_once(": ")?;
    if kind != "ERROR" && kind != "FAIL" {
        return None;
    }
    let (name, paren) = rest.split_once(" (")?;
    let inner = paren.strip_suffix(')')?;
    let name = name.trim();
    if let Some(module) = inner.strip_prefix("unittest.loader._FailedTest.") {
        return Some(Failure {
            id: module.to_string(),
            phase: Phase::Collect,
            file: None,
        });
    }
    let phase = match name {
        "setUpClass" | "setUpModule" => Phase::Setup,
        "tearDownClass" | "tearDownModule" => Phase::Teardown,
        _ => Phase::Call,
    };
    let id = if phase != Phase::Call || inner.ends_with(&format!(".{name}")) {
        inner.to_string()
    } else {
        format!("{inner}.{name}")
    };
    Some(Failure {
        id,
        phase,
        file: None,
    })
}

/// A pytest section title: `test_x`, `TestA.test_b[1]`, `ERROR at setup of test_x`,
/// `ERROR collecting tests/test_x.py`.
fn pytest_failure(tb: &Traceback, title: &str, roots: &[&str]) -> Option<Failure> {
    if let Some(path) = title.strip_prefix("ERROR collecting ") {
        let path = path.trim().to_string();
        return Some(Failure {
            id: path.clone(),
            phase: Phase::Collect,
            file: Some(path),
        });
    }
    let (phase, name) = if let Some(n) = title.strip_prefix("ERROR at setup of ") {
        (Phase::Setup, n)
    } else if let Some(n) = title.strip_prefix("ERROR at teardown of ") {
        (Phase::Teardown, n)
    } else {
        (Phase::Call, title)
    };
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) && !name.contains('[') {
        return None;
    }
    // `TestA.test_b[x.y]`: the dots before the parameters separate classes.
    let (path, params) = match name.find('[') {
        Some(at) => name.split_at(at),
        None => (name, ""),
    };
    let parts: Vec<&str> = path.split('.').collect();
    let function = parts.last().copied().unwrap_or(path);
    let file = test_frame(&tb.primary().frames, function)
        .or_else(|| test_frame(&tb.exception.frames, function))
        .and_then(|f| relative(&f.file, roots));
    let id = match &file {
        Some(file) => format!("{file}::{}{params}", parts.join("::")),
        None => format!("{}{params}", parts.join("::")),
    };
    Some(Failure { id, phase, file })
}

/// The frame of the test function itself: the one named after it, else the outermost (a
/// pytest section starts at the test; its long form does not always name the function).
fn test_frame<'a>(frames: &'a [Frame], function: &str) -> Option<&'a Frame> {
    frames
        .iter()
        .find(|f| f.function == function)
        .or_else(|| frames.first())
}

fn relative(file: &str, roots: &[&str]) -> Option<String> {
    let (root, extra) = roots.split_first()?;
    locate::project_file(file, root, extra)
}

/// The innermost project frame outside the tests: the code under test, where the fix belongs.
pub fn code_under_test(tb: &Traceback, roots: &[&str]) -> Option<Location> {
    let (root, extra) = roots.split_first()?;
    let exc = tb.primary();
    exc.frames.iter().rev().find_map(|frame| {
        let file = locate::project_file(&frame.file, root, extra)?;
        if is_test_file(&file) {
            return None;
        }
        let probe = crate::detect::Exception {
            exc_type: String::new(),
            message: String::new(),
            notes: Vec::new(),
            frames: vec![frame.clone()],
            group: Vec::new(),
        };
        locate::locate(&probe, root, extra)
    })
}

/// Why a failure is not a bug in the code, if it is not: it is recorded and reported, and not
/// fixed. Told apart by where and how it failed:
/// - a test module that cannot be collected is a broken test or environment (a missing
///   dependency, a test importing what does not exist), never fixed by editing the code;
/// - a setup (fixture) that fails on the network or the system (connection refused, a timeout,
///   a missing file or service) needs a service, not a fix.
pub fn not_a_code_bug(tb: &Traceback, failure: &Failure) -> Option<String> {
    let exc = tb.primary();
    let short = exc.exc_type.rsplit('.').next().unwrap_or(&exc.exc_type);
    let first = exc.message.lines().next().unwrap_or("").trim();
    match failure.phase {
        Phase::Collect => Some(if short == "ModuleNotFoundError" {
            format!(
                "not a code bug: the test module {} cannot be collected because a module is missing ({first}); install the dependency, or fix the import by hand",
                failure.id
            )
        } else {
            format!(
                "not a code bug: the test module {} cannot be collected ({short}: {first}); heal does not fix collection errors, fix the test or its imports by hand",
                failure.id
            )
        }),
        Phase::Setup | Phase::Teardown if is_environment(short) => Some(format!(
            "not a code bug: the {} of {} needs something the machine does not give it ({short}: {first}): start the service it needs, or mark the test",
            failure.phase.as_str(),
            failure.id
        )),
        _ => None,
    }
}

/// Exception types that say the environment failed, not the code.
fn is_environment(short: &str) -> bool {
    matches!(
        short,
        "ConnectionError"
            | "ConnectionRefusedError"
            | "ConnectionResetError"
            | "ConnectionAbortedError"
            | "BrokenPipeError"
            | "TimeoutError"
            | "gaierror"
            | "herror"
            | "OSError"
            | "PermissionError"
            | "FileNotFoundError"
            | "OperationalError"
            | "ServerSelectionTimeoutError"
            | "ConnectTimeout"
            | "ReadTimeout"
    ) || short.ends_with("ConnectionError")
}

#[cfg(test)]
mod tests;
