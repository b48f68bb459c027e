//! Which files a fix may touch: existing files inside the project, outside `.git`, outside
//! heal's storage folder, and not matching the blacklist.
//!
//! Paths come from the model and are not trusted. Each one is resolved the way the file system
//! would resolve it (`..` and symlinks, one component at a time) before it is judged, so a
//! symlink inside the project that points elsewhere cannot smuggle an edit out. This module
//! reads metadata only; it must never write or create anything.

use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Globs no fix may touch, whatever the user configured: credentials and keys. The user's
/// globs are added to these. Matched against the repo-relative path; `*` also matches `/`, so
/// a blacklist errs on the side of refusing.
pub const DEFAULT_BLACKLIST: &[&str] = &[
    "secrets/**",
    "**/secrets/**",
    ".env*",
    "**/.env*",
    "**/*.pem",
    "**/*.key",
    "**/id_rsa*",
    "**/id_ed25519*",
    // heal's own configuration: a fix must never loosen the rules that judge the next one.
    "heal.toml",
    "**/heal.toml",
];

#[derive(Debug, thiserror::Error)]
pub enum ScopeError {
    #[error("the project root {path} cannot be resolved: {source}")]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the blacklist glob {glob:?} is not valid: {source}")]
    Glob {
        glob: String,
        #[source]
        source: globset::Error,
    },
}

/// Why a fix may not touch a file; the text says which file and why, for the user and for the
/// model.
#[derive(Debug, thiserror::Error)]
pub enum Rejected {
    #[error("the fix names a file with an empty path")]
    Empty,
    #[error("{file} is an absolute path; a fix names files relative to the project root")]
    Absolute { file: String },
    #[error("{file} lies outside the project root")]
    Outside { file: String },
    #[error("{file} resolves outside the project root through a symlink")]
    Symlink { file: String },
    #[error("{file} is inside .git; a fix may not touch git's own files")]
    Git { file: String },
    #[error("{file} is inside heal's storage folder")]
    Storage { file: String },
    #[error("{file} matches the blacklist glob {glob:?}")]
    Blacklisted { file: String, glob: String },
    #[error("{file} does not exist; a fix may only edit existing files")]
    Missing { file: String },
    #[error("{file} is not a regular file")]
    NotAFile { file: String },
    #[error("{file} cannot be resolved: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

/// The limits of one project, resolved once.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Canonical project root.
    root: PathBuf,
    /// Canonical storage folder (or its lexical absolute form while it does not exist yet).
    storage_dir: PathBuf,
    blacklist: GlobSet,
    /// The globs of `blacklist`, in the same order, to name the one that matched.
    globs: Vec<String>,
}

impl Scope {
    /// `blacklist` holds the user's globs; [`DEFAULT_BLACKLIST`] is always added. A relative
    /// `storage_dir` is taken relative to `root`.
    pub fn new(root: &Path, storage_dir: &Path, blacklist: &[String]) -> Result<Scope, ScopeError> {
        let root = root.canonicalize().map_err(|source| ScopeError::Root {
            path: root.to_path_buf(),
            source,
        })?;
        let storage_abs = if storage_dir.is_absolute() {
            storage_dir.to_path_buf()
        } else {
            root.join(storage_dir)
        };
        // The storage folder may not exist yet (no incident recorded); its lexical form is then
        // the best answer, and nothing can be inside it anyway.
        let storage_dir = storage_abs
            .canonicalize()
            .unwrap_or_else(|_| lexical_normalize(&storage_abs));
        let mut builder = GlobSetBuilder::new();
        let mut globs = Vec::new();
        for glob in DEFAULT_BLACKLIST
            .iter()
            .map(|g| (*g).to_string())
            .chain(blacklist.iter().cloned())
        {
            let parsed = Glob::new(&glob).map_err(|source| ScopeError::Glob {
                glob: glob.clone(),
                source,
            })?;
            builder.add(parsed);
            globs.push(glob);
        }
        let blacklist = builder.build().map_err(|source| ScopeError::Glob {
            glob: globs.join(", "),
            source,
        })?;
        Ok(Scope {
            root,
            storage_dir,
            blacklist,
            globs,
        })
    }

