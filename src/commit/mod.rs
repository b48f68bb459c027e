//! The commit stage: an applied fix becomes a commit, pushed or proposed as a pull request
//! according to `git.mode`.
//!
//! Invariants:
//! - Only the fixed files go into the commit; the user's index, other changes and checkout are
//!   left as they were (the commit is built in a temporary index, see [`land`]).
//! - Nothing is forced: not a push, not a commit over a merge in progress, a locked index or a
//!   detached HEAD. The fix stays applied and the outcome says why it was not committed.
//! - The stage never fails the healing: every way out is an [`Outcome`] with a reason.

pub mod exposed;
pub mod git;
pub mod github;
pub mod history;
mod land;
pub mod message;
pub mod push;
pub mod revert;

use std::path::Path;

use crate::config::{GitConfig, GitMode};
use crate::record::model::{Record, Status};
use crate::record::result::GitResult;
use git::{Git, GitError};
use push::short;

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("the project is not in a git repository")]
    NotARepo,
    #[error("HEAD is detached: check out a branch for heal to commit on")]
    Detached,
    #[error("branch {branch} has no commit yet: make a first commit")]
    Unborn { branch: String },
    #[error("{0} is in progress: finish or abort it, then `heal retry` or commit by hand")]
    InProgress(&'static str),
    #[error(
        "the index is locked (index.lock exists): another git command is running, or one crashed and left it"
    )]
    IndexLocked,
    #[error(
        "{file} has uncommitted changes that overlap the fix: commit or stash them, then commit the fix by hand"
    )]
    UncommittedOverlap { file: String },
    #[error("the {hook} hook refused the commit: {output}")]
    HookRefused { hook: &'static str, output: String },
    #[error("the fix is already in HEAD: nothing to commit")]
    NothingToCommit,
    #[error("{branch} moved while the fix was being committed: commit it by hand")]
    BranchMoved { branch: String },
    #[error("branch {0} already exists: delete it to let heal make it again")]
    BranchExists(String),
    #[error("no remote `{0}`: add it, or set HEAL_GIT_REMOTE")]
    NoRemote(String),
    #[error("the remote refused the push: {0}")]
    PushRefused(String),
    #[error("the push failed: {0}")]
    PushFailed(String),
    #[error(
        "the remote moved on and the fix does not rebase cleanly onto it: pull, resolve the conflict, and push by hand"
    )]
    RebaseConflict,
    #[error("rebased onto the remote, {file} no longer parses (line {line}: {what})")]
    RebaseBroke {
        file: String,
        line: usize,
        what: String,
    },
    #[error("cannot use a scratch folder: {0}")]
    Scratch(std::io::Error),
    #[error(
        "the revert conflicts with later changes: nothing was changed; revert by hand with `git revert {0}`"
    )]
    RevertConflict(String),
    #[error(
        "the fix was committed on {committed}, but {current} is checked out: switch back to revert it"
    )]
    OtherBranch { committed: String, current: String },
    #[error("cannot write {file}: {source}")]
    Write {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

/// One file the fix changed, relative to the project root.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Change {
    pub rel: String,
    pub before: String,
    pub after: String,
}

/// What the commit stage did: the record's `result.commit`, `branch`, `pushed`, `pr_url`, and
/// the incident's status (`applied` when no commit was made, `committed`, or `pushed`).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub mode: GitMode,
    pub status: Status,
    /// One sentence for people: what happened in git, and why when something did not.
    pub reason: String,
    /// The fix commit (the one on the remote, when it was rebased before the push).
    pub commit: Option<String>,
    /// The commit the local branch holds, when it differs from `commit`.
    pub local_commit: Option<String>,
    pub branch: Option<String>,
    pub remote: Option<String>,
    pub pushed: bool,
    pub pr_url: Option<String>,
}

impl Outcome {
    fn new(mode: GitMode) -> Outcome {
        Outcome {
            mode,
            status: Status::Applied,
            reason: String::new(),
            commit: None,
            local_commit: None,
            branch: None,
            remote: None,
            pushed: false,
            pr_url: None,
        }
    }

    /// What this stage adds to `record.result`, with the commit's page (`commit_url`).
    pub fn git_result(&self, commit_url: Option<String>) -> GitResult {
        GitResult {
            git_mode: self.mode.as_str().to_string(),
            commit: self.commit.clone(),
            local_commit: self.local_commit.clone(),
            branch: self.branch.clone(),
            remote: self.remote.clone(),
            pushed: self.pushed,
            pr_url: self.pr_url.clone(),
            git: self.reason.clone(),
            commit_url,
        }
    }
}

