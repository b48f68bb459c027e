//! The incident record: the document kept in the store and exported as
//! `<storage>/errors/{id}.json`. Its field names are a promise to users (the seed's JSON files);
//! add fields, never rename them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where an incident stands. Serialized in snake_case (`detected`, `skipped`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Caught and recorded; nothing else done yet (or healing found nothing to do).
    Detected,
    /// Healing chose not to act; `reason` says why.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Detected => "detected",
            Status::Skipped => "skipped",
        }
    }

    /// An open incident absorbs repeats of its fingerprint as occurrences.
    pub fn is_open(self) -> bool {
        match self {
            Status::Detected | Status::Skipped => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub status: Status,
    /// Why the incident is in its status, for `skipped` (and later `failed`, `rejected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub fingerprint: String,
    pub occurrences: u64,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC: when the latest occurrence was seen.
    pub last_seen_at: String,
    pub error: ErrorInfo,
    pub context: Context,
    #[serde(default)]
    pub notifications: Vec<NotificationAttempt>,
    /// Slack thread of the incident (Web API mode), so later stages reply in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackThread>,
    /// Filled by the analysis stage (a later issue).
    #[serde(default)]
    pub analysis: Option<serde_json::Value>,
    /// Filled by the fix stage (a later issue).
    #[serde(default)]
    pub fix: Option<serde_json::Value>,
    /// Filled by the apply/commit stages (a later issue).
    #[serde(default)]
    pub result: Option<serde_json::Value>,
    /// Milliseconds spent per stage, by stage name.
    #[serde(default)]
    pub timings_ms: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorInfo {
    #[serde(rename = "type")]
    pub exc_type: String,
    pub message: String,
    /// The full traceback text (capped in size), or the tail of stderr for a crash without one.
    pub traceback: String,
    /// The reported exception's frames, outermost first.
    pub frames: Vec<FrameInfo>,
    /// Earlier exceptions of a chain and members of a group: `type: message` lines, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    /// Where the traceback came from, when Python said (`Exception in thread Worker-1:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameInfo {
    pub file: String,
    pub line: u32,
    pub function: String,
    pub code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// Function of the innermost frame in the project, when there is one.
    pub function: Option<String>,
    /// Dotted module of that frame (`engine.decision_engine`).
    pub module: Option<String>,
    /// Repo-relative path of that frame's file.
    pub file: Option<String>,
    pub line: Option<u32>,
    /// The supervised command, as given to `heal run`.
    pub command: Vec<String>,
    /// `--tag key=value` pairs.
    pub tags: BTreeMap<String, String>,
    /// How the child ended, when the incident is a crash; `None` for a traceback logged while
    /// the child kept running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

/// One attempt to deliver one message, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationAttempt {
    /// `slack_webhook` or `slack_api`.
    pub channel: String,
    /// `alert`, `stage`, `update`, `notice`.
    pub message: String,
    /// 1 for the first try.
    pub attempt: u32,
    /// RFC 3339, UTC.
    pub at: String,
    pub ok: bool,
    /// HTTP status when the peer answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// What went wrong, never containing the webhook URL or a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackThread {
    pub channel: String,
    pub ts: String,
}