    /// The canonical project root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Checks a path named by a fix; returns the file's canonical absolute path.
    pub fn check(&self, file: &str) -> Result<PathBuf, Rejected> {
        let owned = || file.to_string();
        if file.trim().is_empty() {
            return Err(Rejected::Empty);
        }
        let given = Path::new(file);
        if given.is_absolute() || given.has_root() {
            return Err(Rejected::Absolute { file: owned() });
        }
        if given.components().any(|c| c.as_os_str() == ".git") {
            return Err(Rejected::Git { file: owned() });
        }
        let lexical = lexical_normalize(&self.root.join(given));
        let resolved = self.resolve(given).map_err(|source| Rejected::Io {
            file: owned(),
            source,
        })?;
        let Ok(rel) = resolved.strip_prefix(&self.root) else {
            return Err(if lexical.starts_with(&self.root) {
                Rejected::Symlink { file: owned() }
            } else {
                Rejected::Outside { file: owned() }
            });
        };
        if rel.as_os_str().is_empty() {
            return Err(Rejected::NotAFile { file: owned() });
        }
        if rel.components().any(|c| c.as_os_str() == ".git") {
            return Err(Rejected::Git { file: owned() });
        }
        if resolved.starts_with(&self.storage_dir) || lexical.starts_with(&self.storage_dir) {
            return Err(Rejected::Storage { file: owned() });
        }
        // Judge both the name the model gave and the file it resolves to: a symlink
        // `config.py -> .env` must not open the door to `.env`.
        let lexical_rel = lexical.strip_prefix(&self.root).ok();
        for candidate in std::iter::once(rel).chain(lexical_rel) {
            if let Some(i) = self.blacklist.matches(candidate).first() {
                return Err(Rejected::Blacklisted {
                    file: owned(),
                    glob: self.globs.get(*i).cloned().unwrap_or_default(),
                });
            }
        }
        match std::fs::metadata(&resolved) {
            Ok(meta) if meta.is_file() => Ok(resolved),
            Ok(_) => Err(Rejected::NotAFile { file: owned() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Rejected::Missing { file: owned() })
            }
            Err(source) => Err(Rejected::Io {
                file: owned(),
                source,
            }),
        }
    }

    /// The path relative to the root of a path [`check`](Self::check) returned, with `/`.
    pub fn relative(&self, abs: &Path) -> Option<String> {
        let rel = abs.strip_prefix(&self.root).ok()?;
        let parts: Vec<&str> = rel
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect::<Option<_>>()?;
        Some(parts.join("/"))
    }

    /// Resolves `rel` against the root one component at a time: each existing prefix is
    /// canonicalized (following symlinks, as the kernel would), the missing rest is appended
    /// lexically (a missing component cannot be a symlink).
    fn resolve(&self, rel: &Path) -> std::io::Result<PathBuf> {
        let mut current = self.root.clone();
        let mut exists = true;
        for component in rel.components() {
            match component {
                Component::CurDir => {}
                Component::ParentDir => {
                    current.pop();
                }
                Component::Normal(name) => {
                    current.push(name);
                    if exists {
                        match current.canonicalize() {
                            Ok(real) => current = real,
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                                // A dangling symlink is "missing" only if it stays inside;
                                // follow its target lexically to judge where it points.
                                exists = false;
                                if let Ok(target) = std::fs::read_link(&current) {
                                    current.pop();
                                    current = lexical_normalize(&current.join(target));
                                }
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(std::io::Error::other("absolute path component"));
                }
            }
        }
        Ok(current)
    }
}

/// Removes `.` and resolves `..` without touching the file system.
fn lexical_normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_normalize_resolves_dots() {
        assert_eq!(
            lexical_normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
    }

    #[test]
    fn default_blacklist_is_valid_and_matches_nested_env_files() {
        let dir = tempfile::tempdir().unwrap();
        let scope = Scope::new(dir.path(), &dir.path().join("storage"), &[]).unwrap();
        for path in [
            ".env",
            "app/.env.local",
            "secrets/db.txt",
            "certs/a.pem",
            "k.key",
        ] {
            assert!(scope.blacklist.is_match(path), "{path}");
        }
        assert!(!scope.blacklist.is_match("app/main.py"));
    }
}
