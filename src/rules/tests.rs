//! Helpers for the rules' unit tests, and the table-driven test over real crashes: each
//! `tests/fixtures/rules/<case>/` is run with `python3`, its traceback parsed and recorded as
//! the pipeline does, the rules asked, and a fix, when one is expected, written and run again.
//! The expectations hold for CPython 3.10 to 3.13 (checked with each); older versions word
//! their SyntaxErrors differently and give no hints.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{RULES, RuleInput, instant_fix, syntax_location};
use crate::record::build::Finding;
use crate::record::model::ErrorInfo;

pub(super) fn error(exc_type: &str, message: &str) -> ErrorInfo {
    error_with_traceback(exc_type, message, "")
}

pub(super) fn error_with_traceback(exc_type: &str, message: &str, traceback: &str) -> ErrorInfo {
    ErrorInfo {
        exc_type: exc_type.to_string(),
        message: message.to_string(),
        traceback: traceback.to_string(),
        frames: Vec::new(),
        related: Vec::new(),
        origin: None,
        stream: None,
        sdk: None,
    }
}

pub(super) fn input_for<'a>(error: &'a ErrorInfo, line: u32, source: &'a str) -> RuleInput<'a> {
    RuleInput {
        error,
        file: "main.py",
        line,
        source,
    }
}

#[test]
fn rules_are_named_and_ordered() {
    assert_eq!(
        RULES,
        [
            "did-you-mean",
            "nearest-name",
            "unused-import",
            "missing-colon",
            "missing-comma",
            "tab-indent"
        ]
    );
}

#[test]
fn instant_fix_tries_only_enabled_rules() {
    let e = error(
        "NameError",
        "name 'totl' is not defined. Did you mean: 'total'?",
    );
    let src = "total = 1\nprint(totl)\n";
    let input = input_for(&e, 2, src);
    let only = |names: &[&str]| -> Vec<String> { names.iter().map(|n| n.to_string()).collect() };
    let fix = instant_fix(&input, &only(&["did-you-mean"])).expect("a fix");
    assert_eq!(fix.rule, "did-you-mean");
    assert_eq!(fix.file, "main.py");
    assert_eq!(fix.after, "total = 1\nprint(total)\n");
    assert_eq!(fix.category, crate::analyse::answer::Category::Name);
    assert_eq!(
        fix.summary,
        "replace `totl` with `total` on line 2 (Python's own hint)"
    );
    assert_eq!(
        fix.cause,
        "`totl` is not defined (line 2): a typo for `total`, the name Python suggests"
    );
    // nearest-name leaves hinted errors to did-you-mean; nothing else applies.
    assert_eq!(
        instant_fix(&input, &only(&["nearest-name", "unused-import"])),
        None
    );
    assert_eq!(instant_fix(&input, &[]), None);
}

