//! A digest of the project's code as it is now, so a baseline run of the unchanged program is
//! reused while the code stays the same, and run again once it changed.
//!
//! For a git work tree: HEAD, and every file git reports as changed or untracked with its size
//! and modification time. Otherwise: every file's path, size and modification time, in a
//! bounded walk. It reads metadata only, never file contents, and never writes.

use std::path::Path;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use super::sandbox::SKIPPED_DIRS;

/// Files a plain walk looks at before it gives up (then there is no digest, and no reuse).
const MAX_WALK: usize = 20_000;

/// The digest of the code under `root` (heal's storage folder left out); `None` when it
/// cannot be told cheaply.
pub fn digest(root: &Path, storage: &Path) -> Option<String> {
    let mut hasher = Sha256::new();
    if !git_state(root, storage, &mut hasher) {
        walk_state(root, storage, &mut hasher)?;
    }
    Some(
        hasher.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

fn git(root: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

fn git_state(root: &Path, storage: &Path, hasher: &mut Sha256) -> bool {
    let Some(top) = git(root, &["rev-parse", "--show-toplevel"]) else {
        return false;
    };
    let top = String::from_utf8_lossy(&top).trim_end().to_string();
    if Path::new(&top).canonicalize().ok() != root.canonicalize().ok() {
        return false;
    }
    let (Some(head), Some(status)) = (
        git(root, &["rev-parse", "HEAD"]),
        git(
            root,
            &[
                "status",
                "--porcelain=v1",
                "-z",
                "--untracked-files=all",
                "--no-renames",
                "--ignore-submodules=all",
            ],
        ),
    ) else {
        return false;
    };
    hasher.update(b"git\0");
    hasher.update(&head);
    for entry in status.split(|&b| b == 0) {
        let Some(raw) = entry.get(3..) else { continue };
        let rel = Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(raw));
        let path = root.join(rel);
        if path.starts_with(storage) {
            continue;
        }
        hasher.update(entry);
        stamp(&path, hasher);
    }
    true
}

fn walk_state(root: &Path, storage: &Path, hasher: &mut Sha256) -> Option<()> {
    hasher.update(b"walk\0");
    let mut stack = vec![root.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir).ok()?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            seen += 1;
            if seen > MAX_WALK {
                return None;
            }
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                let skipped = SKIPPED_DIRS.iter().any(|d| entry.file_name() == *d);
                if !skipped && !path.starts_with(storage) {
                    stack.push(path);
                }
                continue;
            }
            hasher.update(path.as_os_str().as_encoded_bytes());
            stamp(&path, hasher);
        }
    }
    Some(())
}

fn stamp(path: &Path, hasher: &mut Sha256) {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            hasher.update(meta.len().to_le_bytes());
            hasher.update(meta.mtime().to_le_bytes());
            hasher.update(meta.mtime_nsec().to_le_bytes());
        }
        Err(_) => hasher.update(b"gone"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_changes_with_the_code_and_not_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        std::fs::write(dir.path().join("a.py"), "x = 1\n").unwrap();
        let first = digest(dir.path(), &storage).unwrap();
        assert_eq!(digest(dir.path(), &storage).unwrap(), first);
        std::fs::write(storage.join("heal.db"), "anything").unwrap();
        assert_eq!(digest(dir.path(), &storage).unwrap(), first);
        std::fs::write(dir.path().join("a.py"), "x = 22\n").unwrap();
        assert_ne!(digest(dir.path(), &storage).unwrap(), first);
    }
}
