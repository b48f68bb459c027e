//! Where a failure raised in a test itself points: the function the test calls on its failing
//! line (`assert average([1, 2, 4]) == 2` → `average`), found through the test file's imports.
//! A bare `assert` mismatch is the test saying the code under test returned the wrong thing;
//! the fix belongs in that code, never in the test.
//!
//! It reads the test file and the module it imports from, and never guesses: a name it cannot
//! follow to a `def` in the project gives `None`.

use std::path::Path;

use crate::detect::locate::Location;

/// Names a failing line may call that are never the code under test.
const NOT_UNDER_TEST: &[&str] = &[
    "abs",
    "all",
    "any",
    "bool",
    "dict",
    "float",
    "frozenset",
    "getattr",
    "hasattr",
    "int",
    "isinstance",
    "issubclass",
    "len",
    "list",
    "max",
    "min",
    "print",
    "range",
    "repr",
    "round",
    "set",
    "sorted",
    "str",
    "sum",
    "tuple",
    "type",
    "zip",
    "approx",
    "raises",
    "warns",
];

/// The function the test calls on its failing line `code` (as the traceback showed it), in
/// the project under `root`; `test_file` is the test's path relative to `root`.
pub fn call(root: &Path, test_file: &str, code: &str) -> Option<Location> {
    let test_text = std::fs::read_to_string(root.join(test_file)).ok()?;
    let imports = imports(&test_text);
    let test_dir = Path::new(test_file).parent().unwrap_or(Path::new(""));
    for called in called_names(code) {
        let (module, function) = match called.rsplit_once('.') {
            // `mod.func(...)`: `mod` bound by `import pkg.mod as mod`.
            Some((head, func)) => {
                let Some((module, None)) = imports
                    .iter()
                    .find(|(n, _)| n == head)
                    .map(|(_, b)| b.clone())
                else {
                    continue;
                };
                (module, func.to_string())
            }
            // `func(...)`: bound by `from mod import func`.
            None => {
                let Some((module, Some(attr))) = imports
                    .iter()
                    .find(|(n, _)| *n == called)
                    .map(|(_, b)| b.clone())
                else {
                    continue;
                };
                (module, attr)
            }
        };
        if let Some(found) = find_def(root, test_dir, &module, &function) {
            return Some(found);
        }
    }
    None
}

/// The names called on a line, in order: `f(`, `mod.f(`, but not `self.f(` nor builtins.
fn called_names(code: &str) -> Vec<String> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
            {
                i += 1;
            }
            let name = &code[start..i];
            let mut j = i;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            let preceded_by_dot = start > 0 && bytes[start - 1] == b'.';
            if j < bytes.len()
                && bytes[j] == b'('
                && !preceded_by_dot
                && !name.starts_with("self.")
                && !name.starts_with("cls.")
                && !NOT_UNDER_TEST.contains(&name)
                && !name.ends_with('.')
            {
                out.push(name.to_string());
            }
        } else {
            i += 1;
        }
    }
    out
}

/// What each local name of a file's imports is bound to: (module, attribute) for
/// `from module import attribute`, (module, None) for `import module`.
fn imports(text: &str) -> Vec<(String, (String, Option<String>))> {
    let mut out = Vec::new();
    // Parenthesized imports span lines: join each statement first.
    let mut statements: Vec<String> = Vec::new();
    let mut open: Option<String> = None;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        if let Some(acc) = open.as_mut() {
            acc.push(' ');
            acc.push_str(line.trim());
            if line.contains(')') {
                statements.extend(open.take());
            }
            continue;
        }
        let trimmed = line.trim();
        if trimmed.starts_with("from ") || trimmed.starts_with("import ") {
            if trimmed.contains('(') && !trimmed.contains(')') {
                open = Some(trimmed.to_string());
            } else {
                statements.push(trimmed.to_string());
            }
        }
    }
    for s in statements {
        let s = s.replace(['(', ')'], " ");
        if let Some(rest) = s.strip_prefix("from ") {
            let Some((module, names)) = rest.split_once(" import ") else {
                continue;
            };
            for item in names.split(',') {
                let mut words = item.split_whitespace();
                let Some(attr) = words.next() else { continue };
                let local = match (words.next(), words.next()) {
                    (Some("as"), Some(alias)) => alias,
                    _ => attr,
                };
                out.push((
                    local.to_string(),
                    (module.trim().to_string(), Some(attr.to_string())),
                ));
            }
        } else if let Some(rest) = s.strip_prefix("import ") {
            for item in rest.split(',') {
                let mut words = item.split_whitespace();
                let Some(module) = words.next() else { continue };
                let local = match (words.next(), words.next()) {
                    (Some("as"), Some(alias)) => alias.to_string(),
                    _ => module.to_string(),
                };
                out.push((local, (module.to_string(), None)));
            }
        }
    }
    out
}

/// The `def` of `function` (or the `__init__` of a class of that name) in `module`, searched
/// in the project's usual layouts.
fn find_def(root: &Path, test_dir: &Path, module: &str, function: &str) -> Option<Location> {
    let dots = module.chars().take_while(|c| *c == '.').count();
    let path = module[dots..].replace('.', "/");
    let mut bases: Vec<std::path::PathBuf> = Vec::new();
    if dots > 0 {
        // `from .calc import f` in a test package: relative to the test's folder.
        let mut base = test_dir.to_path_buf();
        for _ in 1..dots {
            base.pop();
        }
        bases.push(base);
    } else {
        bases.push(std::path::PathBuf::new());
        bases.push(std::path::PathBuf::from("src"));
        bases.push(test_dir.to_path_buf());
    }
    for base in bases {
        for candidate in [format!("{path}.py"), format!("{path}/__init__.py")] {
            let rel = base.join(&candidate);
            let rel = rel.to_string_lossy().trim_start_matches("./").to_string();
            if rel.is_empty() || super::is_test_file(&rel) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(root.join(&rel)) else {
                continue;
            };
            let defs = crate::prove::edited::functions(&text);
            let init = format!("{function}.__init__");
            let found = defs
                .iter()
                .find(|d| d.qualname == function)
                .or_else(|| defs.iter().find(|d| d.qualname == init));
            if let Some(def) = found {
                let module = rel
                    .trim_end_matches(".py")
                    .trim_end_matches("/__init__")
                    .replace('/', ".");
                return Some(Location {
                    file: rel,
                    module,
                    function: def.qualname.clone(),
                    line: def.start,
                });
            }
        }
    }
    None
}
