//! The incident record: the document kept in the store and exported as
//! `<storage>/errors/{id}.json`. Its field names are a promise to users (the seed's JSON files);
//! add fields, never rename them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::analysis::Analysis;
pub use super::fix::Fix;
pub use super::result::ResultInfo;

/// Where an incident stands. Serialized in snake_case (`detected`, `skipped`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Caught and recorded; healing has not acted (yet).
    Detected,
    /// Healing is at work on it: analysis, proof or application.
    Healing,
    /// Healing chose not to act; `reason` says why.
    Skipped,
    /// Healing could not get a usable fix (the model failed or answered nothing usable).
    Failed,
    /// A fix was proposed and refused: out of scope, not applicable, or not proved.
    Rejected,
    /// A proved fix is in the live tree (and not committed: git is off, absent, or the commit
    /// could not be made; `reason` says which).
    Applied,
    /// The applied fix is committed, not pushed (`commit` mode, or the push failed).
    Committed,
    /// The applied fix is committed and pushed (and, in `pr` mode, proposed).
    Pushed,
    /// The fix was applied, the error came back, and the fix was rolled back.
    Regressed,
    /// The fix was undone on request (`heal revert`).
    Reverted,
    /// heal itself stopped (killed, power loss) while healing it; the next start finished or
    /// undid what was in flight, and `reason` says which. Healed again on its next occurrence.
    Interrupted,
}

impl Status {
    /// Every status, in the order of the enum.
    pub const ALL: [Status; 11] = [
        Status::Detected,
        Status::Healing,
        Status::Skipped,
        Status::Failed,
        Status::Rejected,
        Status::Applied,
        Status::Committed,
        Status::Pushed,
        Status::Regressed,
        Status::Reverted,
        Status::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Detected => "detected",
            Status::Healing => "healing",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
            Status::Rejected => "rejected",
            Status::Applied => "applied",
            Status::Committed => "committed",
            Status::Pushed => "pushed",
            Status::Regressed => "regressed",
            Status::Reverted => "reverted",
            Status::Interrupted => "interrupted",
        }
    }

    /// An open incident absorbs repeats of its fingerprint as occurrences. A fixed incident is
    /// closed: the same error after it is a new incident (or a regression, see the pipeline).
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Reverted) && !self.is_fixed()
    }

    /// A proved fix is in the live tree, committed or not.
    pub fn is_fixed(self) -> bool {
        matches!(self, Status::Applied | Status::Committed | Status::Pushed)
    }

    /// Healing may be tried (again) on a repeat of an incident in this status.
    pub fn may_heal(self) -> bool {
        matches!(
            self,
            Status::Detected
                | Status::Skipped
                | Status::Failed
                | Status::Rejected
                | Status::Interrupted
        )
    }
}

/// One host's share of an incident's occurrences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSeen {
    pub host: String,
    pub occurrences: u64,
    /// RFC 3339, UTC.
    pub first_seen_at: String,
    /// RFC 3339, UTC.
    pub last_seen_at: String,
}

/// An agent that followed a fix: pulled it and restarted its program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Followed {
    pub host: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// The commit the agent's checkout is at after the pull.
    pub commit: String,
    /// Whether its program was restarted on the fixed code.
    pub restarted: bool,
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
    /// With a fleet's store (PostgreSQL): each host that saw this error, and how often.
    /// Empty on a single host's store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostSeen>,
    /// With a fleet's store: the agents that pulled this incident's fix into their checkout
    /// and restarted their program on it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followed: Vec<Followed>,
    #[serde(default)]
    pub notifications: Vec<NotificationAttempt>,
    /// Slack thread of the incident (Web API mode), so later stages reply in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackThread>,
    /// What was understood of the error, by a rule or a model; `null` until then.
    #[serde(default)]
    pub analysis: Option<Analysis>,
    /// The fix sought, with its proof and earlier candidates; `null` until there is one.
    #[serde(default)]
    pub fix: Option<Fix>,
    /// How the latest healing ended and what came after; `null` until then.
    #[serde(default)]
    pub result: Option<ResultInfo>,
    /// Milliseconds spent per stage, by stage name.
    #[serde(default)]
    pub timings_ms: BTreeMap<String, u64>,
    /// What the model calls of the latest healing cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmUsage>,
    /// Healing attempts that ended without a fix in place (skipped by the model, failed,
    /// rejected, regressed): past `max_heal_failures`, healing stops until `heal retry`.
    #[serde(default)]
    pub heal_failures: u32,
}

