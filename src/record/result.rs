//! `result`: how the latest healing of an incident ended, and what came after it: the crash
//! chain it was a link of, the instant rule that failed, what git did, a revert, a recovery after
//! heal was killed.
//!
//! The field names are a promise to users (the seed's record files): add fields, never rename
//! them. Each stage sets its own fields and leaves the others as they are: a later healing of
//! the same incident replaces `status` and `reason`, and keeps what it does not redo.

use serde::{Deserialize, Deserializer, Serialize};

use super::model::Status;

/// The `result` part of a record.
///
/// Reading is tolerant: a field a record lacks takes its default, so a record written by an
/// older heal still reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResultInfo {
    /// The record's status when this part last changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Set (and only ever `true`) when the finding is not a code bug: no later occurrence is
    /// sent to healing.
    #[serde(skip_serializing_if = "is_false")]
    pub not_a_code_bug: bool,
    /// The crash chain this incident was a link of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainNote>,
    /// The instant rule whose fix failed its proof (before the model was asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instant: Option<InstantNote>,
    /// What the commit stage did: its fields sit in `result` itself, all present once it ran.
    #[serde(flatten)]
    pub git: Option<GitResult>,
    /// The commit that reverted the fix: absent until the fix is reverted (on request, or
    /// after it regressed), then `null` when there was no commit to revert.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub revert_commit: Option<Option<String>>,
    /// What the start after a killed heal found and did; kept when the incident is healed
    /// again, so the record still tells what happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery: Option<String>,
    /// `heal serve`'s `serve.restart_command`, run after the fix was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartNote>,
}

impl ResultInfo {
    /// How a step ended the incident: its status and why.
    pub fn ended(&mut self, status: Status, reason: &str) {
        self.status = Some(status);
        self.reason = Some(reason.to_string());
    }
}

/// How `serve.restart_command` ended after a fix was applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartNote {
    pub command: String,
    /// When it started (RFC 3339).
    pub at: String,
    /// Its exit code; `null` when a signal ended it, or it did not start.
    pub exit_code: Option<i32>,
    /// Still running at `serve.restart_timeout_s`, then killed.
    pub timed_out: bool,
    pub duration_ms: u64,
    /// The last lines of its output (both streams), or why it did not start.
    pub output_tail: String,
}

impl RestartNote {
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

/// Where an incident stands in a crash chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChainNote {
    /// Every link's incident, in order.
    pub links: Vec<String>,
    /// This incident's place among them, from 1.
    pub position: usize,
    /// The link the chain stopped at, not fixed; `null` when every link was.
    pub stopped_at: Option<String>,
}

/// An instant rule's fix that did not pass its proof.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstantNote {
    pub rule: String,
    pub summary: String,
    pub passed: bool,
    pub failure: String,
}

/// What the commit stage did with an applied fix. `git_mode`, `pushed` and `git` are required
/// when reading: a `result` without them has no commit stage (`ResultInfo::git` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitResult {
    /// `off`, `commit`, `push`, `branch` or `pr`.
    pub git_mode: String,
    /// The fix commit (the one on the remote, when it was rebased before the push).
    pub commit: Option<String>,
    /// The commit the local branch holds, when it differs from `commit`.
    pub local_commit: Option<String>,
    pub branch: Option<String>,
    pub remote: Option<String>,
    pub pushed: bool,
    pub pr_url: Option<String>,
    /// One sentence for people: what happened in git, and why when something did not.
    pub git: String,
    /// The commit's page on the forge, when the remote has one.
    pub commit_url: Option<String>,
}

/// The text of `field`, unless it is absent or empty.
pub fn non_empty(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|s| !s.is_empty())
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A field that is present, even as `null`, reads as `Some`: `revert_commit: null` says a
/// revert happened without a commit, which an absent field does not.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}
