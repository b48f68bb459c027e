//! Making a commit without touching the user's index or checkout.
//!
//! The commit is built in a temporary index from the parent's tree plus the fixed files (git's
//! plumbing: `read-tree`, `hash-object`, `update-index`, `write-tree`, `commit-tree`), so
//! whatever else is staged or modified in the live tree stays exactly as it was. The
//! repository's own hooks run against that index, as `git commit` would run them.

use super::CommitError;
use super::git::{Cmd, Git, last_lines};
use crate::config::GitConfig;

/// The checked-out branch, or why a commit cannot be made now: a state of the repository heal
/// does not force its way through. `on_branch`: the commit goes on the checked-out branch, so
/// the user's index and any operation in progress matter.
pub async fn preflight(git: &Git, on_branch: bool) -> Result<String, CommitError> {
    let branch = git
        .output(Cmd::new(["symbolic-ref", "-q", "--short", "HEAD"]))
        .await?;
    if !branch.ok {
        return Err(CommitError::Detached);
    }
    let branch = branch.text();
    let head = git
        .output(Cmd::new(["rev-parse", "--verify", "-q", "HEAD"]))
        .await?;
    if !head.ok {
        return Err(CommitError::Unborn { branch });
    }
    if on_branch {
        for (name, what) in [
            ("MERGE_HEAD", "a merge"),
            ("rebase-merge", "a rebase"),
            ("rebase-apply", "a rebase or `git am`"),
            ("CHERRY_PICK_HEAD", "a cherry-pick"),
            ("REVERT_HEAD", "a revert"),
            ("BISECT_LOG", "a bisect"),
        ] {
            if git.git_path(name).await?.exists() {
                return Err(CommitError::InProgress(what));
            }
        }
        // A lock held for a moment (another heal syncing its own fix) is waited out; one
        // that stays is a git command that crashed, for the user to look at.
        let lock = git.git_path("index.lock").await?;
        let mut tries = 0;
        while lock.exists() {
            tries += 1;
            if tries >= INDEX_LOCK_TRIES {
                return Err(CommitError::IndexLocked);
            }
            tokio::time::sleep(INDEX_LOCK_WAIT).await;
        }
    }
    Ok(branch)
}

/// What the commit holds for one path: new content, or removal.
pub struct FileState {
    /// Repository path.
    pub path: String,
    pub content: Option<Vec<u8>>,
}

/// Who heal commits as.
pub fn identity(cfg: &GitConfig) -> Vec<(&'static str, String)> {
    vec![
        ("GIT_AUTHOR_NAME", cfg.author_name.clone()),
        ("GIT_AUTHOR_EMAIL", cfg.author_email.clone()),
        ("GIT_COMMITTER_NAME", cfg.author_name.clone()),
        ("GIT_COMMITTER_EMAIL", cfg.author_email.clone()),
    ]
}

/// A commit on `parent` with `files` changed and `message`; moves no ref. Runs the pre-commit
/// and commit-msg hooks unless `cfg.no_verify`.
pub async fn make_commit(
    git: &Git,
    cfg: &GitConfig,
    parent: &str,
    files: &[FileState],
    message: &str,
) -> Result<String, CommitError> {
    let scratch = tempfile::tempdir().map_err(CommitError::Scratch)?;
    let index = scratch.path().join("index");
    let index_str = index.to_string_lossy().into_owned();
    let with_index = |cmd: Cmd| cmd.env("GIT_INDEX_FILE", index_str.clone());
    git.run(with_index(Cmd::new(["read-tree", parent]))).await?;
    for file in files {
        match &file.content {
            Some(bytes) => {
                let mode = mode_of(git, parent, &file.path).await?;
                let blob = git.hash_object(&file.path, bytes).await?;
                git.run(with_index(Cmd::new([
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    &format!("{mode},{blob},{}", file.path),
                ])))
                .await?;
            }
            None => {
                git.run(with_index(Cmd::new([
                    "update-index",
                    "--force-remove",
                    "--",
                    &file.path,
                ])))
                .await?;
            }
        }
    }
    let message_file = scratch.path().join("COMMIT_EDITMSG");
    std::fs::write(&message_file, message).map_err(CommitError::Scratch)?;
    if !cfg.no_verify {
        run_hook(git, &with_index, "pre-commit", &[]).await?;
        let path = message_file.to_string_lossy().into_owned();
        run_hook(git, &with_index, "commit-msg", &[path.as_str()]).await?;
    }
    let message = std::fs::read_to_string(&message_file).map_err(CommitError::Scratch)?;
    let tree = git.run(with_index(Cmd::new(["write-tree"]))).await?;
    let parent_tree = git
        .git(["rev-parse", &format!("{parent}^{{tree}}")])
        .await?;
    if tree == parent_tree {
        return Err(CommitError::NothingToCommit);
    }
    commit_tree(git, cfg, &tree, parent, &message).await
}

