//! Pushing a fix commit: never forced, retried on network trouble, rebased once when the
//! remote moved on.
//!
//! GITHUB_TOKEN, when set, reaches git only through a credential helper given to the one push
//! or fetch command that talks to the GitHub host, reading the token from that command's
//! environment: it is never written to `.git/config`, a remote URL or any message.

use std::time::Duration;

use super::CommitError;
use super::git::{Cmd, Git, GitError, last_lines};
use super::land;
use crate::config::GitConfig;

/// Where a commit goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub remote: String,
    /// Full ref name on the remote (`refs/heads/main`).
    pub dest: String,
}

/// The remote `branch` pushes to: `git.remote`, else the branch's upstream, else `origin`; and
/// the branch it updates there. `None` when that remote does not exist.
pub async fn upstream_of(
    git: &Git,
    cfg: &GitConfig,
    branch: &str,
) -> Result<Option<Target>, GitError> {
    let config = |key: String| async move {
        git.output(Cmd::new(["config", "--get", &key]))
            .await
            .map(|o| o.ok.then(|| o.text()).filter(|v| !v.is_empty() && v != "."))
    };
    let remote = match &cfg.remote {
        Some(r) => r.clone(),
        None => config(format!("branch.{branch}.remote"))
            .await?
            .unwrap_or_else(|| "origin".to_string()),
    };
    let dest = config(format!("branch.{branch}.merge"))
        .await?
        .unwrap_or_else(|| format!("refs/heads/{branch}"));
    Ok(exists(git, &remote)
        .await?
        .then_some(Target { remote, dest }))
}

/// The remote a new branch goes to: `git.remote`, else `branch`'s remote, else `origin`.
pub async fn remote_for_new_branch(
    git: &Git,
    cfg: &GitConfig,
    from_branch: &str,
    new_branch: &str,
) -> Result<Option<Target>, GitError> {
    let upstream = upstream_of(git, cfg, from_branch).await?;
    Ok(upstream.map(|t| Target {
        remote: t.remote,
        dest: format!("refs/heads/{new_branch}"),
    }))
}

async fn exists(git: &Git, remote: &str) -> Result<bool, GitError> {
    Ok(git
        .output(Cmd::new(["remote", "get-url", "--push", remote]))
        .await?
        .ok)
}

/// How one push went.
enum Attempt {
    Pushed,
    /// The remote has commits we do not (non-fast-forward).
    Stale,
    /// The remote said no (a hook, a protected branch, permissions): retrying will not help.
    Refused(String),
    /// Network, timeout, server error: worth another try.
    Failed(String),
}

/// How the push ended.
#[derive(Debug)]
pub struct Pushed {
    /// The commit now on the remote (a rebased copy of the fix when the remote had moved on).
    pub commit: Option<String>,
    /// What happened, for the record and Slack when it is worth saying.
    pub note: Option<String>,
}

/// Pushes `commit` (whose parent is `parent`) to `target`; never forced. When the remote
/// moved on and `rebase` is true, the fix is rebased once onto it (its syntax checked again)
/// and pushed again. The local branch is not moved: a later pull reconciles it.
pub async fn push(
    git: &Git,
    cfg: &GitConfig,
    target: &Target,
    commit: &str,
    parent: &str,
    rebase: bool,
) -> Result<Pushed, CommitError> {
    match push_retrying(git, cfg, target, commit).await? {
        Attempt::Pushed => Ok(Pushed {
            commit: Some(commit.to_string()),
            note: None,
        }),
        Attempt::Refused(why) => Err(CommitError::PushRefused(why)),
        Attempt::Failed(why) => Err(CommitError::PushFailed(why)),
        Attempt::Stale if !rebase => Err(CommitError::PushRefused(
            "the remote branch already exists with other commits".to_string(),
        )),
        Attempt::Stale => {
            let upstream = fetch(git, cfg, target).await?;
            let rebased = rebase_onto(git, cfg, commit, parent, &upstream).await?;
            match push_retrying(git, cfg, target, &rebased).await? {
                Attempt::Pushed => Ok(Pushed {
                    commit: Some(rebased.clone()),
                    note: Some(format!(
                        "the remote had moved on: the fix was rebased onto it and pushed as {}; the local branch keeps {} until the next pull",
                        short(&rebased),
                        short(commit)
                    )),
                }),
                Attempt::Stale => Err(CommitError::PushRefused(
                    "the remote moved on again while the rebased fix was pushed".to_string(),
                )),
                Attempt::Refused(why) => Err(CommitError::PushRefused(why)),
                Attempt::Failed(why) => Err(CommitError::PushFailed(why)),
            }
        }
    }
}