/// The stages of [`Record::timings_ms`] in the order the pipeline runs them.
pub const TIMED_STAGES: &[&str] = &["analyse", "prove", "apply", "commit"];
/// The whole healing's time in [`Record::timings_ms`], from the incident taken for healing to
/// its verdict.
pub const TIMED_TOTAL: &str = "healing";

impl Record {
    /// Where the incident happened, for a log line: `file:line`, or "an unknown place".
    pub fn place(&self) -> String {
        self.context
            .file
            .as_ref()
            .map(|f| format!("{f}:{}", self.context.line.unwrap_or(0)))
            .unwrap_or_else(|| "an unknown place".to_string())
    }

    /// `timings_ms` in pipeline order ([`TIMED_STAGES`]), then any stage not named there (by
    /// name), then the whole healing ([`TIMED_TOTAL`]).
    pub fn timings_in_order(&self) -> Vec<(&str, u64)> {
        let mut timings: Vec<(&str, u64)> = self
            .timings_ms
            .iter()
            .map(|(stage, ms)| (stage.as_str(), *ms))
            .collect();
        // Stable: the map's name order stays among stages of one rank.
        timings.sort_by_key(|(stage, _)| {
            if *stage == TIMED_TOTAL {
                TIMED_STAGES.len() + 1
            } else {
                TIMED_STAGES
                    .iter()
                    .position(|s| s == stage)
                    .unwrap_or(TIMED_STAGES.len())
            }
        });
        timings
    }

    /// The `result` part, made (empty) when the record has none yet.
    pub fn result_mut(&mut self) -> &mut ResultInfo {
        self.result.get_or_insert_with(ResultInfo::default)
    }

    /// Removes secrets from everything the record holds: before it is written, and before any
    /// of it leaves for Slack.
    pub fn redact(&mut self, redactor: &crate::redact::Redactor) {
        let Ok(mut value) = serde_json::to_value(&*self) else {
            return;
        };
        redactor.redact_json(&mut value);
        if let Ok(clean) = serde_json::from_value(value) {
            *self = clean;
        }
    }
}

/// The cost of the model calls of one healing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmUsage {
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_ms: u64,
    /// Each call, in order.
    pub calls: Vec<LlmCall>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCall {
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_ms: u64,
    /// HTTP requests this call took, retries included.
    pub attempts: u32,
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
    /// The output stream it was printed on: `stdout` or `stderr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// What an error-tracking SDK (`sentry_sdk`) reported with the error, when it came that
    /// way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<SdkReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameInfo {
    pub file: String,
    pub line: u32,
    pub function: String,
    pub code: Option<String>,
    /// The frame's local variables as the SDK rendered them (bounded, and redacted like the
    /// rest of the record): data from the program, never instructions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
    /// Whether the SDK counted the frame as the application's own code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_app: Option<bool>,
}

/// An error as an SDK reported it: what a printed traceback does not say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SdkReport {
    /// The SDK's id of the event (32 hex digits).
    pub event_id: String,
    /// `false` for an exception that went uncaught, `true` for one the program caught and
    /// reported (`capture_exception`); absent when the SDK did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The user the event names, by id or name only: never an email or an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
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
    /// The incident whose fix's proof reached this error (the next link of a crash chain):
    /// seen in a proof copy, not yet in the live program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_in_proof: Option<String>,
    /// The failing test, when the supervised command is a test run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestRef>,
}

/// A failing test of a test run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestRef {
    /// pytest's node id, or unittest's dotted id; for a collection error, the test module.
    pub id: String,
    /// `call`, `setup`, `teardown` or `collect`.
    pub phase: String,
    /// The test file, relative to the project root, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// How the context (the code under test) was found, when not from the traceback's own
    /// frames: a failure raised in the test itself points at the function it calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub located_by: Option<String>,
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
