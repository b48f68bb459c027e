//! Proves a planned fix before it touches the live tree: the fix is written into an isolated
//! copy of the project ([`sandbox`]) and climbs a ladder of steps, stopping at the first that
//! fails:
//!
//! 1. `syntax`: every edited Python file parses (tree-sitter, then `python3 -m py_compile`
//!    when python3 is on PATH);
//! 2. `check`: each of the user's verify commands exits 0 (`sh -c`, in the copy);
//! 3. `rerun`: the supervised command, re-run in the copy, exits 0 or is still running at the
//!    time limit, with no traceback. Any error fails it, the same one or another: a fix that
//!    turns a NameError into an ImportError fixed nothing.
//!
//! It must never write to the live tree, never leave the copy or a process behind (the copy
//! is removed on every path out, panics included), and never report a pass it did not see.

pub mod run;
pub mod sandbox;
pub mod signature;
pub mod syntax;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::apply::Plan;

pub use sandbox::{Isolation, SKIPPED_DIRS, Sandbox, SandboxError};
pub use signature::{ErrorLocation, ErrorSignature, last_traceback};

/// Default time the re-run gets before a still-running program counts as healthy.
pub const DEFAULT_RERUN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time limit of each verify command (and of `py_compile`).
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(300);
/// Default cap on what a plain copy may copy.
pub const DEFAULT_MAX_COPY_BYTES: u64 = 200 * 1_000_000;

/// What to prove a fix against.
#[derive(Debug, Clone)]
pub struct ProveConfig {
    /// The live project root.
    pub root: PathBuf,
    /// heal's storage folder, never copied.
    pub storage_dir: PathBuf,
    /// The supervised program and its arguments.
    pub command: Vec<String>,
    /// Shell commands (`sh -c`) that must exit 0 in the copy.
    pub verify_commands: Vec<String>,
    /// Whether to re-run `command` in the copy.
    pub rerun: bool,
    pub rerun_timeout: Duration,
    pub check_timeout: Duration,
    pub max_copy_bytes: u64,
    /// Where the copy is made; must be outside the project. `std::env::temp_dir()` by default.
    pub temp_dir: PathBuf,
    /// The error the fix is meant to remove.
    pub original: ErrorSignature,
}

impl ProveConfig {
    /// A config with the defaults: re-run on, no verify commands, 10 s re-run, 300 s checks,
    /// 200 MB copy cap.
    pub fn new(
        root: &Path,
        storage_dir: &Path,
        command: Vec<String>,
        original: ErrorSignature,
    ) -> ProveConfig {
        ProveConfig {
            root: root.to_path_buf(),
            storage_dir: storage_dir.to_path_buf(),
            command,
            verify_commands: Vec::new(),
            rerun: true,
            rerun_timeout: DEFAULT_RERUN_TIMEOUT,
            check_timeout: DEFAULT_CHECK_TIMEOUT,
            max_copy_bytes: DEFAULT_MAX_COPY_BYTES,
            temp_dir: std::env::temp_dir(),
            original,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepName {
    Syntax,
    Check,
    Rerun,
}

impl StepName {
    pub fn as_str(self) -> &'static str {
        match self {
            StepName::Syntax => "syntax",
            StepName::Check => "check",
            StepName::Rerun => "rerun",
        }
    }
}

impl std::fmt::Display for StepName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rung of the ladder, as it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: StepName,
    /// The command as a person would type it; empty when the step ran no command.
    pub command: String,
    /// `None` when the command did not exit by itself (killed, timed out, or not started).
    pub exit: Option<i32>,
    /// The last lines of its output (stdout and stderr, in arrival order).
    pub output_tail: String,
    pub duration_ms: u64,
    pub passed: bool,
    /// What was judged, in words: for a failure, why.
    pub detail: String,
}

/// The proof's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    pub steps: Vec<Step>,
    pub passed: bool,
    /// What went wrong, worded to be sent back to the model; `None` when it passed.
    pub failure: Option<String>,
    /// How the copy was made; `None` when it could not be made.
    pub isolation: Option<Isolation>,
}