pub fn short(hash: &str) -> &str {
    hash.get(..8).unwrap_or(hash)
}

async fn push_retrying(
    git: &Git,
    cfg: &GitConfig,
    target: &Target,
    commit: &str,
) -> Result<Attempt, CommitError> {
    let mut wait = cfg.retry_initial;
    let mut tries = 0;
    loop {
        let attempt = push_once(git, cfg, target, commit).await?;
        match attempt {
            Attempt::Failed(why) if tries < cfg.push_retries => {
                tracing::warn!("push to {} failed, retrying: {why}", target.remote);
                tries += 1;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(60));
            }
            other => return Ok(other),
        }
    }
}

async fn push_once(
    git: &Git,
    cfg: &GitConfig,
    target: &Target,
    commit: &str,
) -> Result<Attempt, CommitError> {
    let refspec = format!("{commit}:{}", target.dest);
    let cmd = with_credentials(
        git,
        cfg,
        &target.remote,
        vec![
            "push".to_string(),
            "--porcelain".to_string(),
            target.remote.clone(),
            refspec,
        ],
    )
    .await?
    .timeout(cfg.push_timeout)
    // Killed with the push started and not waited for: whether it reached the remote or not,
    // the journal still says it is to be done.
    .failpoint("during-push");
    let out = match git.output(cmd).await {
        Ok(out) => out,
        Err(GitError::Timeout { timeout, .. }) => {
            return Ok(Attempt::Failed(format!(
                "no answer from {} within {} s",
                target.remote,
                timeout.as_secs()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(classify(out.ok, &out.text(), &out.stderr))
}

/// Reads `git push --porcelain`: a `!` line is the remote's refusal; no status line at all is
/// a failure to talk to it.
fn classify(ok: bool, stdout: &str, stderr: &str) -> Attempt {
    let status = stdout
        .lines()
        .find(|l| l.starts_with(['!', ' ', '*', '+', '-', '=']) && l.contains('\t'));
    match status {
        Some(line) if !line.starts_with('!') && ok => Attempt::Pushed,
        Some(line) if line.starts_with('!') => {
            let summary = line.rsplit('\t').next().unwrap_or(line).trim();
            if summary.contains("fetch first") || summary.contains("non-fast-forward") {
                Attempt::Stale
            } else if summary.contains("failed to update ref") || stderr.contains("cannot lock ref")
            {
                // Another push to the same branch was landing at that moment (the push of a
                // heal that was killed mid-way, say): not a refusal, worth trying again.
                Attempt::Failed(format!("{summary} ({})", last_lines(stderr)))
            } else {
                Attempt::Refused(format!("{summary} ({})", last_lines(stderr)))
            }
        }
        _ => {
            let why = last_lines(stderr);
            if why.contains("Authentication failed")
                || why.contains("Permission denied")
                || why.contains("403")
            {
                Attempt::Refused(why)
            } else {
                Attempt::Failed(why)
            }
        }
    }
}

/// Fetches `target.dest`; returns the commit it points at on the remote.
async fn fetch(git: &Git, cfg: &GitConfig, target: &Target) -> Result<String, CommitError> {
    let cmd = with_credentials(
        git,
        cfg,
        &target.remote,
        vec![
            "fetch".to_string(),
            "--no-tags".to_string(),
            target.remote.clone(),
            target.dest.clone(),
        ],
    )
    .await?
    .timeout(cfg.push_timeout);
    let out = git.output(cmd).await?;
    if !out.ok {
        return Err(CommitError::PushFailed(format!(
            "the remote moved on, and fetching it failed: {}",
            last_lines(&out.stderr)
        )));
    }
    Ok(git.git(["rev-parse", "FETCH_HEAD"]).await?)
}

/// `commit` (a child of `parent`) replayed onto `upstream` without touching the checkout;
/// refused when it conflicts or when a Python file it changes no longer parses.
pub async fn rebase_onto(
    git: &Git,
    cfg: &GitConfig,
    commit: &str,
    parent: &str,
    upstream: &str,
) -> Result<String, CommitError> {
    let merged = git
        .output(Cmd::new([
            "merge-tree",
            "--write-tree",
            &format!("--merge-base={parent}"),
            upstream,
            commit,
        ]))
        .await?;
    if !merged.ok {
        return Err(CommitError::RebaseConflict);
    }
    let tree = merged.text().lines().next().unwrap_or_default().to_string();
    // The syntax step of the proof, again, on what the rebase produced.
    let changed = git
        .git([
            "diff-tree",
            "--no-commit-id",
            "--name-only",
            "-r",
            parent,
            commit,
        ])
        .await?;
    for path in changed.lines().filter(|p| p.ends_with(".py")) {
        let Some(blob) = git.blob(&tree, path).await? else {
            continue;
        };
        let text = String::from_utf8_lossy(&git.cat(&blob).await?).into_owned();
        if let Some(problem) = crate::prove::syntax::first_problem(&text) {
            return Err(CommitError::RebaseBroke {
                file: path.to_string(),
                line: problem.line,
                what: problem.what,
            });
        }
    }
    let message = git.git(["show", "-s", "--format=%B", commit]).await?;
    land::commit_tree(git, cfg, &tree, upstream, &message).await
}

/// `git <args>` with the GitHub token offered through a one-command credential helper, when a
/// token is set and `remote` is an HTTPS URL on the GitHub host.
async fn with_credentials(
    git: &Git,
    cfg: &GitConfig,
    remote: &str,
    args: Vec<String>,
) -> Result<Cmd, GitError> {
    let url = git.git(["remote", "get-url", "--push", remote]).await?;
    let Some(token) = cfg
        .github_token
        .as_ref()
        .filter(|_| token_applies(&url, &cfg.github_api_url))
    else {
        return Ok(Cmd::new(args));
    };
    // An empty helper first clears the user's helpers for this command, so the token is
    // neither answered by nor stored into them.
    let mut full = vec![
        "-c".to_string(),
        "credential.helper=".to_string(),
        "-c".to_string(),
        "credential.helper=!f() { test \"$1\" = get || exit 0; echo username=x-access-token; echo \"password=$HEAL_GITHUB_TOKEN\"; }; f".to_string(),
    ];
    full.extend(args);
    Ok(Cmd::new(full).env("HEAL_GITHUB_TOKEN", token.clone()))
}

/// Whether the token may be sent to `url`: HTTPS (or plain HTTP to a loopback host, for local
/// stand-ins) on the host of the GitHub API (`api.github.com` → `github.com`).
pub fn token_applies(url: &str, api_url: &str) -> bool {
    let Some((scheme, host)) = scheme_host(url) else {
        return false;
    };
    let Some((_, api_host)) = scheme_host(api_url) else {
        return false;
    };
    let git_host = api_host.strip_prefix("api.").unwrap_or(&api_host);
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
    (scheme == "https" || (scheme == "http" && loopback)) && host == git_host
}

fn scheme_host(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next()?
    } else {
        host_port.split(':').next()?
    };
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_only_to_the_github_host_over_https() {
        let api = "https://api.github.com";
        assert!(token_applies("https://github.com/acme/app.git", api));
        assert!(token_applies("https://user@github.com/acme/app.git", api));
        assert!(!token_applies("http://github.com/acme/app.git", api));
        assert!(!token_applies("https://gitlab.com/acme/app.git", api));
        assert!(!token_applies("git@github.com:acme/app.git", api));
        assert!(!token_applies("https://github.com.evil.io/x.git", api));
        let ghe = "https://ghe.corp/api/v3";
        assert!(token_applies("https://ghe.corp/acme/app.git", ghe));
        let local = "http://127.0.0.1:9000";
        assert!(token_applies("http://127.0.0.1:9100/app.git", local));
    }

    #[test]
    fn push_outcomes_are_read_from_porcelain_output() {
        let ok = "To /r\n*\t0123:refs/heads/main\t[new branch]\nDone";
        assert!(matches!(classify(true, ok, ""), Attempt::Pushed));
        let stale = "To /r\n!\tabc:refs/heads/main\t[rejected] (fetch first)\nDone";
        assert!(matches!(classify(false, stale, ""), Attempt::Stale));
        let hook =
            "To /r\n!\tabc:refs/heads/main\t[remote rejected] (pre-receive hook declined)\nDone";
        assert!(matches!(classify(false, hook, ""), Attempt::Refused(_)));
        let down = classify(
            false,
            "",
            "fatal: unable to access 'https://x/': Could not resolve host: x",
        );
        assert!(matches!(down, Attempt::Failed(_)));
        // See: the push of a killed heal landing while the next one resumes it.
        let racing =
            "To /r\n!\tabc:refs/heads/main\t[remote rejected] (failed to update ref)\nDone";
        let why = "remote: error: cannot lock ref 'refs/heads/main': is at 4027 but expected 4649";
        assert!(matches!(classify(false, racing, why), Attempt::Failed(_)));
    }
}