/// Every fixture and the rule expected to fix it (`None`: every rule must decline).
const CASES: &[(&str, Option<&str>)] = &[
    ("did_you_mean_name", Some("did-you-mean")),
    ("did_you_mean_attribute", Some("did-you-mean")),
    ("did_you_mean_module_attribute", Some("did-you-mean")),
    ("did_you_mean_in_imported_module", Some("did-you-mean")),
    ("did_you_mean_keyword_argument_kept", Some("did-you-mean")),
    ("nearest_name_transposed_builtin", Some("nearest-name")),
    ("nearest_name_self_attribute", Some("nearest-name")),
    ("nearest_name_tie", None),
    ("nearest_name_other_function", None),
    ("nearest_name_enclosing_function", Some("nearest-name")),
    ("nearest_name_builtin_type_too_far", None),
    ("import_name_without_hint", None),
    ("unused_import_missing_module", Some("unused-import")),
    ("unused_import_used", None),
    ("unused_import_in_function", Some("unused-import")),
    (
        "unused_import_only_statement_of_block",
        Some("unused-import"),
    ),
    ("missing_colon_def", Some("missing-colon")),
    ("missing_colon_plain_invalid_syntax", None),
    (
        "missing_colon_else_in_imported_module",
        Some("missing-colon"),
    ),
    ("missing_comma_call", Some("missing-comma")),
    ("missing_comma_multiline_dict", Some("missing-comma")),
    ("missing_comma_keyword_arguments", Some("missing-comma")),
    ("missing_comma_two_needed", None),
    ("tab_indent_mixed", Some("tab-indent")),
    ("tab_indent_ambiguous", None),
    ("tab_indent_docstring", Some("tab-indent")),
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

#[test]
fn every_fixture_has_an_expectation() {
    let mut dirs: Vec<String> = fs::read_dir(fixtures_dir())
        .expect("tests/fixtures/rules")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    dirs.sort();
    for dir in &dirs {
        assert!(
            CASES.iter().any(|(case, _)| case == dir),
            "tests/fixtures/rules/{dir} has no entry in CASES"
        );
    }
    for (case, _) in CASES {
        assert!(
            dirs.iter().any(|d| d == case),
            "CASES names {case}, which is not a fixture"
        );
    }
}

#[test]
fn fixtures_fix_real_crashes() {
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|(case, expected)| {
            check_case(case, *expected)
                .err()
                .map(|e| format!("{case}: {e}"))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

fn check_case(case: &str, expected: Option<&str>) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    for entry in fs::read_dir(fixtures_dir().join(case)).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path.file_name().ok_or("no file name")?;
        fs::copy(&path, tmp.path().join(name)).map_err(|e| e.to_string())?;
    }
    let (ok, stderr) = run_python(tmp.path());
    if ok {
        return Err("the fixture does not fail".to_string());
    }
    let parsed = crate::detect::python::parse(&stderr);
    let tb = parsed
        .traceback
        .ok_or_else(|| format!("no traceback in:\n{stderr}"))?;
    let error = Finding::from_traceback(&tb, None).error;
    let (file, line) =
        locate(&error, tmp.path()).ok_or_else(|| format!("no project location in:\n{stderr}"))?;
    let source = fs::read_to_string(tmp.path().join(&file)).map_err(|e| e.to_string())?;
    let input = RuleInput {
        error: &error,
        file: &file,
        line,
        source: &source,
    };
    let enabled: Vec<String> = RULES.iter().map(|r| r.to_string()).collect();
    let fix = instant_fix(&input, &enabled);
    let fix = match (expected, fix) {
        (None, None) => return Ok(()),
        (None, Some(fix)) => {
            return Err(format!(
                "expected no fix, got {}: {}\n{}",
                fix.rule, fix.summary, fix.after
            ));
        }
        (Some(rule), None) => return Err(format!("expected {rule}, no rule fixed:\n{stderr}")),
        (Some(rule), Some(fix)) if fix.rule != rule => {
            return Err(format!(
                "expected {rule}, got {}: {}",
                fix.rule, fix.summary
            ));
        }
        (Some(_), Some(fix)) => fix,
    };
    if fix.file != file {
        return Err(format!("the fix is for {}, not {file}", fix.file));
    }
    // See: issue 15 (the report's "Cause:" showed the fix). Every rule says what is wrong,
    // apart from what it changes.
    if fix.cause.trim().is_empty() || fix.cause == fix.summary {
        return Err(format!(
            "{}: the cause `{}` does not say what is wrong",
            fix.rule, fix.cause
        ));
    }
    fs::write(tmp.path().join(&file), &fix.after).map_err(|e| e.to_string())?;
    let (ok, after_stderr) = run_python(tmp.path());
    if !ok {
        return Err(format!(
            "{}\nstill fails after the fix:\n{}\n{after_stderr}",
            fix.summary, fix.after
        ));
    }
    Ok(())
}

/// Runs `python3 main.py` in `dir`: whether it exited 0, and its stderr.
fn run_python(dir: &Path) -> (bool, String) {
    let out = Command::new("python3")
        .arg("main.py")
        .current_dir(dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONSTARTUP")
        .output()
        .expect("python3 must be on PATH for these tests");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The project file and line of the error, as the pipeline finds them: the SyntaxError's own
/// location, or the innermost frame in the project.
fn locate(error: &ErrorInfo, project: &Path) -> Option<(String, u32)> {
    // Python before 3.9 prints the main script's path as it was given (`main.py`).
    let relative = |printed: &str| -> Option<String> {
        let path = Path::new(printed);
        if path.is_relative() {
            return project.join(path).is_file().then(|| printed.to_string());
        }
        let canonical = project.canonicalize().ok()?;
        let rel = path
            .strip_prefix(project)
            .or_else(|_| path.strip_prefix(&canonical))
            .ok()?;
        Some(rel.to_string_lossy().into_owned())
    };
    if matches!(
        error.exc_type.as_str(),
        "SyntaxError" | "IndentationError" | "TabError"
    ) {
        let (path, line, _) = syntax_location(error)?;
        return Some((relative(&path)?, line));
    }
    error
        .frames
        .iter()
        .rev()
        .find_map(|f| relative(&f.file).map(|file| (file, f.line)))
}
