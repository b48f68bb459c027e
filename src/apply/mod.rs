//! Turns a fix's edits into a checked plan, writes it to the live tree with backups, and puts
//! the backups back on demand.
//!
//! - [`plan`] checks every path against the [`Scope`] before reading any file, then computes
//!   each file's new text in memory ([`edits::apply_edits`]). Nothing is written.
//! - [`apply`] first checks the live files still hold what the plan was computed from, then
//!   writes a backup of every file to `<errors_dir>/{id}_backup_{name}`, then writes each file
//!   atomically, keeping its mode. If one write fails, the files already written are restored.
//! - [`restore`] puts backups back (`heal revert`, or a fix that made things worse).
//!
//! It must never leave a file half-written, never write a file without a backup of it on disk
//! first, and never overwrite an existing backup.

pub mod atomic;
pub mod edits;
pub mod function;
pub mod lock;
pub mod scope;

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use crate::analyse::answer::Edit;

pub use edits::{EditError, EditErrorKind, apply_edits};
pub use scope::{DEFAULT_BLACKLIST, Rejected, Scope, ScopeError};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("the fix has no edits")]
    NoEdits,
    #[error("the fix is refused: {0}")]
    Rejected(#[from] Rejected),
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file} is not UTF-8 text; heal edits text files only")]
    NotText { file: String },
    /// `source.index` is the edit's position in the whole fix, not within its file.
    #[error("{file}: {source}")]
    Edit {
        file: String,
        #[source]
        source: EditError,
    },
    #[error("the fix changes nothing: every edit replaces a text with itself")]
    NoChange,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the incident id {0:?} cannot name a backup file")]
    BadId(String),
    #[error("cannot read {file}: {source}; nothing was written")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file} changed since the fix was planned; nothing was written")]
    Changed { file: String },
    #[error("cannot create the backup folder {path}: {source}; nothing was written")]
    BackupDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot back up {file} to {path}: {source}; nothing was written")]
    Backup {
        file: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `aftermath` says what became of the files written before this one.
    #[error("cannot write {file}: {source}; {aftermath}")]
    Write {
        file: String,
        #[source]
        source: std::io::Error,
        aftermath: String,
    },
    #[error("cannot restore {}", .failures.join("; "))]
    Restore { failures: Vec<String> },
    #[error("cannot take the project lock {path}: {source}")]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The checked, computed fix: every file it changes, before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub files: Vec<PlannedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Path relative to the project root, with `/`, after symlinks were resolved.
    pub rel: String,
    /// Canonical absolute path (the real file, not a symlink to it).
    pub abs: PathBuf,
    pub before: String,
    pub after: String,
}

/// What [`apply`] wrote, for the record and for [`restore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub backups: Vec<Backup>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The file, relative to the project root.
    pub file: String,
    /// Where its previous content is kept.
    pub backup: PathBuf,
}

impl Plan {
    /// A unified diff of the whole plan, `a/` and `b/` headers, for reports and prompts.
    pub fn diff(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            let diff = similar::TextDiff::from_lines(&file.before, &file.after);
            out.push_str(
                &diff
                    .unified_diff()
                    .context_radius(3)
                    .header(&format!("a/{}", file.rel), &format!("b/{}", file.rel))
                    .to_string(),
            );
        }
        out
    }
}

/// Checks and computes a fix. Every path is checked before any file is read: one refused path
/// refuses the whole fix. Files the edits leave unchanged are left out of the plan.
pub fn plan(scope: &Scope, edits: &[Edit]) -> Result<Plan, PlanError> {
    plan_with(scope, edits, &|_, abs| std::fs::read(abs))
}

/// [`plan`], with each file's current bytes read by `read` (given the relative and the
/// absolute path): a crash chain plans a link against the earlier links' text, not the live
/// file's. Paths are checked against the scope all the same.
pub fn plan_with(
    scope: &Scope,
    edits: &[Edit],
    read: &dyn Fn(&str, &Path) -> std::io::Result<Vec<u8>>,
) -> Result<Plan, PlanError> {
    if edits.is_empty() {
        return Err(PlanError::NoEdits);
    }
    // Grouped by the resolved file, so `a.py` and `./a.py` are one file, in first-named order.
    let mut groups: Vec<(PathBuf, Vec<usize>)> = Vec::new();
    for (index, edit) in edits.iter().enumerate() {
        let abs = scope.check(&edit.file)?;
        match groups.iter_mut().find(|(path, _)| *path == abs) {
            Some((_, indexes)) => indexes.push(index),
            None => groups.push((abs, vec![index])),
        }
    }
    let mut files = Vec::new();
    for (abs, indexes) in groups {
        let rel = scope
            .relative(&abs)
            .unwrap_or_else(|| abs.to_string_lossy().into_owned());
        let bytes = read(&rel, &abs).map_err(|source| PlanError::Read {
            file: rel.clone(),
            source,
        })?;
        // A NUL byte marks a binary file even when it happens to be valid UTF-8.
        let before = match String::from_utf8(bytes) {
            Ok(text) if !text.contains('\0') => text,
            _ => return Err(PlanError::NotText { file: rel }),
        };
        let file_edits: Vec<&Edit> = indexes.iter().map(|&i| &edits[i]).collect();
        let after = apply_edits(&before, &file_edits).map_err(|e| PlanError::Edit {
            file: rel.clone(),
            source: EditError {
                index: indexes.get(e.index).copied().unwrap_or(e.index),
                kind: e.kind,
            },
        })?;
        if after != before {
            files.push(PlannedFile {
                rel,
                abs,
                before,
                after,
            });
        }
    }
    if files.is_empty() {
        return Err(PlanError::NoChange);
    }
    Ok(Plan { files })
}