/// Commits `changes` (the applied fix of `record`) and pushes or proposes them, as `cfg.mode`
/// says.
pub async fn publish(
    cfg: &GitConfig,
    root: &Path,
    record: &Record,
    changes: &[Change],
    on_commit: &(dyn Fn(&Landed) + Sync),
) -> Outcome {
    let mut outcome = Outcome::new(cfg.mode);
    if cfg.mode == GitMode::Off {
        outcome.reason = "no commit was made (git.mode = off)".to_string();
        return outcome;
    }
    if let Err(e) = run(cfg, root, record, changes, &mut outcome, on_commit).await {
        outcome.reason = match &outcome.commit {
            None => format!("no commit was made: {e}"),
            Some(c) => format!(
                "committed as {} on {}, not pushed: {e}",
                short(c),
                outcome.branch.as_deref().unwrap_or("?")
            ),
        };
    }
    outcome
}

async fn run(
    cfg: &GitConfig,
    root: &Path,
    record: &Record,
    changes: &[Change],
    outcome: &mut Outcome,
    on_commit: &(dyn Fn(&Landed) + Sync),
) -> Result<(), CommitError> {
    let git = Git::open(root).await?.ok_or(CommitError::NotARepo)?;
    let on_branch = matches!(cfg.mode, GitMode::Push | GitMode::Commit);
    let branch = land::preflight(&git, on_branch).await?;
    let refname = format!("refs/heads/{branch}");
    let reflog = format!("heal: auto-fix {}", record.id);
    let message = message::fix_message(record, &rels_of(changes), &cfg.redactor);
    let mut head = git.git(["rev-parse", "HEAD"]).await?;
    let mut rebuilds = 0;
    let (commit, files) = loop {
        let files = files_on(&git, &head, changes).await?;
        let commit = land::make_commit(&git, cfg, &head, &files, &message).await?;
        if !on_branch {
            break (commit, files);
        }
        if git
            .git(["update-ref", "-m", &reflog, &refname, &commit, &head])
            .await
            .is_ok()
        {
            break (commit, files);
        }
        // The branch moved under heal (another heal's fix, the user's commit). When the move
        // left the fix's files alone, the fix is rebuilt on the new tip; otherwise it is the
        // user's to merge.
        let moved_to = git.git(["rev-parse", &refname]).await?;
        let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
        if rebuilds >= MAX_REBUILDS || land::touched(&git, &head, &moved_to, &paths).await? {
            return Err(CommitError::BranchMoved {
                branch: branch.clone(),
            });
        }
        rebuilds += 1;
        tracing::info!(
            "{branch} moved to {} while the fix was being committed; rebuilding the fix's commit on it",
            short(&moved_to)
        );
        head = moved_to;
    };

    match cfg.mode {
        GitMode::Push | GitMode::Commit => {
            on_commit(&Landed {
                commit: commit.clone(),
                parent: head.clone(),
                branch: branch.clone(),
                base: branch.clone(),
            });
            crate::failpoint::hit("before-index-sync");
            let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
            let index_note = land::sync_index(&git, &head, &commit, &paths).await;
            crate::failpoint::hit("after-commit");
            let pushed = push_on_branch(&git, cfg, outcome, &commit, &head, &branch).await;
            if let Some(note) = index_note {
                outcome.reason.push_str(&format!("; {note}"));
            }
            pushed?;
        }
        GitMode::Branch | GitMode::Pr => {
            let new_branch = format!("heal/{}", record.id);
            let refname = format!("refs/heads/{new_branch}");
            let reflog = format!("heal: auto-fix {}", record.id);
            git.git(["update-ref", "-m", &reflog, &refname, &commit, ""])
                .await
                .map_err(|_| CommitError::BranchExists(new_branch.clone()))?;
            on_commit(&Landed {
                commit: commit.clone(),
                parent: head.clone(),
                branch: new_branch.clone(),
                base: branch.clone(),
            });
            crate::failpoint::hit("after-commit");
            push_new_branch(
                &git,
                cfg,
                record,
                outcome,
                &commit,
                &head,
                &branch,
                &new_branch,
            )
            .await?;
        }
        GitMode::Off => {}
    }
    Ok(())
}

