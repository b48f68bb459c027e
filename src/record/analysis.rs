//! `analysis`: what was understood of the error before a fix was sought. For a model's fix it is
//! the `report_fix` answer's own fields (plus the edit form it was asked in); for an instant
//! rule's fix, the same fields as the rule can tell them, and the rule that gave them.
//!
//! The field names are a promise to users (the seed's record files, the `report_fix`
//! contract): add fields, never rename them.

use serde::{Deserialize, Serialize};

use crate::analyse::{Category, Confidence};

/// The `analysis` part of a record.
///
/// Every `report_fix` field is always written. Reading is tolerant: a field a record lacks
/// takes its default, so a record written by an older heal still reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Analysis {
    pub fixable: bool,
    pub reason: String,
    pub error_category: Category,
    pub root_cause: String,
    pub affected_file: String,
    pub confidence: Confidence,
    pub explanation: String,
    pub changes_summary: String,
    /// The form the model was asked to answer in (`search_replace`, `function`, `file`); a
    /// model's analysis only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edit_form: Option<String>,
    /// Why the configured edit form was not used for this incident, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edit_form_note: Option<String>,
    /// Who analysed it, for an instant rule (`rule:did-you-mean`); a model's analysis leaves
    /// it to `fix.source`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Only for reading a record that lacks fields: the least a reader may assume (not fixable,
/// low confidence, category `other`).
impl Default for Analysis {
    fn default() -> Analysis {
        Analysis {
            fixable: false,
            reason: String::new(),
            error_category: Category::Other,
            root_cause: String::new(),
            affected_file: String::new(),
            confidence: Confidence::Low,
            explanation: String::new(),
            changes_summary: String::new(),
            edit_form: None,
            edit_form_note: None,
            source: None,
        }
    }
}