/// Writes `plan` to the live tree, backing every file up in `errors_dir` first.
pub fn apply(plan: &Plan, errors_dir: &Path, incident_id: &str) -> Result<Applied, ApplyError> {
    apply_with(plan, errors_dir, incident_id, write_file)
}

/// [`apply`] with the per-file write given by the caller: the moment between two file writes
/// is where a crash or a full disk hurts, and tests (and a later failpoint) reach it here.
/// `write` gets each file's absolute path and new bytes; [`write_file`] is the real one.
pub fn apply_with(
    plan: &Plan,
    errors_dir: &Path,
    incident_id: &str,
    mut write: impl FnMut(&Path, &[u8]) -> std::io::Result<()>,
) -> Result<Applied, ApplyError> {
    if incident_id.is_empty() || incident_id.contains(['/', '\0']) || incident_id.starts_with('.') {
        return Err(ApplyError::BadId(incident_id.to_string()));
    }
    // The plan may be minutes old (the proof ran in between): a file edited since then must not
    // be overwritten with text computed from its old content.
    let mut metas = Vec::with_capacity(plan.files.len());
    for file in &plan.files {
        let read = |source| ApplyError::Read {
            file: file.rel.clone(),
            source,
        };
        let live = std::fs::read(&file.abs).map_err(read)?;
        if live != file.before.as_bytes() {
            return Err(ApplyError::Changed {
                file: file.rel.clone(),
            });
        }
        metas.push(std::fs::metadata(&file.abs).map_err(read)?);
    }

    std::fs::create_dir_all(errors_dir).map_err(|source| ApplyError::BackupDir {
        path: errors_dir.to_path_buf(),
        source,
    })?;
    let names = backup_paths(plan, errors_dir, incident_id);
    let mut backups: Vec<Backup> = Vec::with_capacity(plan.files.len());
    for ((file, meta), path) in plan.files.iter().zip(&metas).zip(names) {
        if let Err(source) = atomic::write(&path, file.before.as_bytes(), Some(meta)) {
            // Backups of a fix that was never written are clutter, and would push the next
            // attempt's backups to longer names.
            for written in &backups {
                let _ = std::fs::remove_file(&written.backup);
            }
            return Err(ApplyError::Backup {
                file: file.rel.clone(),
                path,
                source,
            });
        }
        backups.push(Backup {
            file: file.rel.clone(),
            backup: path,
        });
    }

    crate::failpoint::hit("after-backup");
    for (i, file) in plan.files.iter().enumerate() {
        if i == 1 {
            crate::failpoint::hit("between-writes");
        }
        if let Err(source) = write(&file.abs, file.after.as_bytes()) {
            let aftermath = roll_back(plan, &backups, i);
            return Err(ApplyError::Write {
                file: file.rel.clone(),
                source,
                aftermath,
            });
        }
    }
    Ok(Applied { backups })
}

/// The real per-file write: atomic, keeping the file's mode and owner.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    atomic::write(path, bytes, Some(&meta))
}

/// After the write of file `failed` failed: restores the files written before it (and the
/// failed one, should a writer have left it changed). Says what happened, for the error.
fn roll_back(plan: &Plan, backups: &[Backup], failed: usize) -> String {
    let mut restored = Vec::new();
    let mut lost = Vec::new();
    for (i, (file, backup)) in plan.files.iter().zip(backups).enumerate().take(failed + 1) {
        if i == failed && std::fs::read(&file.abs).is_ok_and(|b| b == file.before.as_bytes()) {
            continue;
        }
        match restore_one(&file.abs, &backup.backup) {
            Ok(()) => restored.push(file.rel.clone()),
            Err(e) => lost.push(format!(
                "{} could NOT be restored ({e}); its previous content is in {}",
                file.rel,
                backup.backup.display()
            )),
        }
    }
    match (restored.is_empty(), lost.is_empty()) {
        (true, true) => "no file was changed".to_string(),
        (false, true) => format!(
            "restored {} from the backups; no file is left changed",
            restored.join(", ")
        ),
        (_, false) => {
            let mut text = lost.join("; ");
            if !restored.is_empty() {
                text.push_str(&format!("; restored {}", restored.join(", ")));
            }
            text
        }
    }
}