/// Proves `plan` in an isolated copy of `config.root`. Never fails: every problem, including
/// one making the copy, is a failed [`Validation`] that says why.
pub async fn prove(plan: &Plan, config: &ProveConfig) -> Validation {
    let root = config.root.clone();
    let storage = config.storage_dir.clone();
    let max = config.max_copy_bytes;
    let temp = config.temp_dir.clone();
    let files: Vec<(String, PathBuf, String)> = plan
        .files
        .iter()
        .map(|f| (f.rel.clone(), f.abs.clone(), f.after.clone()))
        .collect();
    // Copying may take a while: off the async threads. Should this future be dropped while it
    // runs, the sandbox is dropped (and removed) when the blocking task ends.
    let made = tokio::task::spawn_blocking(move || {
        let sandbox = Sandbox::create(&root, &storage, &temp, max)?;
        write_fix(&sandbox, &files)?;
        Ok::<_, SandboxError>(sandbox)
    })
    .await;
    let sandbox = match made {
        Ok(Ok(sandbox)) => sandbox,
        Ok(Err(e)) => return setup_failed(e.to_string()),
        Err(e) => return setup_failed(format!("the copy could not be made: {e}")),
    };
    let isolation = sandbox.isolation();
    let mut steps = climb(plan, config, &sandbox).await;
    // Tracebacks name the copy's paths, which are gone once this returns; the live paths are
    // the ones the user and the model know.
    let copy = sandbox.path().to_string_lossy().into_owned();
    let live = config.root.to_string_lossy();
    for step in &mut steps {
        step.output_tail = step.output_tail.replace(&copy, &live);
    }
    // Removing a worktree runs git and deletes files: off the async threads too.
    let _ = tokio::task::spawn_blocking(move || drop(sandbox)).await;

    let failed = steps.iter().find(|s| !s.passed);
    let failure = failed.map(|s| {
        let mut text = format!("The {} step failed: {}", s.name, s.detail);
        if !s.command.is_empty() {
            text.push_str(&format!("\nCommand: {}", s.command));
        }
        if !s.output_tail.trim().is_empty() {
            text.push_str(&format!("\nLast output:\n{}", s.output_tail.trim_end()));
        }
        text
    });
    Validation {
        passed: failure.is_none(),
        steps,
        failure,
        isolation: Some(isolation),
    }
}

fn setup_failed(reason: String) -> Validation {
    Validation {
        steps: Vec::new(),
        passed: false,
        failure: Some(format!("The fix could not be proved: {reason}")),
        isolation: None,
    }
}

