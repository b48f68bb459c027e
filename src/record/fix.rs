//! `fix`: the fix recorded for an incident, the last candidate (a rule's or a model's) with its
//! proof: each step, the baseline it was judged against, whether that proof was weaker than a
//! full one, and the backups once it was applied. Earlier candidates are kept beside it
//! ([`super::candidates`]).
//!
//! The field names are a promise to users (the seed's record files): add fields, never rename
//! them.

use serde::{Deserialize, Serialize};

use super::candidates::{CandidateRound, RefusedCandidate};
use crate::analyse::Edit;
use crate::prove::BaselineReport;

/// The `fix` part of a record.
///
/// Reading is tolerant: a field a record lacks takes its default, so a record written by an
/// older heal still reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Fix {
    /// Who proposed it: `llm:{provider}` or `rule:{rule}`.
    pub source: String,
    /// The instant rule that made it; a rule's fix only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The model's edits as it gave them (empty for a rule's fix, which is a whole new text).
    pub edits: Vec<Edit>,
    pub explanation: String,
    pub changes_summary: String,
    /// The round of model answers this fix came from (1 for a rule's).
    pub attempts: u32,
    /// The proof's steps, in order; empty when no proof ran.
    pub validation: Vec<ProofStep>,
    /// The fix as a unified diff; `null` when it could not be planned (its edits did not
    /// apply), so no diff exists.
    pub diff: Option<String>,
    /// Where the files it changed were kept before it was applied; empty until then.
    pub backups: Vec<FixBackup>,
    /// What the unchanged program did, which the fix was judged against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineReport>,
    /// Why the proof was weaker than a full one, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof_note: Option<String>,
    /// What confined the proof's commands, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// Earlier candidates of this healing that were refused, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusedCandidate>,
    /// The rounds in which further candidates were asked at once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<CandidateRound>,
}

/// One step of a fix's proof, as the record keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProofStep {
    /// The step's name (`syntax`, `rerun`, `tests`…). Kept as text, not as the prover's enum,
    /// so that a record naming a step this heal no longer has still reads.
    pub step: String,
    /// The command as a person would type it; empty when the step ran none.
    pub command: String,
    /// `null` when the command did not exit by itself (killed, timed out, or not started).
    pub exit: Option<i32>,
    pub passed: bool,
    /// What was judged, in words: for a failure, why.
    pub detail: String,
    pub output_tail: String,
    pub duration_ms: u64,
}

/// A file an applied fix changed, and where its previous text is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FixBackup {
    /// The file, relative to the project root.
    pub file: String,
    /// The backup's path. Text, not a path: a record is JSON, and a path that is not UTF-8 is
    /// kept as it displays.
    pub backup: String,
}
