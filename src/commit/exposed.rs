//! heal's own files that git could carry away: `.env` (secrets) and the storage folder
//! (records, backups, the database). `heal run` warns once at start when either is tracked, or
//! not ignored (so `git add -A` would stage it). Fix commits never hold them whatever this says:
//! a commit holds the fixed files only (see [`super::land`]).

use std::fmt;
use std::path::Path;

use super::git::{Cmd, Git};

/// One of heal's files that git could carry away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exposure {
    /// In git's index already: in the history.
    Tracked { rel: String, what: &'static str },
    /// Not ignored: `git add -A` would stage it.
    Unignored { rel: String, what: &'static str },
}

impl fmt::Display for Exposure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exposure::Tracked { rel, what } => write!(
                f,
                "{rel} is tracked by git, so {what} are in its history: `git rm -r --cached {rel}`, add {rel} to .gitignore, and commit"
            ),
            Exposure::Unignored { rel, what } => write!(
                f,
                "{rel} is not in .gitignore, so `git add -A` would stage {what}: add {rel} to .gitignore (`heal init` does it)"
            ),
        }
    }
}

/// What is exposed, with what to do. Nothing when the project is not in a git repository, or
/// when git cannot be asked.
pub async fn exposed(root: &Path, storage_dir: &Path) -> Vec<Exposure> {
    match Git::open(root).await {
        Ok(Some(git)) => exposed_in(&git, root, storage_dir).await,
        _ => Vec::new(),
    }
}

/// [`exposed`], in the repository `git` already opened.
pub async fn exposed_in(git: &Git, root: &Path, storage_dir: &Path) -> Vec<Exposure> {
    let storage = storage_dir
        .strip_prefix(root)
        .ok()
        .map(|p| format!("{}/", p.to_string_lossy().trim_end_matches('/')));
    let mut found = Vec::new();
    let candidates = [
        (Some(".env".to_string()), "your secrets"),
        (storage, "heal's records and backups"),
    ];
    for (rel, what) in candidates {
        let Some(rel) = rel else { continue };
        if !root.join(&rel).exists() {
            continue;
        }
        let path = git.path_of(&rel);
        let tracked = git
            .output(Cmd::new(["ls-files", "--", path.as_str()]))
            .await
            .is_ok_and(|o| o.ok && !o.text().trim().is_empty());
        if tracked {
            found.push(Exposure::Tracked { rel, what });
            continue;
        }
        // check-ignore exits 0 when ignored, 1 when not; anything else is not an answer.
        let ignored = git
            .output(Cmd::new(["check-ignore", "-q", "--", path.as_str()]))
            .await
            .map(|o| o.ok);
        if let Ok(false) = ignored {
            found.push(Exposure::Unignored { rel, what });
        }
    }
    found
}