/// Writes each planned file's new text into the copy, over the live version (whose mode it
/// keeps): the worktree holds HEAD's version, which may differ.
fn write_fix(sandbox: &Sandbox, files: &[(String, PathBuf, String)]) -> Result<(), SandboxError> {
    for (rel, live, after) in files {
        let target = sandbox.path().join(rel);
        let err = |source| SandboxError::Copy {
            path: target.clone(),
            source,
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        let _ = std::fs::remove_file(&target);
        std::fs::copy(live, &target).map_err(err)?;
        std::fs::write(&target, after).map_err(err)?;
    }
    Ok(())
}

async fn climb(plan: &Plan, config: &ProveConfig, sandbox: &Sandbox) -> Vec<Step> {
    let mut steps = Vec::new();
    let syntax = syntax_step(plan, config, sandbox.path()).await;
    let ok = syntax.passed;
    steps.push(syntax);
    if !ok {
        return steps;
    }
    for command in &config.verify_commands {
        let step = check_step(command, config.check_timeout, sandbox.path()).await;
        let ok = step.passed;
        steps.push(step);
        if !ok {
            return steps;
        }
    }
    if config.rerun {
        steps.push(rerun_step(config, sandbox.path()).await);
    }
    steps
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn syntax_step(plan: &Plan, config: &ProveConfig, copy: &Path) -> Step {
    let started = std::time::Instant::now();
    let python: Vec<&crate::apply::PlannedFile> = plan
        .files
        .iter()
        .filter(|f| f.rel.ends_with(".py") || f.rel.ends_with(".pyi"))
        .collect();
    let mut step = Step {
        name: StepName::Syntax,
        command: String::new(),
        exit: None,
        output_tail: String::new(),
        duration_ms: 0,
        passed: true,
        detail: String::new(),
    };
    if python.is_empty() {
        step.detail = "no Python file edited".to_string();
        return step;
    }
    let mut findings = Vec::new();
    for file in &python {
        if let Some(p) = syntax::first_problem(&file.after) {
            // The grammar lags behind Python: if the old text already "failed", tree-sitter's
            // opinion of the new one says nothing, and py_compile decides.
            if syntax::first_problem(&file.before).is_none() {
                step.passed = false;
                findings.push(format!(
                    "{}: line {}, column {}: syntax error ({})",
                    file.rel, p.line, p.column, p.what
                ));
            }
        }
    }

    let rels: Vec<OsString> = python.iter().map(|f| OsString::from(&f.rel)).collect();
    let mut args = vec![OsString::from("-m"), OsString::from("py_compile")];
    args.extend(rels);
    step.command = format!(
        "python3 -m py_compile {}",
        python
            .iter()
            .map(|f| f.rel.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Bytecode goes to a throwaway folder, not into __pycache__ folders in the copy.
    let pycache = tempfile::Builder::new().prefix("heal-pycache-").tempdir();
    let compiled = match &pycache {
        Ok(dir) => {
            run::run(
                &OsString::from("python3"),
                &args,
                copy,
                &[("PYTHONPYCACHEPREFIX", dir.path())],
                config.check_timeout,
            )
            .await
        }
        Err(e) => Err(std::io::Error::other(format!(
            "no temporary folder for bytecode: {e}"
        ))),
    };
    match compiled {
        Ok(outcome) => {
            step.exit = outcome.exit;
            step.output_tail = outcome.output_tail;
            if outcome.exit != Some(0) {
                step.passed = false;
                findings.push(if outcome.timed_out {
                    "py_compile timed out".to_string()
                } else {
                    "python3 -m py_compile rejects the new text".to_string()
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            step.command.clear();
            findings.push("python3 is not on PATH: only tree-sitter checked the syntax".into());
        }
        Err(e) => {
            step.passed = false;
            findings.push(format!("cannot run python3 -m py_compile: {e}"));
        }
    }
    if step.passed && findings.is_empty() {
        findings.push(format!("{} Python file(s) parse", python.len()));
    }
    step.detail = findings.join("; ");
    step.duration_ms = millis(started.elapsed());
    step
}

async fn check_step(command: &str, timeout: Duration, copy: &Path) -> Step {
    let args = [OsString::from("-c"), OsString::from(command)];
    let mut step = Step {
        name: StepName::Check,
        command: command.to_string(),
        exit: None,
        output_tail: String::new(),
        duration_ms: 0,
        passed: false,
        detail: String::new(),
    };
    match run::run(&OsString::from("sh"), &args, copy, &[], timeout).await {
        Ok(outcome) => {
            step.exit = outcome.exit;
            step.output_tail = outcome.output_tail;
            step.duration_ms = millis(outcome.duration);
            step.passed = outcome.exit == Some(0);
            step.detail = if outcome.timed_out {
                format!("timed out after {} s", timeout.as_secs())
            } else {
                describe_exit(outcome.exit, outcome.signal)
            };
        }
        Err(e) => step.detail = format!("cannot run sh: {e}"),
    }
    step
}

fn describe_exit(exit: Option<i32>, signal: Option<i32>) -> String {
    match (exit, signal) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => "ended without an exit code".to_string(),
    }
}

async fn rerun_step(config: &ProveConfig, copy: &Path) -> Step {
    let mut step = Step {
        name: StepName::Rerun,
        command: shell_words(&config.command),
        exit: None,
        output_tail: String::new(),
        duration_ms: 0,
        passed: false,
        detail: String::new(),
    };
    let Some((program, args)) = command_in_copy(&config.command, &config.root, copy) else {
        step.detail = "there is no command to re-run".to_string();
        return step;
    };
    let outcome = match run::run(&program, &args, copy, &[], config.rerun_timeout).await {
        Ok(outcome) => outcome,
        Err(e) => {
            step.detail = format!("cannot start the program: {e}");
            return step;
        }
    };
    step.exit = outcome.exit;
    step.output_tail = outcome.output_tail.clone();
    step.duration_ms = millis(outcome.duration);
    let (passed, detail) = judge(&outcome, &config.original, config.rerun_timeout);
    step.passed = passed;
    step.detail = detail;
    step
}

/// The re-run's verdict. A traceback anywhere fails it, even from a program that exits 0 or
/// keeps running: heal watches tracebacks, and one that heal would report again is no fix.
fn judge(outcome: &run::Outcome, original: &ErrorSignature, timeout: Duration) -> (bool, String) {
    if let Some(tb) = last_traceback(&outcome.stderr) {
        let now = ErrorSignature::from_traceback(&tb);
        return if original.is_same_error(&now) {
            (false, format!("the same error again: {}", now.summary()))
        } else {
            (
                false,
                format!(
                    "a different error: {}; the original was {}",
                    now.summary(),
                    original.summary()
                ),
            )
        };
    }
    if outcome.timed_out {
        return (
            true,
            format!(
                "still running after {} s with no traceback; stopped",
                timeout.as_secs_f32()
            ),
        );
    }
    match outcome.exit {
        Some(0) => (true, "exited with code 0 and no traceback".to_string()),
        _ => (
            false,
            format!(
                "a different error: the program {} without a traceback; the original was {}",
                describe_exit(outcome.exit, outcome.signal),
                original.summary()
            ),
        ),
    }
}

/// The supervised command, pointed at the copy: arguments that are absolute paths into the
/// live tree are mapped to the copy (or the re-run would run the live, unfixed files), except
/// paths the copy does not hold (a virtualenv, left out of copies), which stay live. The
/// same goes for a relative program path (`.venv/bin/python`).
fn command_in_copy(
    command: &[String],
    root: &Path,
    copy: &Path,
) -> Option<(OsString, Vec<OsString>)> {
    let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let map = |arg: &String| -> OsString {
        let path = Path::new(arg);
        if path.is_absolute() {
            for base in [root, real_root.as_path()] {
                if let Ok(rel) = path.strip_prefix(base) {
                    let mapped = copy.join(rel);
                    if std::fs::symlink_metadata(&mapped).is_ok() {
                        return mapped.into_os_string();
                    }
                }
            }
        }
        OsString::from(arg)
    };
    let (first, rest) = command.split_first()?;
    let mut program = map(first);
    if first.contains('/') && !Path::new(first).is_absolute() {
        let in_copy = copy.join(first);
        let live = root.join(first);
        program = if std::fs::symlink_metadata(&in_copy).is_err() && live.exists() {
            live.into_os_string()
        } else {
            in_copy.into_os_string()
        };
    }
    Some((program, rest.iter().map(map).collect()))
}

/// The command as one line, quoting the words that need it, for reports.
fn shell_words(command: &[String]) -> String {
    command
        .iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(exit: Option<i32>, timed_out: bool, stderr: &str) -> run::Outcome {
        run::Outcome {
            exit,
            signal: None,
            timed_out,
            output_tail: String::new(),
            stderr: stderr.to_string(),
            duration: Duration::ZERO,
        }
    }

    fn original() -> ErrorSignature {
        ErrorSignature {
            exc_type: "NameError".to_string(),
            message: "name 'y' is not defined".to_string(),
            location: Some(ErrorLocation {
                file: "/x/main.py".to_string(),
                function: "run".to_string(),
            }),
        }
    }

    #[test]
    fn judge_tells_same_different_and_none() {
        let t = Duration::from_secs(1);
        let same = "Traceback (most recent call last):\n  File \"/tmp/c/main.py\", line 2, in run\nNameError: name 'y' is not defined\n";
        let (ok, detail) = judge(&outcome(Some(1), false, same), &original(), t);
        assert!(!ok && detail.contains("same error"), "{detail}");
        let other = same.replace("NameError", "ImportError");
        let (ok, detail) = judge(&outcome(Some(1), false, &other), &original(), t);
        assert!(!ok && detail.contains("different error"), "{detail}");
        let (ok, _) = judge(&outcome(Some(0), false, ""), &original(), t);
        assert!(ok);
        let (ok, _) = judge(&outcome(None, true, "serving\n"), &original(), t);
        assert!(ok);
        let (ok, detail) = judge(&outcome(None, true, same), &original(), t);
        assert!(!ok && detail.contains("same error"), "{detail}");
        let (ok, detail) = judge(&outcome(Some(2), false, ""), &original(), t);
        assert!(!ok && detail.contains("code 2"), "{detail}");
    }

    #[test]
    fn live_paths_in_the_command_point_at_the_copy() {
        let live = tempfile::tempdir().unwrap();
        let copy = tempfile::tempdir().unwrap();
        std::fs::write(copy.path().join("main.py"), "").unwrap();
        let script = live.path().join("main.py").to_string_lossy().into_owned();
        let venv = live
            .path()
            .join(".venv/bin/python")
            .to_string_lossy()
            .into_owned();
        let (program, args) = command_in_copy(
            &[venv.clone(), script, "-v".to_string()],
            live.path(),
            copy.path(),
        )
        .unwrap();
        assert_eq!(program, OsString::from(venv));
        assert_eq!(args[0], copy.path().join("main.py").into_os_string());
        assert_eq!(args[1], OsString::from("-v"));
    }

    #[test]
    fn shell_words_quotes_what_needs_it() {
        let words = ["python3", "-c", "print('hi')"].map(String::from);
        assert_eq!(shell_words(&words), "python3 -c 'print('\\''hi'\\'')'");
    }
}
