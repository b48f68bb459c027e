//! The candidates of one healing beside the fix the record keeps: those refused (`fix.refused`)
//! and the rounds in which more were asked at once (`fix.candidates`). So the record shows every
//! candidate, not only the last.
//!
//! The field names are a promise to users (the seed's record files): add fields, never rename
//! them.

use serde::{Deserialize, Serialize};

/// A candidate that was refused: not applicable, out of the policy, or not proved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RefusedCandidate {
    /// The round of model answers it came from.
    pub attempt: u32,
    pub changes_summary: String,
    /// `null` when its edits could not be planned.
    pub diff: Option<String>,
    /// Why it was refused, as the model was told.
    pub failure: String,
}

/// One round's further candidates, each asked in a fresh conversation, and which was chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CandidateRound {
    pub round: u32,
    pub tried: Vec<TriedCandidate>,
    /// Which candidate was applied; `null` when none passed.
    pub chosen: Option<usize>,
}

/// One further candidate of a round (the round's first answer is number 1, so these start at
/// 2), and how its proof went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TriedCandidate {
    pub candidate: usize,
    pub passed: bool,
    /// Its diff, when it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// Why it did not pass, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl TriedCandidate {
    pub fn passed(candidate: usize, diff: String) -> TriedCandidate {
        TriedCandidate {
            candidate,
            passed: true,
            diff: Some(diff),
            failure: None,
        }
    }

    pub fn failed(candidate: usize, why: impl Into<String>) -> TriedCandidate {
        TriedCandidate {
            candidate,
            passed: false,
            diff: None,
            failure: Some(why.into()),
        }
    }
}
