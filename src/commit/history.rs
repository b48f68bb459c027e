//! `heal log`: the fix commits in the history, like the seed's
//! `git log --oneline | grep "Auto-fix"`, branches `heal/*` included.

use std::path::Path;

use super::CommitError;
use super::git::{Cmd, Git};
use super::message::{self, LogEntry};

/// The fix commits reachable from any local branch, newest first; `since` is passed to git
/// (`"1 day ago"`, `"2026-01-28"`).
pub async fn fix_commits(root: &Path, since: Option<&str>) -> Result<Vec<LogEntry>, CommitError> {
    let git = Git::open(root).await?.ok_or(CommitError::NotARepo)?;
    let mut args = vec![
        "log".to_string(),
        "--branches".to_string(),
        "--fixed-strings".to_string(),
        format!("--grep={}", message::SUBJECT_PREFIX),
        format!("--format={}", message::LOG_FORMAT),
    ];
    if let Some(since) = since {
        args.push(format!("--since={since}"));
    }
    let out = git.output(Cmd::new(args)).await?;
    if !out.ok {
        // A repository without commits has no history to show.
        return Ok(Vec::new());
    }
    Ok(message::parse_log(&String::from_utf8_lossy(&out.stdout)))
}

/// The table `heal log` prints.
pub fn render(entries: &[LogEntry]) -> String {
    if entries.is_empty() {
        return "no auto-fix commits\n".to_string();
    }
    let mut out = String::new();
    for e in entries {
        out.push_str(&format!(
            "{}  {}  {}  {}  {}\n",
            super::push::short(&e.hash),
            e.date,
            e.id,
            e.error_type,
            e.files
        ));
    }
    out
}