/// Puts each backup back over its file under `root`, atomically. Tries every backup even when
/// one fails, and names all that failed.
pub fn restore(root: &Path, backups: &[Backup]) -> Result<(), ApplyError> {
    let mut failures = Vec::new();
    for backup in backups {
        let rel = Path::new(&backup.file);
        // Backups come from heal's own record, but the record is a file anyone can edit.
        if !rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            failures.push(format!("{}: not a path inside the project", backup.file));
            continue;
        }
        if let Err(e) = restore_one(&root.join(rel), &backup.backup) {
            failures.push(format!(
                "{} from {}: {e}",
                backup.file,
                backup.backup.display()
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ApplyError::Restore { failures })
    }
}

fn restore_one(target: &Path, backup: &Path) -> std::io::Result<()> {
    let bytes = std::fs::read(backup)?;
    // The live file's mode wins (the user may have changed it since); a deleted file gets the
    // mode it had when it was backed up.
    let meta = match std::fs::metadata(target) {
        Ok(meta) => meta,
        Err(_) => std::fs::metadata(backup)?,
    };
    atomic::write(target, &bytes, Some(&meta))
}

/// One backup path per planned file: `{id}_backup_{name}` as the seed promised, or with the
/// folders (`{id}_backup_engine__utils.py`) when two files of the fix share a name or the
/// plain name is taken, then numbered. Never an existing file.
fn backup_paths(plan: &Plan, errors_dir: &Path, id: &str) -> Vec<PathBuf> {
    let base = |rel: &str| rel.rsplit('/').next().unwrap_or(rel).to_string();
    let mut taken: HashSet<PathBuf> = HashSet::new();
    let mut out = Vec::with_capacity(plan.files.len());
    for file in &plan.files {
        let name = base(&file.rel);
        let shared = plan.files.iter().filter(|f| base(&f.rel) == name).count() > 1;
        let flat = file.rel.replace('/', "__");
        let mut candidates = Vec::new();
        if !shared {
            candidates.push(format!("{id}_backup_{name}"));
        }
        candidates.push(format!("{id}_backup_{flat}"));
        let free = |p: &PathBuf| !taken.contains(p) && std::fs::symlink_metadata(p).is_err();
        let chosen = candidates
            .into_iter()
            .map(|c| errors_dir.join(c))
            .find(free)
            .unwrap_or_else(|| {
                (2u32..)
                    .map(|n| errors_dir.join(format!("{id}_backup_{n}_{flat}")))
                    .find(free)
                    .unwrap_or_else(|| errors_dir.join(format!("{id}_backup_{flat}")))
            });
        taken.insert(chosen.clone());
        out.push(chosen);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(rel: &str) -> PlannedFile {
        PlannedFile {
            rel: rel.to_string(),
            abs: PathBuf::from("/nowhere").join(rel),
            before: String::new(),
            after: "x".to_string(),
        }
    }

    #[test]
    fn backup_names_follow_the_seed_and_add_folders_on_collision() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan {
            files: vec![
                planned("main.py"),
                planned("engine/utils.py"),
                planned("web/utils.py"),
            ],
        };
        let names: Vec<String> = backup_paths(&plan, dir.path(), "err_1")
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "err_1_backup_main.py",
                "err_1_backup_engine__utils.py",
                "err_1_backup_web__utils.py"
            ]
        );
    }

    #[test]
    fn existing_backups_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("err_1_backup_main.py"), "old").unwrap();
        std::fs::write(dir.path().join("err_1_backup_app__main.py"), "old").unwrap();
        let plan = Plan {
            files: vec![planned("app/main.py")],
        };
        let names = backup_paths(&plan, dir.path(), "err_1");
        assert_eq!(names, [dir.path().join("err_1_backup_2_app__main.py")]);
    }

    #[test]
    fn diff_has_git_style_headers() {
        let plan = Plan {
            files: vec![PlannedFile {
                rel: "a.py".to_string(),
                abs: PathBuf::from("/a.py"),
                before: "x = 1\n".to_string(),
                after: "x = 2\n".to_string(),
            }],
        };
        let diff = plan.diff();
        assert!(diff.starts_with("--- a/a.py\n+++ b/a.py\n"), "{diff}");
        assert!(diff.contains("-x = 1\n+x = 2\n"), "{diff}");
    }
}