/// How often a fix's commit is rebuilt on a branch that keeps moving under heal.
const MAX_REBUILDS: u32 = 5;

fn rels_of(changes: &[Change]) -> Vec<String> {
    changes.iter().map(|c| c.rel.clone()).collect()
}

/// The fixed files as they go into a commit on `head`: the fixed version, or, where the live
/// file had uncommitted changes, `head`'s version plus the fix only, never the user's
/// unfinished work.
async fn files_on(
    git: &Git,
    head: &str,
    changes: &[Change],
) -> Result<Vec<land::FileState>, CommitError> {
    let mut files = Vec::with_capacity(changes.len());
    for change in changes {
        let path = git.path_of(&change.rel);
        let content = match git.blob(head, &path).await? {
            None => change.after.clone().into_bytes(),
            Some(blob) => {
                let committed = git.cat(&blob).await?;
                if committed == change.before.as_bytes() {
                    change.after.clone().into_bytes()
                } else {
                    land::merge_file(
                        git,
                        &committed,
                        change.before.as_bytes(),
                        change.after.as_bytes(),
                    )
                    .await?
                    .ok_or_else(|| CommitError::UncommittedOverlap {
                        file: change.rel.clone(),
                    })?
                }
            }
        };
        files.push(land::FileState {
            path,
            content: Some(content),
        });
    }
    Ok(files)
}

/// A fix commit that landed on a branch: what a resumed push needs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Landed {
    pub commit: String,
    pub parent: String,
    /// The branch holding the commit (the current one, or `heal/{id}`).
    pub branch: String,
    /// The branch the fix started from (a pull request's base).
    pub base: String,
}

/// Finishes the publishing of a fix whose commit landed before heal was stopped: the push
/// (and pull request) that had not happened, or had not been recorded.
pub async fn resume(cfg: &GitConfig, root: &Path, record: &Record, landed: &Landed) -> Outcome {
    let mut outcome = Outcome::new(cfg.mode);
    outcome.commit = Some(landed.commit.clone());
    outcome.branch = Some(landed.branch.clone());
    outcome.status = Status::Committed;
    let result = async {
        let git = Git::open(root).await?.ok_or(CommitError::NotARepo)?;
        if landed.branch == landed.base {
            // heal may have died between moving the branch and syncing the index: the index
            // would still hold the pre-fix versions, and the user's next commit would undo
            // the fix. Finished here, for the entries that still hold them.
            if let Some(note) = finish_index_sync(&git, landed).await {
                outcome.reason.push_str(&format!("; {note}"));
            }
            push_on_branch(
                &git,
                cfg,
                &mut outcome,
                &landed.commit,
                &landed.parent,
                &landed.branch,
            )
            .await
        } else {
            push_new_branch(
                &git,
                cfg,
                record,
                &mut outcome,
                &landed.commit,
                &landed.parent,
                &landed.base,
                &landed.branch,
            )
            .await
        }
    }
    .await;
    if let Err(e) = result {
        outcome.reason = format!(
            "committed as {} on {}, not pushed: {e}",
            short(&landed.commit),
            landed.branch
        );
    }
    outcome
}

/// The index sync of a fix commit that landed on the checked-out branch, when the branch
/// still holds the commit. Returns a note when the index could not be updated.
async fn finish_index_sync(git: &Git, landed: &Landed) -> Option<String> {
    let current = git
        .git(["symbolic-ref", "-q", "--short", "HEAD"])
        .await
        .ok()?;
    let holds = git
        .output(git::Cmd::new([
            "merge-base",
            "--is-ancestor",
            &landed.commit,
            "HEAD",
        ]))
        .await
        .ok()?
        .ok;
    if current != landed.branch || !holds {
        return None;
    }
    let changed = git
        .git([
            "diff",
            "--name-only",
            "--no-renames",
            "-z",
            &landed.parent,
            &landed.commit,
        ])
        .await
        .ok()?;
    let paths: Vec<String> = changed
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    land::sync_index(git, &landed.parent, &landed.commit, &paths).await
}

