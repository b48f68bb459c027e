//! The rungs of the proof that judge the fixed copy on its own: the syntax of every edited
//! file, and the user's `verify.commands`. Also the small helpers every step shares: the
//! supervised command pointed at a copy, and how a command and an exit are worded.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::Duration;

use super::{ProveConfig, Sandbox, Step, StepName, run, syntax};
use crate::apply::Plan;

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(super) async fn syntax_step(plan: &Plan, config: &ProveConfig, sandbox: &Sandbox) -> Step {
    let copy = sandbox.path();
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
    // Bytecode goes to a throwaway folder beside the copy, not into __pycache__ folders in it.
    let pycache = sandbox
        .scratch()
        .map(|s| s.join("pycache"))
        .and_then(|dir| {
            std::fs::create_dir_all(&dir)
                .map(|()| dir.clone())
                .map_err(|source| super::SandboxError::Copy { path: dir, source })
        });
    let compiled = match &pycache {
        Ok(dir) => {
            let env = [(
                "PYTHONPYCACHEPREFIX".to_string(),
                dir.clone().into_os_string(),
            )];
            run::execute(&run::Spec {
                program: OsStr::new("python3"),
                args: &args,
                cwd: copy,
                env: &env,
                timeout: config.check_timeout,
                jail: &config.jail,
                writable: &[copy, dir.as_path()],
            })
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

pub(super) async fn check_step(command: &str, config: &ProveConfig, sandbox: &Sandbox) -> Step {
    let timeout = config.check_timeout;
    let copy = sandbox.path();
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
    let scratch = sandbox.scratch().ok();
    let mut writable = vec![copy];
    writable.extend(scratch.as_deref());
    let ran = run::execute(&run::Spec {
        program: OsStr::new("sh"),
        args: &args,
        cwd: copy,
        env: &[],
        timeout,
        jail: &config.jail,
        writable: &writable,
    })
    .await;
    match ran {
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

pub(crate) fn describe_exit(exit: Option<i32>, signal: Option<i32>) -> String {
    match (exit, signal) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => "ended without an exit code".to_string(),
    }
}

/// The supervised command, pointed at the copy: arguments that are absolute paths into the
/// live tree are mapped to the copy (or the re-run would run the live, unfixed files), except
/// paths the copy does not hold (a virtualenv, left out of copies), which stay live. The
/// same goes for a relative program path (`.venv/bin/python`).
pub(super) fn command_in_copy(
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
pub(super) fn shell_words(command: &[String]) -> String {
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