/// `git commit-tree` as heal's identity.
pub async fn commit_tree(
    git: &Git,
    cfg: &GitConfig,
    tree: &str,
    parent: &str,
    message: &str,
) -> Result<String, CommitError> {
    let mut cmd = Cmd::new(["commit-tree", tree, "-p", parent, "-F", "-"]).stdin(message);
    for (k, v) in identity(cfg) {
        cmd = cmd.env(k, v);
    }
    Ok(git.run(cmd).await?)
}

async fn run_hook(
    git: &Git,
    with_index: &impl Fn(Cmd) -> Cmd,
    hook: &'static str,
    args: &[&str],
) -> Result<(), CommitError> {
    let mut argv = vec!["hook", "run", "--ignore-missing", hook];
    if !args.is_empty() {
        argv.push("--");
        argv.extend_from_slice(args);
    }
    let out = git.output(with_index(Cmd::new(argv))).await?;
    if out.ok {
        Ok(())
    } else {
        let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), out.stderr);
        Err(CommitError::HookRefused {
            hook,
            output: last_lines(&text),
        })
    }
}

/// The file mode `path` has in `commit`, else 100644.
async fn mode_of(git: &Git, commit: &str, path: &str) -> Result<String, CommitError> {
    let listed = git.git(["ls-tree", commit, "--", path]).await?;
    Ok(listed
        .split_whitespace()
        .next()
        .filter(|m| m.starts_with("100"))
        .unwrap_or("100644")
        .to_string())
}

/// `ours` with the change from `base` to `theirs` merged in (`git merge-file`); `None` when
/// the two changes overlap.
pub async fn merge_file(
    git: &Git,
    ours: &[u8],
    base: &[u8],
    theirs: &[u8],
) -> Result<Option<Vec<u8>>, CommitError> {
    let scratch = tempfile::tempdir().map_err(CommitError::Scratch)?;
    let write = |name: &str, bytes: &[u8]| -> Result<String, CommitError> {
        let p = scratch.path().join(name);
        std::fs::write(&p, bytes).map_err(CommitError::Scratch)?;
        Ok(p.to_string_lossy().into_owned())
    };
    let (o, b, t) = (
        write("ours", ours)?,
        write("base", base)?,
        write("theirs", theirs)?,
    );
    let out = git
        .output(Cmd::new(["merge-file", "-p", "--quiet", &o, &b, &t]))
        .await?;
    Ok(out.ok.then_some(out.stdout))
}

/// Whether any of `paths` differs between commits `old` and `new`.
pub async fn touched(
    git: &Git,
    old: &str,
    new: &str,
    paths: &[String],
) -> Result<bool, CommitError> {
    let mut argv = vec!["diff", "--name-only", "--no-renames", old, new, "--"];
    argv.extend(paths.iter().map(String::as_str));
    Ok(!git.git(argv).await?.trim().is_empty())
}

/// How often an index update is tried while another git command holds the index's lock
/// (another heal syncing its own fix, for one), and the wait between tries.
const INDEX_LOCK_TRIES: u32 = 40;
const INDEX_LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// `git update-index ARGS`, tried again while the index is locked by someone else.
async fn update_index(git: &Git, args: &[&str]) -> Result<(), CommitError> {
    let mut argv = vec!["update-index"];
    argv.extend_from_slice(args);
    let mut tries = 0;
    loop {
        tries += 1;
        match git.git(argv.clone()).await {
            Ok(_) => return Ok(()),
            Err(super::GitError::Failed { stderr, .. })
                if tries < INDEX_LOCK_TRIES && stderr.contains("index.lock") =>
            {
                tokio::time::sleep(INDEX_LOCK_WAIT).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// After the checked-out branch moved from `old` to `new`, makes the user's index agree for
/// `paths`, where it still held `old`'s version (a path the user staged something else for is
/// left alone). Returns a note when the index could not be updated.
pub async fn sync_index(git: &Git, old: &str, new: &str, paths: &[String]) -> Option<String> {
    let mut failed = Vec::new();
    for path in paths {
        let result: Result<(), CommitError> = async {
            let listed = git.git(["ls-files", "-s", "--", path]).await?;
            let staged = listed.split_whitespace().nth(1).map(str::to_string);
            let before = git.blob(old, path).await?;
            if staged != before {
                return Ok(());
            }
            match git.blob(new, path).await? {
                Some(blob) => {
                    let mode = mode_of(git, new, path).await?;
                    let info = format!("{mode},{blob},{path}");
                    update_index(git, &["--add", "--cacheinfo", &info]).await?;
                }
                None => update_index(git, &["--force-remove", "--", path]).await?,
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            failed.push(format!("{path} ({e})"));
        }
    }
    (!failed.is_empty()).then(|| {
        format!(
            "the index could not be updated for {}: `git status` may show them as changed until `git reset -- <file>`",
            failed.join(", ")
        )
    })
}
