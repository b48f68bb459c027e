//! The tests a fix for a failing test is proved with: the failing test, the other tests of its
//! file, and the tests of the test files that import a module the fix touched. Never the whole
//! suite (`verify.commands` is there for that).
//!
//! It reads test files (a bounded walk of the project) and writes nothing.

use std::path::Path;

use super::{Failure, Phase, Runner, is_test_file};

/// Test files looked at before the walk gives up.
const MAX_FILES: usize = 2000;
/// Folders never walked: not the project's tests.
const SKIPPED: &[&str] = &[
    ".git",
    "__pycache__",
    "node_modules",
    ".venv",
    "venv",
    "site-packages",
    "storage",
    ".tox",
];

/// The ids to run, as `runner` takes them: pytest node ids or test files; unittest dotted ids
/// or test modules. `touched`: the files the fix changes, relative to `root`.
pub fn selection(
    root: &Path,
    runner: Runner,
    failure: &Failure,
    touched: &[String],
) -> Vec<String> {
    let mut out = vec![failure.id.clone()];
    let mut push = |id: String| {
        if !out.contains(&id) {
            out.push(id);
        }
    };
    match runner {
        Runner::Pytest => {
            if let Some(file) = &failure.file {
                push(file.clone());
            }
        }
        Runner::Unittest => {
            if failure.phase == Phase::Call
                && let Some((module, _)) = failure.id.rsplit_once('.')
                && let Some((module, _)) = module.rsplit_once('.')
            {
                push(module.to_string());
            }
        }
    }
    let modules: Vec<String> = touched
        .iter()
        .filter(|t| t.ends_with(".py") && !is_test_file(t))
        .map(|t| module_of(t))
        .collect();
    if modules.is_empty() {
        return out;
    }
    for file in test_files(root) {
        let Ok(text) = std::fs::read_to_string(root.join(&file)) else {
            continue;
        };
        if modules.iter().any(|m| imports_module(&text, m)) {
            push(match runner {
                Runner::Pytest => file,
                Runner::Unittest => module_of(&file),
            });
        }
    }
    out
}

/// `pkg/calc.py` → `pkg.calc`; `pkg/__init__.py` → `pkg`.
fn module_of(rel: &str) -> String {
    rel.trim_end_matches(".py")
        .trim_end_matches("/__init__")
        .replace('/', ".")
}

/// Whether `text` imports `module` (or, for `pkg.calc`, `calc` from `pkg`).
fn imports_module(text: &str, module: &str) -> bool {
    let last = module.rsplit('.').next().unwrap_or(module);
    text.lines().any(|line| {
        let line = line.trim();
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
            .filter(|w| !w.is_empty())
            .collect();
        match words.first() {
            Some(&"import") => words[1..]
                .iter()
                .any(|w| *w == module || w.starts_with(&format!("{module}."))),
            Some(&"from") => {
                let from = words.get(1).copied().unwrap_or("");
                let from = from.trim_start_matches('.');
                from == module
                    || from.ends_with(&format!(".{last}"))
                    || from == last
                    || words.iter().skip(3).any(|w| *w == last)
            }
            _ => false,
        }
    })
}

/// The project's test files, relative to `root`, in a bounded walk.
pub fn test_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::new()];
    let mut seen = 0usize;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            seen += 1;
            if seen > MAX_FILES {
                return out;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = dir.join(&name);
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !name.starts_with('.') && !SKIPPED.contains(&name.as_str()) {
                    stack.push(rel);
                }
            } else if name.ends_with(".py") && name != "conftest.py" {
                let rel = rel.to_string_lossy().into_owned();
                if is_test_file(&rel) {
                    out.push(rel);
                }
            }
        }
    }
    out
}

/// The test functions of the project that call `name(`: (test file, the test's text), the
/// first `max` found, each cut to `max_lines` lines. What the project expects of a function,
/// said by its own tests.
pub fn tests_calling(
    root: &Path,
    name: &str,
    max: usize,
    max_lines: usize,
) -> Vec<(String, String)> {
    let needle = format!("{name}(");
    let mut out = Vec::new();
    for file in test_files(root) {
        if out.len() >= max {
            break;
        }
        let Ok(text) = std::fs::read_to_string(root.join(&file)) else {
            continue;
        };
        if !text.contains(&needle) {
            continue;
        }
        for def in crate::prove::edited::functions(&text) {
            if out.len() >= max {
                break;
            }
            let short = def.qualname.rsplit('.').next().unwrap_or(&def.qualname);
            if !short.starts_with("test") {
                continue;
            }
            let lines: Vec<&str> = text
                .lines()
                .skip(def.start.saturating_sub(1) as usize)
                .take((def.end + 1).saturating_sub(def.start) as usize)
                .collect();
            if lines.iter().any(|l| l.contains(&needle)) {
                let body: Vec<&str> = lines.into_iter().take(max_lines).collect();
                out.push((file.clone(), body.join("\n")));
            }
        }
    }
    out
}