/// Push and commit modes, once the commit is on `branch`.
async fn push_on_branch(
    git: &Git,
    cfg: &GitConfig,
    outcome: &mut Outcome,
    commit: &str,
    head: &str,
    branch: &str,
) -> Result<(), CommitError> {
    outcome.commit = Some(commit.to_string());
    outcome.branch = Some(branch.to_string());
    outcome.status = Status::Committed;
    outcome.reason = format!("committed as {} on {branch}", short(commit));
    if cfg.mode == GitMode::Commit {
        outcome.reason.push_str(" (not pushed: git.mode = commit)");
        return Ok(());
    }
    let target = push::upstream_of(git, cfg, branch)
        .await?
        .ok_or_else(|| CommitError::NoRemote(cfg.remote.clone().unwrap_or("origin".into())))?;
    let pushed = push::push(git, cfg, &target, commit, head, true).await?;
    outcome.pushed = true;
    outcome.status = Status::Pushed;
    outcome.remote = Some(target.remote.clone());
    if let Some(remote_commit) = pushed.commit.filter(|c| c != commit) {
        outcome.local_commit = Some(commit.to_string());
        outcome.commit = Some(remote_commit);
    }
    outcome.reason = format!(
        "committed as {} on {branch} and pushed to {}",
        short(outcome.commit.as_deref().unwrap_or(commit)),
        target.remote
    );
    if let Some(note) = pushed.note {
        outcome.reason.push_str(&format!(" ({note})"));
    }
    Ok(())
}

/// Branch and pr modes, once the commit is on `new_branch`.
#[allow(clippy::too_many_arguments)]
async fn push_new_branch(
    git: &Git,
    cfg: &GitConfig,
    record: &Record,
    outcome: &mut Outcome,
    commit: &str,
    head: &str,
    base: &str,
    new_branch: &str,
) -> Result<(), CommitError> {
    outcome.commit = Some(commit.to_string());
    outcome.branch = Some(new_branch.to_string());
    outcome.status = Status::Committed;
    outcome.reason = format!(
        "committed as {} on the new branch {new_branch}; the fix stays applied, uncommitted, on {base}",
        short(commit)
    );
    let target = push::remote_for_new_branch(git, cfg, base, new_branch)
        .await?
        .ok_or_else(|| CommitError::NoRemote(cfg.remote.clone().unwrap_or("origin".into())))?;
    push::push(git, cfg, &target, commit, head, false).await?;
    outcome.pushed = true;
    outcome.status = Status::Pushed;
    outcome.remote = Some(target.remote.clone());
    outcome.reason = format!(
        "committed as {} on the new branch {new_branch}, pushed to {}; the fix stays applied, uncommitted, on {base}",
        short(commit),
        target.remote
    );
    if cfg.mode == GitMode::Pr {
        match open_pull(cfg, record, new_branch, base).await {
            Ok(url) => {
                outcome.reason.push_str(&format!("; pull request {url}"));
                outcome.pr_url = Some(url);
            }
            Err(e) => outcome
                .reason
                .push_str(&format!("; no pull request was opened: {e}")),
        }
    }
    Ok(())
}

async fn open_pull(
    cfg: &GitConfig,
    record: &Record,
    head: &str,
    base: &str,
) -> Result<String, github::GitHubError> {
    let (Some(repo), Some(token)) = (&cfg.github_repo, &cfg.github_token) else {
        return Err(github::GitHubError::Garbled(
            "GITHUB_REPO and GITHUB_TOKEN must both be set".to_string(),
        ));
    };
    let title = format!(
        "{}{} ({})",
        message::SUBJECT_PREFIX,
        record.id,
        record.error.exc_type
    );
    let body = cfg.redactor.redact(&github::pull_body(record)).into_owned();
    let pull = github::NewPull {
        title: &title,
        head,
        base,
        body: &body,
        draft: cfg.draft,
    };
    github::open_pull(&cfg.github_api_url, repo, token, &pull)
        .await
        .map(|p| p.html_url)
}

/// The web link of `commit` on GITHUB_REPO, when it is set.
pub fn commit_url(cfg: &GitConfig, commit: &str) -> Option<String> {
    let repo = cfg.github_repo.as_ref()?;
    let web = web_base(&cfg.github_api_url);
    Some(format!("{web}/{repo}/commit/{commit}"))
}

/// `https://api.github.com` → `https://github.com`; `https://ghe.corp/api/v3` →
/// `https://ghe.corp`.
fn web_base(api_url: &str) -> String {
    let api = api_url.trim_end_matches('/');
    if let Some(rest) = api.strip_suffix("/api/v3") {
        return rest.to_string();
    }
    api.replacen("://api.", "://", 1)
}
