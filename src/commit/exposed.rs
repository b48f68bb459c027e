//! heal's own files that git could carry away: `.env` (secrets) and the storage folder
//! (records, backups, the database). `heal run` warns once at start when either is tracked, or
//! not ignored (so `git add -A` would stage it). Fix commits never hold them whatever this says:
//! a commit holds the fixed files only (see [`super::land`]).

use std::path::Path;

use super::git::{Cmd, Git};

/// One warning per exposed file or folder, with what to do. Nothing when the project is not in
/// a git repository, or when git cannot be asked.
pub async fn exposed(root: &Path, storage_dir: &Path) -> Vec<String> {
    let Ok(Some(git)) = Git::open(root).await else {
        return Vec::new();
    };
    let storage = storage_dir
        .strip_prefix(root)
        .ok()
        .map(|p| format!("{}/", p.to_string_lossy().trim_end_matches('/')));
    let mut warnings = Vec::new();
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
            warnings.push(format!(
                "{rel} is tracked by git, so {what} are in its history: `git rm -r --cached {rel}`, add {rel} to .gitignore, and commit"
            ));
            continue;
        }
        // check-ignore exits 0 when ignored, 1 when not; anything else is not an answer.
        let ignored = git
            .output(Cmd::new(["check-ignore", "-q", "--", path.as_str()]))
            .await
            .map(|o| o.ok);
        if let Ok(false) = ignored {
            warnings.push(format!(
                "{rel} is not in .gitignore, so `git add -A` would stage {what}: add {rel} to .gitignore (`heal init` does it)"
            ));
        }
    }
    warnings
}
