//! Undoing a committed fix with a revert commit, pushed the way the fix was.
//!
//! Like the fix, the revert is built without the user's index: its tree comes from
//! `git merge-tree` (the fix's change undone on top of what the branch holds now), and the live
//! files are updated only where that can be done without losing anyone's later changes.
//! Anything that conflicts stops before a single file or ref is changed.

use std::path::Path;

use super::git::{Cmd, Git};
use super::{CommitError, land, message, push};
use crate::config::GitConfig;

/// The committed fix to undo (from the incident's `result`).
#[derive(Debug, Clone)]
pub struct Committed {
    pub id: String,
    /// The fix commit (on the remote, when it was rebased before the push).
    pub commit: String,
    /// The commit on the local branch, when it differs.
    pub local_commit: Option<String>,
    pub branch: String,
    /// The remote it was pushed to.
    pub remote: Option<String>,
    pub pushed: bool,
}

/// How the revert went.
#[derive(Debug)]
pub struct Reverted {
    pub commit: String,
    pub pushed: bool,
    pub note: String,
}

/// Reverts a fix committed on a `heal/{id}` branch (branch and pr modes): a revert commit on
/// that branch, pushed when the fix was. The live tree is the caller's (restored from backups).
pub async fn revert_branch(
    cfg: &GitConfig,
    root: &Path,
    fix: &Committed,
) -> Result<Reverted, CommitError> {
    let git = Git::open(root).await?.ok_or(CommitError::NotARepo)?;
    let refname = format!("refs/heads/{}", fix.branch);
    let tip = git.git(["rev-parse", "--verify", &refname]).await?;
    let local = fix.local_commit.as_deref().unwrap_or(&fix.commit);
    let commit = revert_commit(&git, cfg, fix, local, &tip).await?.0;
    git.git(["update-ref", &refname, &commit, &tip])
        .await
        .map_err(|_| CommitError::BranchMoved {
            branch: fix.branch.clone(),
        })?;
    publish(&git, cfg, fix, &commit, &tip, false).await
}

/// Reverts a fix committed on the checked-out branch (push and commit modes): a revert commit
/// on it, the live files updated to match, pushed when the fix was.
pub async fn revert_on_branch(
    cfg: &GitConfig,
    root: &Path,
    fix: &Committed,
) -> Result<Reverted, CommitError> {
    let git = Git::open(root).await?.ok_or(CommitError::NotARepo)?;
    let branch = land::preflight(&git, true).await?;
    if branch != fix.branch {
        return Err(CommitError::OtherBranch {
            committed: fix.branch.clone(),
            current: branch,
        });
    }
    let head = git.git(["rev-parse", "HEAD"]).await?;
    let local = fix.local_commit.as_deref().unwrap_or(&fix.commit);
    let (commit, tree) = revert_commit(&git, cfg, fix, local, &head).await?;

    // Work out every live file first; write none if one cannot be merged.
    let paths = git
        .git([
            "diff-tree",
            "--no-commit-id",
            "--name-only",
            "-r",
            &format!("{local}^"),
            local,
        ])
        .await?;
    let paths: Vec<String> = paths.lines().map(str::to_string).collect();
    let mut writes: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    for path in &paths {
        let live = std::fs::read(git.top.join(path)).ok();
        let fixed = content(&git, local, path).await?;
        let reverted = content(&git, &tree, path).await?;
        let new = if live == fixed {
            reverted
        } else if live == reverted {
            continue;
        } else {
            match (&live, &fixed, &reverted) {
                (Some(l), Some(f), Some(r)) => Some(
                    land::merge_file(&git, l, f, r)
                        .await?
                        .ok_or_else(|| CommitError::RevertConflict(local.to_string()))?,
                ),
                _ => return Err(CommitError::RevertConflict(local.to_string())),
            }
        };
        writes.push((path.clone(), new));
    }
    let refname = format!("refs/heads/{branch}");
    git.git([
        "update-ref",
        "-m",
        &format!("heal: revert {}", fix.id),
        &refname,
        &commit,
        &head,
    ])
    .await
    .map_err(|_| CommitError::BranchMoved {
        branch: branch.clone(),
    })?;
    for (path, new) in &writes {
        let abs = git.top.join(path);
        let written = match new {
            Some(bytes) => {
                let like = std::fs::metadata(&abs).ok();
                crate::apply::atomic::write(&abs, bytes, like.as_ref())
            }
            None => std::fs::remove_file(&abs),
        };
        written.map_err(|source| CommitError::Write {
            file: path.clone(),
            source,
        })?;
    }
    let note = land::sync_index(&git, &head, &commit, &paths).await;
    let mut reverted = publish(&git, cfg, fix, &commit, &head, true).await?;
    if let Some(note) = note {
        reverted.note.push_str(&format!("; {note}"));
    }
    Ok(reverted)
}

/// The revert of `local` as a child of `onto`: (commit, tree). Conflicts with what `onto`
/// holds stop it.
async fn revert_commit(
    git: &Git,
    cfg: &GitConfig,
    fix: &Committed,
    local: &str,
    onto: &str,
) -> Result<(String, String), CommitError> {
    let merged = git
        .output(Cmd::new([
            "merge-tree",
            "--write-tree",
            &format!("--merge-base={local}"),
            onto,
            &format!("{local}^"),
        ]))
        .await?;
    if !merged.ok {
        return Err(CommitError::RevertConflict(local.to_string()));
    }
    let tree = merged.text().lines().next().unwrap_or_default().to_string();
    let message = message::revert_message(&fix.id, &fix.commit, "Reverted with `heal revert`.");
    let commit = land::commit_tree(git, cfg, &tree, onto, &message).await?;
    Ok((commit, tree))
}

async fn content(git: &Git, commit: &str, path: &str) -> Result<Option<Vec<u8>>, CommitError> {
    match git.blob(commit, path).await? {
        Some(blob) => Ok(Some(git.cat(&blob).await?)),
        None => Ok(None),
    }
}

/// Pushes the revert where the fix went, when the fix was pushed.
async fn publish(
    git: &Git,
    cfg: &GitConfig,
    fix: &Committed,
    commit: &str,
    parent: &str,
    on_branch: bool,
) -> Result<Reverted, CommitError> {
    let mut reverted = Reverted {
        commit: commit.to_string(),
        pushed: false,
        note: format!(
            "reverted by commit {} on {}",
            push::short(commit),
            fix.branch
        ),
    };
    if !fix.pushed {
        return Ok(reverted);
    }
    let target = if on_branch {
        push::upstream_of(git, cfg, &fix.branch)
            .await?
            .map(|t| push::Target {
                remote: fix.remote.clone().unwrap_or(t.remote),
                dest: t.dest,
            })
    } else {
        Some(push::Target {
            remote: fix.remote.clone().unwrap_or_else(|| "origin".to_string()),
            dest: format!("refs/heads/{}", fix.branch),
        })
    };
    let Some(target) = target else {
        reverted.note.push_str(", not pushed: the remote is gone");
        return Ok(reverted);
    };
    match push::push(git, cfg, &target, commit, parent, on_branch).await {
        Ok(p) => {
            reverted.pushed = true;
            reverted
                .note
                .push_str(&format!(", pushed to {}", target.remote));
            if let Some(c) = p.commit {
                reverted.commit = c;
            }
            if let Some(n) = p.note {
                reverted.note.push_str(&format!(" ({n})"));
            }
        }
        Err(e) => reverted.note.push_str(&format!(", not pushed: {e}")),
    }
    Ok(reverted)
}
