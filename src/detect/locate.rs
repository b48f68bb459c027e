//! Finds where in the project an exception happened: the innermost frame whose file is one of
//! the project's own sources.
//!
//! A frame is the project's when its path is under the project root (or one of the other
//! spellings of it the caller passes, like the root with its symlinks resolved) or relative
//! (Python 3.8 prints paths relative to the working directory, which is the project root); and
//! not when it is a pseudo-file (`<string>`, `<frozen importlib._bootstrap>`), in a
//! virtualenv or installed packages (`.venv/`, `venv/`, `site-packages`, `dist-packages`, ...),
//! or in a Python installation (`lib/python3.X/`), even one kept inside the project.
//!
//! Pure string logic: it must never touch the filesystem (no canonicalize, no exists), so it
//! gives the same answer for a traceback read long after the files changed.

use super::{Exception, Traceback};

/// The project frame that locates an exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Relative to the project root, `/`-separated (`engine/decision_engine.py`).
    pub file: String,
    /// Dotted module (`engine.decision_engine`); a package's `__init__.py` gives the package.
    pub module: String,
    pub function: String,
    pub line: u32,
}

/// Path components that hold code the project does not own.
const FOREIGN_DIRS: &[&str] = &[
    "site-packages",
    "dist-packages",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pypackages__",
    ".eggs",
    "node_modules",
];

/// The innermost frame of `exception` in the project rooted at `root` (or at one of
/// `extra_roots`, other spellings of the same directory).
pub fn locate(exception: &Exception, root: &str, extra_roots: &[&str]) -> Option<Location> {
    exception.frames.iter().rev().find_map(|frame| {
        let file = project_file(&frame.file, root, extra_roots)?;
        Some(Location {
            module: module_of(&file),
            file,
            function: frame.function.clone(),
            line: frame.line,
        })
    })
}

/// Locates a whole traceback: the exception that best locates the bug first (a group's first
/// member), then the reported one, then the chain from the newest to the oldest.
pub fn locate_traceback(tb: &Traceback, root: &str, extra_roots: &[&str]) -> Option<Location> {
    let primary = tb.primary();
    locate(primary, root, extra_roots)
        .or_else(|| {
            if std::ptr::eq(primary, &tb.exception) {
                None
            } else {
                locate(&tb.exception, root, extra_roots)
            }
        })
        .or_else(|| {
            tb.chain
                .iter()
                .rev()
                .find_map(|(exc, _)| locate(exc, root, extra_roots))
        })
}

/// The path relative to the project when it is one of the project's own files.
pub fn project_file(printed: &str, root: &str, extra_roots: &[&str]) -> Option<String> {
    let printed = printed.trim();
    if printed.is_empty() || (printed.starts_with('<') && printed.ends_with('>')) {
        return None;
    }
    let path = printed.replace('\\', "/");
    let relative = if is_absolute(&path) {
        let path = clean(&path)?;
        std::iter::once(root)
            .chain(extra_roots.iter().copied())
            .filter(|r| !r.trim().is_empty())
            .find_map(|r| {
                let r = clean(&r.replace('\\', "/"))?;
                let rest = if r == "/" {
                    path.strip_prefix('/')
                } else {
                    path.strip_prefix(r.as_str())?.strip_prefix('/')
                }?;
                Some(rest.to_string())
            })?
    } else {
        let rel = clean(&path)?;
        // `../x.py` is outside the working directory, so outside the project.
        if rel.starts_with("../") || rel == ".." || rel.starts_with('/') {
            return None;
        }
        rel
    };
    if relative.is_empty() || is_foreign(&relative) {
        return None;
    }
    Some(relative)
}

fn is_absolute(path: &str) -> bool {
    let b = path.as_bytes();
    // POSIX, or a Windows drive (`C:/...` once backslashes are turned around).
    path.starts_with('/') || (b.len() >= 3 && b[0].is_ascii_alphabetic() && &b[1..3] == b":/")
}

/// Lexically removes `.`, `..` and repeated separators (no symlink resolution: no filesystem).
/// `None` when `..` climbs above an absolute root.
fn clean(path: &str) -> Option<String> {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if absolute => return None,
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    Some(if absolute {
        format!("/{joined}")
    } else {
        joined
    })
}

/// Installed packages, virtualenvs and Python installations, even inside the project.
fn is_foreign(relative: &str) -> bool {
    let parts: Vec<&str> = relative.split('/').collect();
    let dirs = &parts[..parts.len().saturating_sub(1)];
    dirs.iter().any(|d| FOREIGN_DIRS.contains(d))
        || dirs.windows(2).any(|w| {
            w[0] == "lib"
                && w[1]
                    .strip_prefix("python")
                    .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        })
}

/// `engine/decision_engine.py` → `engine.decision_engine`; `engine/__init__.py` → `engine`.
fn module_of(relative: &str) -> String {
    let stem = [".py", ".pyw", ".pyx"]
        .iter()
        .find_map(|ext| relative.strip_suffix(ext))
        .unwrap_or(relative);
    let stem = stem.strip_suffix("/__init__").unwrap_or(stem);
    stem.replace('/', ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_paths() {
        assert_eq!(clean("/a/./b//c/../d").as_deref(), Some("/a/b/d"));
        assert_eq!(clean("/../x"), None);
        assert_eq!(clean("./x/../../y").as_deref(), Some("../y"));
    }

    #[test]
    fn project_files() {
        let root = "/srv/app/";
        assert_eq!(
            project_file("/srv/app/engine/x.py", root, &[]).as_deref(),
            Some("engine/x.py")
        );
        assert_eq!(project_file("/srv/application/x.py", root, &[]), None);
        assert_eq!(
            project_file(
                "/srv/app/.venv/lib/python3.11/site-packages/a.py",
                root,
                &[]
            ),
            None
        );
        assert_eq!(
            project_file("/srv/app/py/lib/python3.12/json/x.py", root, &[]),
            None
        );
        assert_eq!(
            project_file("/srv/quixbugs/../app/x.py", root, &[]).as_deref(),
            Some("x.py")
        );
        assert_eq!(project_file("<frozen runpy>", root, &[]), None);
        assert_eq!(project_file("../other/x.py", root, &[]), None);
        assert_eq!(project_file("./x.py", root, &[]).as_deref(), Some("x.py"));
        assert_eq!(
            project_file("/real/app/x.py", root, &["/real/app"]).as_deref(),
            Some("x.py")
        );
        assert_eq!(project_file("/srv/app/x.py", "", &[]), None);
    }

    #[test]
    fn modules() {
        assert_eq!(
            module_of("engine/decision_engine.py"),
            "engine.decision_engine"
        );
        assert_eq!(module_of("engine/__init__.py"), "engine");
        assert_eq!(module_of("main.py"), "main");
    }
}
